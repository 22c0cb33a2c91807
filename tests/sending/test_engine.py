"""The sending engine against a real SMTP server on loopback (R-SEND-1..9, R-DATA-4)."""

import datetime as dt
import time
from email.header import decode_header, make_header
from email.utils import parseaddr

import pytest
from django.utils import timezone

from backend.mailings import selectors
from backend.mailings.compose import SendResult
from backend.mailings.models import (
    BreakerState,
    Client,
    Delivery,
    DeliveryAttempt,
    Mailing,
    Occurrence,
    Unsubscription,
)
from backend.mailings.scheduling import materialise, reschedule
from backend.mailings.sending import occurrences, send_due
from backend.mailings.sending.occurrences import finish, start_due
from backend.mailings.sending.summary import PassSummary
from backend.mailings.sending.worker import Workers
from backend.mailings.services import client_unsubscribe, mailing_send_now
from tests.factories import ClientFactory, MessageFactory, UserFactory
from tests.fakes.smtp import GarbageServer, closed_port
from tests.sending_helpers import due_mailing

pytestmark = pytest.mark.django_db


def statuses(mailing) -> dict[str, int]:
    result: dict[str, int] = {}
    for status in mailing.deliveries.values_list("status", flat=True):
        result[status] = result.get(status, 0) + 1
    return result


# --- the happy path -----------------------------------------------------------------


def test_due_mailing_is_sent_to_every_client_once_and_logged(smtp):
    """R-SEND-1, R-SEND-4, R-DATA-4: one message per client; each attempt logged with the server's answer."""
    mailing = due_mailing(clients=3)
    summary = send_due()
    assert (summary.occurrences, summary.queued, summary.sent, summary.errors) == (1, 3, 3, [])
    assert sorted(smtp.recipients()) == sorted(mailing.clients.values_list("email", flat=True))
    for delivery in mailing.deliveries.all():
        assert (delivery.status, delivery.attempts) == ("sent", 1)
        assert delivery.sent_at and delivery.last_attempt_at
        assert delivery.last_response.startswith("250 2.0.0 Ok: queued as")
        attempt = delivery.attempt_log.get()
        assert (attempt.outcome, attempt.smtp_code) == ("sent", 250)
    mailing.refresh_from_db()
    assert mailing.status == Mailing.Status.COMPLETED  # once: nothing left, every delivery final
    assert Occurrence.objects.get().finished_at is not None


def test_an_address_in_the_invalid_domain_is_skipped_before_smtp_R_SEND_4(smtp):
    """R-SEND-4, R-DATA-4: `.invalid` (RFC 2606) never receives mail, so such a delivery is logged "skipped"
    with the reason and no SMTP server sees it; other addresses of the same mailing go out, and `example.org`
    (which the test suite itself sends to) is not refused."""
    mailing = due_mailing(clients=1)
    ClientFactory(owner=mailing.owner, email="anna@demo.INVALID")
    ClientFactory(owner=mailing.owner, email="boris@invalid")
    mailing.clients.add(*mailing.owner.clients.exclude(pk__in=mailing.clients.values("pk")))
    summary = send_due()
    assert (summary.sent, summary.errors) == (1, [])
    assert smtp.recipients() == list(
        mailing.clients.exclude(email__iendswith="invalid").values_list("email", flat=True)
    )
    skipped = mailing.deliveries.filter(status="skipped")
    assert sorted(skipped.values_list("email", flat=True)) == ["anna@demo.INVALID", "boris@invalid"]
    for delivery in skipped:
        assert delivery.last_response == "not sent: the .invalid domain never receives mail (RFC 2606)"
        assert delivery.next_attempt_at is None and not delivery.attempt_log.exists()
    mailing.refresh_from_db()
    assert mailing.status == Mailing.Status.COMPLETED


def test_a_second_pass_sends_nothing_again(smtp):
    """R-SEND-7: passes are idempotent."""
    due_mailing(clients=2, periodicity="daily")
    send_due()
    summary = send_due()
    assert (summary.occurrences, summary.sent) == (0, 0)
    assert len(smtp.received) == 2


def test_future_start_waits_then_starts_by_itself(smtp):
    """R-SEND-2."""
    mailing = due_mailing(clients=1, start_at=timezone.now() + dt.timedelta(seconds=1.5))
    assert send_due().sent == 0
    assert not smtp.received
    time.sleep(1.6)
    assert send_due().sent == 1
    mailing.refresh_from_db()
    assert mailing.status == Mailing.Status.COMPLETED


def test_periodic_mailing_repeats_then_completes(smtp):
    """R-SEND-3: daily occurrences until the end, one delivery per client per occurrence, then completed."""
    now = timezone.now()
    mailing = due_mailing(
        clients=2,
        periodicity="daily",
        start_at=now - dt.timedelta(days=2, minutes=1),
        end_at=now + dt.timedelta(days=1, hours=12),
    )
    send_due(now=now)
    mailing.refresh_from_db()
    assert mailing.status == Mailing.Status.STARTED
    today = mailing.start_at + dt.timedelta(days=2)
    assert mailing.next_run_at == today + dt.timedelta(days=1)
    assert list(Occurrence.objects.values_list("scheduled_for", flat=True)) == [today]  # no backlog

    send_due(now=now + dt.timedelta(days=1))
    send_due(now=now + dt.timedelta(days=2))  # past the end: nothing new
    mailing.refresh_from_db()
    assert Occurrence.objects.count() == 2
    assert len(smtp.received) == 4
    assert mailing.next_run_at is None
    assert mailing.status == Mailing.Status.COMPLETED


def test_a_client_added_mid_period_gets_the_next_occurrence_and_nothing_goes_backwards(smtp):
    """Rescheduling after an edit never returns to an occurrence already started, so the
    newcomer waits for the next one and nobody gets the current one twice."""

    now = timezone.now()
    mailing = due_mailing(clients=1, periodicity="weekly", start_at=now - dt.timedelta(minutes=1))
    first = mailing.clients.get()
    send_due(now=now)
    newcomer = ClientFactory(owner=mailing.owner)
    mailing.clients.add(newcomer)
    reschedule(mailing, now=now)
    assert send_due(now=now).sent == 0
    next_week = now + dt.timedelta(days=7)
    assert send_due(now=next_week).sent == 2
    assert sorted(smtp.recipients()) == sorted([first.email, first.email, newcomer.email])


# --- what is never sent (R-SEND-8) ----------------------------------------------------


def test_unsubscribed_clients_disabled_mailings_and_blocked_owners_are_never_sent_to(smtp):
    kept = due_mailing(clients=2)
    gone = kept.clients.first()
    gone.unsubscribed_at = timezone.now()
    gone.save()
    due_mailing(clients=2, is_active=False)
    blocked = UserFactory(is_blocked=True)
    due_mailing(clients=2, owner=blocked)
    send_due()
    assert smtp.recipients() == [kept.clients.exclude(pk=gone.pk).get().email]


def test_client_who_unsubscribes_after_the_occurrence_started_is_skipped(smtp, settings):
    mailing = due_mailing(clients=2)
    start_occurrences()
    leaving = mailing.clients.first()
    leaving.unsubscribed_at = timezone.now()
    leaving.save()
    summary = send_due()
    assert (summary.sent, summary.skipped) == (1, 1)
    assert mailing.deliveries.get(client=leaving).status == Delivery.Status.SKIPPED
    assert leaving.email not in smtp.recipients()


def start_occurrences() -> None:
    """Step 1 of a pass alone: occurrences and deliveries exist, nothing is sent yet."""

    start_due(timezone.now(), PassSummary())


def test_a_client_moved_to_another_owner_is_not_sent_the_first_owners_mailing(smtp):
    """R-SEND-8: materialising picks only clients of the mailing's own owner."""
    mailing = due_mailing(clients=2)
    moved, kept = mailing.clients.all()
    moved.owner = UserFactory(is_superuser=False)  # a superuser moved it to another owner's list
    moved.save()
    summary = send_due()
    assert (summary.queued, summary.sent) == (1, 1)
    assert smtp.recipients() == [kept.email]


def test_a_client_moved_to_another_owner_after_the_occurrence_started_is_skipped(smtp):
    """The claim applies the same rule as materialising (`selectors.recipients_of`)."""
    mailing = due_mailing(clients=2)
    start_occurrences()
    moved, kept = mailing.clients.all()
    moved.owner = UserFactory()
    moved.save()
    summary = send_due()
    assert (summary.sent, summary.skipped) == (1, 1)
    assert smtp.recipients() == [kept.email]
    assert mailing.deliveries.get(client=moved).status == Delivery.Status.SKIPPED


def test_an_address_that_unsubscribed_was_deleted_and_re_added_is_skipped_at_materialise_and_claim(smtp):
    """R-SEND-8: the per-owner unsubscribe list outlives the client row, at both steps."""

    mailing = due_mailing(clients=2, periodicity="weekly")
    start_occurrences()
    leaving, staying = mailing.clients.all()
    client_unsubscribe(client=leaving)
    leaving.delete()
    # Re-added by a path that does not carry the unsubscribe over (the ORM, an import): row subscribed.
    again = ClientFactory(owner=mailing.owner, email=leaving.email.upper())
    mailing.clients.add(again)
    occurrence = Occurrence.objects.get(mailing=mailing)
    assert materialise(occurrence, timezone.now()) == 2  # materialise: the re-added row gets no delivery
    summary = send_due()
    assert (summary.sent, summary.skipped) == (1, 1)  # claim: the deleted row's delivery is skipped
    assert smtp.recipients() == [staying.email]


def test_a_delivery_whose_address_is_on_the_owners_unsubscribe_list_is_skipped_at_claim(smtp):
    """The claim checks the per-owner Unsubscription table, not only the row's flag (which a
    superuser's edit or an import may have cleared since the occurrence started)."""

    mailing = due_mailing(clients=2)
    start_occurrences()
    leaving, staying = mailing.clients.all()
    client_unsubscribe(client=leaving)
    Client.objects.filter(pk=leaving.pk).update(unsubscribed_at=None)
    summary = send_due()
    assert (summary.sent, summary.skipped) == (1, 1)
    assert smtp.recipients() == [staying.email]
    assert mailing.deliveries.get(client=leaving).status == Delivery.Status.SKIPPED


def queue_now(mailing, how: str) -> None:
    """Deliveries queued and nothing sent yet: by a started occurrence, or by the owner's "send now"."""

    if how == "started":
        start_occurrences()
    else:
        mailing_send_now(actor=mailing.owner, mailing=mailing)
    assert mailing.deliveries.filter(status=Delivery.Status.PENDING).exists()


@pytest.mark.parametrize("how", ["started", "send now"])
def test_a_client_whose_email_changed_after_queueing_is_sent_to_the_new_address(smtp, how):
    """R-SEND-8: the claim judges the client's current row, so it sends to the current
    address too, and the delivery log shows the address the message really went to."""
    # "Send now" of a mailing whose schedule starts tomorrow: the pass sends the manual occurrence only.
    later = {} if how == "started" else {"start_at": timezone.now() + dt.timedelta(days=1)}
    mailing = due_mailing(clients=0, **later)
    client = ClientFactory(owner=mailing.owner, email="old@example.org")
    mailing.clients.add(client)
    queue_now(mailing, how)
    client.email = "new@example.org"
    client.save()
    summary = send_due()
    assert (summary.sent, summary.skipped, summary.errors) == (1, 0, [])
    assert smtp.recipients() == ["new@example.org"]
    assert smtp.received[0].message["To"].endswith("<new@example.org>")
    delivery = mailing.deliveries.get(client=client)
    assert (delivery.status, delivery.email) == (Delivery.Status.SENT, "new@example.org")


def test_an_old_address_that_unsubscribed_since_the_email_changed_is_not_mailed(smtp):
    """After the owner corrected a client's address, the old one (which later unsubscribed
    from this owner as another client) gets nothing; the corrected address gets the message."""

    mailing = due_mailing(clients=0)
    client = ClientFactory(owner=mailing.owner, email="old@example.org")
    mailing.clients.add(client)
    start_occurrences()
    client.email = "new@example.org"
    client.save()
    client_unsubscribe(client=ClientFactory(owner=mailing.owner, email="old@example.org"))
    summary = send_due()
    assert (summary.sent, summary.skipped) == (1, 0)
    assert smtp.recipients() == ["new@example.org"]


def test_an_address_changed_to_one_on_the_owners_unsubscribe_list_is_skipped(smtp):
    """The claim judges the client's current address against the per-owner list."""

    mailing = due_mailing(clients=2)
    start_occurrences()
    changed, staying = mailing.clients.all()
    Unsubscription.objects.create(owner=mailing.owner, email="gone@example.org")
    changed.email = "Gone@example.org"
    changed.save()
    summary = send_due()
    assert (summary.sent, summary.skipped) == (1, 1)
    assert smtp.recipients() == [staying.email]
    assert mailing.deliveries.get(client=changed).status == Delivery.Status.SKIPPED


def test_an_edit_between_the_claims_two_reads_cannot_send_to_the_address_read_first(smtp, monkeypatch):
    """Found in review: the claim read the client's address in its locking query and judged it
    in a later one; on PostgreSQL an edit in between let the job send to the first address (here one on the
    owner's unsubscribe list) after the rule had judged the second. The address sent to is the one judged."""

    mailing = due_mailing(clients=1)
    start_occurrences()
    client = mailing.clients.get()
    Unsubscription.objects.create(owner=mailing.owner, email="gone@example.org")
    Client.objects.filter(pk=client.pk).update(email="gone@example.org")
    real = selectors.recipients_of

    def edited_meanwhile(of):
        Client.objects.filter(pk=client.pk).update(email="fixed@example.org")
        return real(of)

    monkeypatch.setattr(selectors, "recipients_of", edited_meanwhile)
    send_due()
    assert smtp.recipients() == ["fixed@example.org"]
    assert mailing.deliveries.get().email == "fixed@example.org"


def test_blocked_owner_resumes_after_unblocking(smtp):
    owner = UserFactory()
    mailing = due_mailing(clients=1, owner=owner)
    owner.is_blocked = True
    owner.save()
    send_due()
    assert not smtp.received
    owner.is_blocked = False
    owner.save()
    send_due()
    assert smtp.recipients() == [mailing.clients.get().email]


# --- failures (R-SEND-5) --------------------------------------------------------------


def test_permanent_550_is_final_at_once_and_others_still_go(smtp):
    mailing = due_mailing(clients=3)
    bad = mailing.clients.first()
    smtp.set(reject={bad.email.lower()})
    summary = send_due()
    assert (summary.sent, summary.failed) == (2, 1)
    delivery = mailing.deliveries.get(client=bad)
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("failed", 1, None)
    assert delivery.last_response.startswith("550 5.1.1")
    attempt = delivery.attempt_log.get()
    assert (attempt.outcome, attempt.smtp_code) == ("permanent", 550)
    assert send_due().sent == 0  # no retry


def test_temporary_451_is_retried_with_backoff_then_fails_after_max_attempts(smtp, settings):
    settings.MAILER_MAX_ATTEMPTS = 3
    settings.MAILER_RETRY_BASE_SECONDS = 60
    mailing = due_mailing(clients=1)
    smtp.set(mode="tempfail_451")
    before = timezone.now()
    assert send_due().retrying == 1
    delivery = mailing.deliveries.get()
    assert delivery.status == "retrying"
    # 60 s +- 20 % jitter
    assert (
        before + dt.timedelta(seconds=47)
        < delivery.next_attempt_at
        < timezone.now() + dt.timedelta(seconds=73)
    )
    assert send_due().retrying == 0  # not due yet: nothing is hammered

    later = timezone.now() + dt.timedelta(minutes=2)
    assert send_due(now=later).retrying == 1
    delivery.refresh_from_db()
    second_delay = (delivery.next_attempt_at - delivery.last_attempt_at).total_seconds()
    assert 95 < second_delay < 145  # doubled
    assert send_due(now=later + dt.timedelta(minutes=5)).failed == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", 3)
    assert list(delivery.attempt_log.values_list("outcome", "smtp_code")) == [("temporary", 451)] * 3


def test_fail_first_then_accept(smtp):
    mailing = due_mailing(clients=3)
    smtp.set(fail_first=2)
    first = send_due()
    assert (first.sent, first.retrying) == (1, 2)
    second = send_due()
    assert second.sent == 2
    assert statuses(mailing) == {"sent": 3}
    assert len(smtp.received) == 3


def test_slow_server_times_out_and_is_retried(smtp, settings):
    settings.EMAIL_TIMEOUT = 0.5
    mailing = due_mailing(clients=1)
    smtp.set(mode="slow", delay=1.5)
    started = time.monotonic()
    summary = send_due()
    assert time.monotonic() - started < 5
    assert summary.retrying == 1
    assert "timed out after 0.5 s" in mailing.deliveries.get().last_response
    smtp.set(mode="accept")
    assert send_due().sent == 1


def test_connection_dropped_mid_data_is_temporary(smtp):
    mailing = due_mailing(clients=1)
    smtp.set(mode="drop")
    assert send_due().retrying == 1
    attempt = DeliveryAttempt.objects.get()
    assert attempt.outcome == "temporary"
    assert "connection lost" in attempt.response or "Error" in attempt.response
    smtp.set(mode="accept")
    assert send_due().sent == 1
    assert mailing.deliveries.get().attempts == 2


def test_421_closing_channel_is_temporary(smtp):
    mailing = due_mailing(clients=1)
    smtp.set(mode="tempfail_421")
    assert send_due().retrying == 1
    assert mailing.deliveries.get().last_response.startswith("421")


def test_garbage_replies_are_temporary_and_trip_the_breaker(smtp, settings):

    mailing = due_mailing(clients=5)
    with GarbageServer() as garbage:
        settings.EMAIL_PORT = garbage.port
        summary = send_due()
    assert summary.retrying == 3  # threshold 3: the rest were not even tried
    assert "3 connection failures in a row" in summary.breaker
    assert statuses(mailing) == {"retrying": 3, "pending": 2}
    assert all(a.outcome == "temporary" for a in DeliveryAttempt.objects.all())


def test_server_down_opens_the_breaker_and_the_next_pass_waits(smtp, settings):
    """A refused connection is temporary; after the threshold the pass stops, records why, never raises,
    and the following passes leave the server alone until the cooldown ends."""

    settings.EMAIL_PORT = closed_port()
    mailing = due_mailing(clients=6)
    summary = send_due()
    assert summary.errors == []
    assert summary.retrying == 3
    assert "Connection refused" in summary.breaker or "ConnectionRefusedError" in summary.breaker
    untried = mailing.deliveries.filter(attempts=0)
    assert untried.count() == 3
    assert all(d.next_attempt_at > timezone.now() + dt.timedelta(seconds=50) for d in untried)

    again = send_due()
    assert again.retrying == 0 and "left alone until" in again.breaker
    assert DeliveryAttempt.objects.count() == 3

    BreakerState.objects.update(open_until=timezone.now())  # the cooldown is over and the server is back
    settings.EMAIL_PORT = smtp.port
    assert send_due(now=timezone.now() + dt.timedelta(minutes=2)).sent == 6


def test_one_broken_mailing_does_not_stop_the_others(smtp, monkeypatch):

    good = due_mailing(clients=1)
    broken = due_mailing(clients=1)
    original = occurrences.materialise

    def fail_for_broken(occurrence, now):
        if occurrence.mailing_id == broken.pk:
            raise RuntimeError("simulated bug")
        return original(occurrence, now)

    monkeypatch.setattr(occurrences, "materialise", fail_for_broken)
    summary = send_due()
    assert summary.sent == 1
    assert smtp.recipients() == [good.clients.get().email]
    assert any("simulated bug" in error for error in summary.errors)
    broken.refresh_from_db()
    assert broken.next_run_at is not None  # untouched, tried again next pass
    assert not Occurrence.objects.filter(mailing=broken).exists()


# --- the message itself (R-SEND-9, personalisation) ------------------------------------


def test_message_is_personalised_and_carries_unsubscribe_link_and_headers(smtp):
    owner = UserFactory()
    message = MessageFactory(
        owner=owner,
        subject="Привет, {first_name}!",
        body="Здравствуйте, {full_name} ({email}). {{literal}}",
        html_body="<p>Hi <b>{full_name}</b></p>",
    )
    mailing = due_mailing(clients=0, owner=owner, message=message)
    client = ClientFactory(owner=owner, full_name="Анна <Smith>", email="anna@example.org")
    mailing.clients.add(client)
    send_due()
    received = smtp.received[0].message
    assert str(make_header(decode_header(received["Subject"]))) == "Привет, Анна!"
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = received["List-Unsubscribe"].strip("<>")
    assert url.startswith("https://mailer.example.com/unsubscribe/")
    assert client.unsubscribe_token in url
    plain, html = (part.get_payload(decode=True).decode() for part in received.get_payload())
    assert "Здравствуйте, Анна <Smith> (anna@example.org). {literal}" in plain
    assert url in plain
    assert "<b>Анна &lt;Smith&gt;</b>" in html
    assert f'href="{url}"' in html
    assert received["Message-ID"]


def test_a_line_break_in_a_name_cannot_inject_headers(smtp):
    mailing = due_mailing(clients=0, message=MessageFactory(subject="Hi {full_name}"))
    client = ClientFactory(owner=mailing.owner, full_name="Eve\r\nBcc: victim@example.org")
    mailing.clients.add(client)
    send_due()
    received = smtp.received[0]
    assert received.rcpt_tos == [client.email]
    assert received.message["Bcc"] is None
    assert received.message["Subject"] == "Hi Eve Bcc: victim@example.org"


def test_without_email_host_the_django_backend_is_used(settings, mailoutbox):
    settings.EMAIL_HOST = ""
    settings.MAILER_SEND_WORKERS = 1
    mailing = due_mailing(clients=2)
    summary = send_due()
    assert summary.sent == 2

    sent_to = sorted(parseaddr(m.to[0])[1] for m in mailoutbox)
    assert sent_to == sorted(mailing.clients.values_list("email", flat=True))
    assert mailoutbox[0].extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    delivery = mailing.deliveries.first()
    assert "locmem" in delivery.last_response
    assert delivery.attempt_log.get().outcome == "sent"


def test_rate_limit_spaces_the_sends(smtp, settings):
    settings.MAILER_RATE_LIMIT = 10
    due_mailing(clients=6)
    started = time.monotonic()
    assert send_due().sent == 6
    assert time.monotonic() - started >= 0.45  # 6 sends at 10/s: at least 5 gaps of 0.1 s


def test_a_refused_sender_address_fails_no_recipient_for_good(smtp):
    """Found in review: a 5xx to MAIL FROM is about us, not the recipients: temporary; the breaker trips."""
    mailing = due_mailing(clients=5)
    smtp.set(mode="reject_sender")
    summary = send_due()
    assert summary.failed == 0
    assert summary.retrying == 3 and "3 connection failures in a row" in summary.breaker
    assert set(mailing.deliveries.values_list("status", flat=True)) == {"retrying", "pending"}
    assert DeliveryAttempt.objects.first().smtp_code == 553
    mailing.refresh_from_db()
    assert mailing.status != Mailing.Status.COMPLETED


def test_raw_sql_stores_dates_as_the_orm_does(smtp):
    """Found in review: on SQLite a raw datetime parameter was stored with '+00:00', which compares wrongly
    with the ORM's format; a pass given an explicit `now` must send what it has just queued."""
    now = timezone.now()
    mailing = due_mailing(clients=2, start_at=now - dt.timedelta(minutes=1))
    assert send_due(now=now).sent == 2
    delivery = mailing.deliveries.first()
    assert delivery.sent_at is not None and abs(delivery.sent_at - timezone.now()) < dt.timedelta(minutes=1)


def test_a_worker_whose_lease_ran_out_neither_sends_on_nor_records_over_the_new_holder(smtp):
    """Found in review (R-SEND-7): a stalled worker must not renew or record deliveries another pass took."""

    mailing = due_mailing(clients=3)
    start_due(timezone.now(), PassSummary())
    stalled = Workers(PassSummary())
    jobs = stalled.claim()
    assert len(jobs) == 3
    # The stalled worker's lease ends; another pass takes the same deliveries.
    Delivery.objects.update(next_attempt_at=timezone.now() - dt.timedelta(seconds=1))
    other = Workers(PassSummary())
    taken = other.claim()
    assert {job.pk for job in taken} == {job.pk for job in jobs}

    assert stalled.renew(jobs[1:]) == []  # not ours any more: dropped unsent
    stalled.record(jobs[0], SendResult("sent", 250, "late"))
    assert stalled.summary.sent == 0
    assert not DeliveryAttempt.objects.exists()
    assert mailing.deliveries.get(pk=jobs[0].pk).status == "pending"

    other.record(taken[0], SendResult("sent", 250, "ok"))
    assert mailing.deliveries.get(pk=taken[0].pk).status == "sent"
    assert DeliveryAttempt.objects.count() == 1


def test_an_occurrence_marked_finished_while_deliveries_were_added_is_reopened(smtp):
    """Found in review: with two schedulers, `finish` could close an occurrence another pass was filling."""

    mailing = due_mailing(clients=1, periodicity="weekly")
    send_due()
    occurrence = Occurrence.objects.get()
    assert occurrence.finished_at is not None
    late = ClientFactory(owner=mailing.owner)
    mailing.clients.add(late)  # a recipient: the claim skips a delivery whose client is not (R-SEND-8)
    Delivery.objects.create(
        mailing=mailing, occurrence=occurrence, client=late, email=late.email, next_attempt_at=timezone.now()
    )
    finish(PassSummary())
    occurrence.refresh_from_db()
    assert occurrence.finished_at is None
    assert send_due().sent == 1
    assert late.email in smtp.recipients()
