"""Recording bounces and acting on them (R-DLV-3, R-DLV-4): stored once, matched only by the return path,
hard bounces suppress the client through the one recipient rule, soft ones count, complaints unsubscribe,
a reactivated client is not marked again by a late bounce, raw mails are emptied after BOUNCE_RAW_DAYS."""

import datetime as dt

import pytest
from django.utils import timezone

from backend.mailings import selectors, services
from backend.mailings.bounces import record
from backend.mailings.models import Bounce, Client, Delivery, Occurrence, Unsubscription
from backend.mailings.retention import purge_bounce_raw
from backend.mailings.sending import send_due
from backend.mailings.sending.occurrences import start_due
from backend.mailings.sending.queue import claim
from backend.mailings.sending.summary import PassSummary
from tests.deliverability import bounce_samples as samples
from tests.deliverability.bounce_helpers import BOUNCE_DOMAIN, bounce_domain, return_path, sent_deliveries  # noqa: F401
from tests.factories import ClientFactory
from tests.sending_helpers import due_mailing

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("bounce_domain")]


def test_a_hard_bounce_marks_the_client_and_the_delivery_and_the_next_occurrence_skips_it(smtp):
    """R-DLV-3, the whole way: sent, bounced after acceptance, not sent to at the next occurrence."""
    gone, kept = sent_deliveries(clients=2, periodicity="daily")
    bounce = record(samples.postfix_dsn(return_path(gone), gone.email), source=Bounce.Source.SMTP)
    assert (bounce.kind, bounce.owner_id, bounce.client_id, bounce.delivery_id) == (
        "hard",
        gone.mailing.owner_id,
        gone.client_id,
        gone.pk,
    )
    assert (bounce.email, bounce.status_code) == (gone.email, "5.1.1")
    gone.refresh_from_db()
    assert gone.bounced_at is not None and gone.summary == "bounced after acceptance"
    assert Client.objects.get(pk=gone.client_id).bounced_at is not None
    kept.refresh_from_db()
    assert kept.bounced_at is None and Client.objects.get(pk=kept.client_id).bounced_at is None
    # The next day's occurrence goes to the other client only.
    smtp.received.clear()
    mailing = gone.mailing
    mailing.refresh_from_db()
    mailing.next_run_at = timezone.now() - dt.timedelta(seconds=1)
    mailing.save(update_fields=["next_run_at"])
    send_due()
    assert smtp.recipients() == [kept.email]


def test_a_bounce_arriving_before_the_send_is_recorded_still_marks_the_delivery(smtp):
    """A fast server's report can overtake the engine's write of the send (R-DLV-3): the delivery, still
    pending, is marked, and recording the send afterwards keeps the mark."""
    gone, _kept = sent_deliveries(clients=2)
    Delivery.objects.filter(pk=gone.pk).update(
        status=Delivery.Status.PENDING, sent_at=None, claim_token="0" * 32
    )
    record(samples.postfix_dsn(return_path(gone), gone.email), source=Bounce.Source.SMTP)
    gone.refresh_from_db()
    assert gone.bounced_at is not None
    assert Client.objects.get(pk=gone.client_id).bounced_at is not None
    Delivery.objects.filter(pk=gone.pk).update(status=Delivery.Status.SENT, sent_at=timezone.now())
    gone.refresh_from_db()
    assert gone.bounced_at is not None and gone.summary == "bounced after acceptance"


@pytest.mark.parametrize(
    "status",
    [Delivery.Status.FAILED, Delivery.Status.SKIPPED, Delivery.Status.PENDING, Delivery.Status.RETRYING],
)
def test_a_bounce_about_a_delivery_not_accepted_nor_in_flight_does_not_mark_it(smtp, status):
    """Failed, skipped, or waiting with no sender holding it: no server has it to report on."""
    gone, _kept = sent_deliveries(clients=2)
    Delivery.objects.filter(pk=gone.pk).update(status=status, claim_token="")
    record(samples.postfix_dsn(return_path(gone), gone.email), source=Bounce.Source.SMTP)
    gone.refresh_from_db()
    assert gone.bounced_at is None


def test_a_bounce_mark_about_an_old_address_goes_when_the_send_takes_the_new_one(smtp):
    """A mark made while a send was in flight to the old address does not follow the delivery to the
    address the owner corrected meanwhile: the next claim takes the new address and clears it."""
    gone, _kept = sent_deliveries(clients=2, periodicity="daily")
    # The send to the old address in flight, its occurrence not finished.
    Delivery.objects.filter(pk=gone.pk).update(
        status=Delivery.Status.RETRYING, sent_at=None, claim_token="0" * 32
    )
    Occurrence.objects.filter(pk=gone.occurrence_id).update(finished_at=None, sent_total=None)
    record(samples.postfix_dsn(return_path(gone), gone.email), source=Bounce.Source.SMTP)
    assert Delivery.objects.get(pk=gone.pk).bounced_at is not None
    Client.objects.filter(pk=gone.client_id).update(email="new@example.org", bounced_at=None)
    now = timezone.now()
    Delivery.objects.filter(pk=gone.pk).update(next_attempt_at=now - dt.timedelta(seconds=1), claim_token="")
    claimed = claim(now=now, occurrence_ids=None, batch=10, lease_until=now + dt.timedelta(minutes=1))
    assert [job.email for job in claimed.jobs] == ["new@example.org"]
    delivery = Delivery.objects.get(pk=gone.pk)
    assert (delivery.email, delivery.bounced_at) == ("new@example.org", None)


def test_a_client_bounced_between_materialise_and_send_is_skipped(smtp):
    """The engine's last check before sending is the same rule (`recipients_of` in the claim)."""
    mailing = due_mailing(clients=2)
    start_due(timezone.now(), PassSummary())
    leaving = mailing.clients.order_by("pk").first()
    Client.objects.filter(pk=leaving.pk).update(bounced_at=timezone.now())
    summary = send_due()
    assert (summary.sent, summary.skipped) == (1, 1)
    assert mailing.deliveries.get(client=leaving).status == Delivery.Status.SKIPPED
    assert leaving.email not in smtp.recipients()


def test_the_recipient_rule_excludes_bounced_clients_everywhere():
    kept = ClientFactory()
    bounced = ClientFactory(owner=kept.owner, bounced_at=timezone.now())
    mailing = due_mailing(clients=0, owner=kept.owner, audience="everyone")
    assert list(selectors.recipients_of(mailing)) == [kept]
    assert selectors.audience_sizes([mailing]) == {mailing.pk: 1}
    assert bounced.pk not in selectors.recipients_of(mailing).values_list("pk", flat=True)


def test_the_same_mail_twice_is_recorded_once(smtp):
    (delivery,) = sent_deliveries()
    raw = samples.postfix_dsn(return_path(delivery), delivery.email)
    first = record(raw, source=Bounce.Source.STDIN)
    second = record(raw, source=Bounce.Source.IMAP)
    assert first.pk == second.pk and Bounce.objects.count() == 1


def test_soft_bounces_of_distinct_deliveries_within_the_days_make_them_hard(smtp, settings):
    settings.BOUNCE_SOFT_LIMIT = 3
    settings.BOUNCE_SOFT_DAYS = 7
    deliveries = sent_deliveries(clients=1)
    for _ in range(3):
        mailing = due_mailing(clients=0, owner=deliveries[0].mailing.owner)
        mailing.clients.add(deliveries[0].client)
        assert send_due().sent == 1
        deliveries.append(mailing.deliveries.select_related("client", "mailing").get())
    first, second, third, fourth = deliveries
    client = first.client
    now = timezone.now()

    def soft(delivery, rcpt, when=now):
        raw = samples.postfix_dsn(return_path(delivery), rcpt, status="4.2.2")
        return record(raw, source="smtp", now=when)

    # An old soft bounce, outside the window, does not count.
    soft(fourth, "old@x", when=now - dt.timedelta(days=8))
    assert soft(first, "a@example.org").kind == "soft"
    # The same message bouncing again counts once.
    assert soft(first, "b@example.org").kind == "soft"
    assert soft(second, "c@example.org").kind == "soft"
    client.refresh_from_db()
    assert client.bounced_at is None
    soft(third, "d@example.org")
    client.refresh_from_db()
    assert client.bounced_at == now
    first.refresh_from_db()
    assert first.bounced_at is None  # a temporary failure is not a failure of this delivery
    assert Bounce.objects.filter(client=client, kind="soft").count() == 5


def test_delay_warnings_are_kept_but_never_counted(smtp, settings):
    """A greylisted message warned about three times is no bounce: the client stays a recipient."""
    settings.BOUNCE_SOFT_LIMIT = 3
    (delivery,) = sent_deliveries()
    for n in range(3):
        bounce = record(samples.delayed_dsn(return_path(delivery), f"r{n}@example.org"), source="smtp")
        assert bounce.kind == "unclassified" and bounce.reason.startswith("delay warning: ")
        assert bounce.delivery_id == delivery.pk and bounce.owner_id == delivery.mailing.owner_id
    assert Client.objects.get(pk=delivery.client_id).bounced_at is None
    delivery.refresh_from_db()
    assert delivery.bounced_at is None


def test_a_complaint_unsubscribes_through_the_recipients_own_path(smtp):
    """R-DLV-4: the client is unsubscribed and the address put on the owner's list, like the link does."""
    (delivery,) = sent_deliveries()
    raw = samples.arf_complaint(return_path(delivery), delivery.email)
    bounce = record(raw, source=Bounce.Source.IMAP, envelope_to="fbl@bounces.example.net")
    assert bounce.kind == "complaint" and bounce.client_id == delivery.client_id
    client = Client.objects.get(pk=delivery.client_id)
    assert client.unsubscribed_at is not None and client.bounced_at is None
    assert Unsubscription.objects.filter(owner=client.owner, email=client.email.lower()).exists()
    assert Bounce.objects.filter(owner=client.owner, kind="complaint").count() == 1


def test_a_complaint_about_a_deleted_client_still_unsubscribes_the_address(smtp):
    (delivery,) = sent_deliveries()
    owner, email = delivery.mailing.owner, delivery.email
    delivery.client.delete()
    record(samples.arf_complaint(return_path(delivery), email), source="imap")
    assert Unsubscription.objects.filter(owner=owner, email=email.lower()).exists()
    # Adding the address again keeps it unsubscribed.
    again = services.client_create(actor=owner, data={"email": email, "full_name": "Again"})
    assert again.unsubscribed_at is not None


def test_unmatched_and_unclassified_mails_are_kept_for_a_person(smtp):
    (delivery,) = sent_deliveries()
    forged = record(
        samples.postfix_dsn("bounces+1-0000000000000000@bounces.example.net", "x@y.z"), source="smtp"
    )
    assert (forged.kind, forged.owner_id, forged.delivery_id) == ("unclassified", None, None)
    assert forged.status_code == "5.1.1" and forged.raw  # the reading and the raw mail are kept
    reply = record(samples.autoreply(return_path(delivery), delivery.email), source="smtp")
    assert (reply.kind, reply.owner_id) == ("unclassified", delivery.mailing.owner_id)
    garbage = record(b"\x00\xff not a mail", source="stdin")
    assert (garbage.kind, garbage.owner_id, bytes(garbage.raw)) == (
        "unclassified",
        None,
        b"\x00\xff not a mail",
    )
    assert Client.objects.get(pk=delivery.client_id).bounced_at is None
    assert Bounce.objects.count() == 3


def test_a_bounce_for_a_delivery_whose_log_was_purged_is_kept_unmatched(smtp):
    (delivery,) = sent_deliveries()
    raw = samples.postfix_dsn(return_path(delivery), delivery.email)
    Delivery.objects.filter(pk=delivery.pk).delete()
    bounce = record(raw, source="smtp")
    assert (bounce.kind, bounce.owner_id) == ("unclassified", None)


def test_a_late_bounce_about_a_message_sent_before_reactivation_does_not_mark_again(smtp):
    (delivery,) = sent_deliveries(periodicity="daily")
    owner = delivery.mailing.owner
    record(samples.postfix_dsn(return_path(delivery), delivery.email), source="smtp")
    client = Client.objects.get(pk=delivery.client_id)
    assert client.bounced_at is not None
    services.client_reactivate(actor=owner, client=client)
    client.refresh_from_db()
    assert client.bounced_at is None and client.reactivated_at is not None
    # Another server's report about the same, older message arrives late: recorded, not acted on.
    late = record(samples.exim_dsn(return_path(delivery), delivery.email), source="smtp")
    assert late.kind == "hard"
    client.refresh_from_db()
    assert client.bounced_at is None
    # A message sent after the reactivation that bounces marks it again.
    mailing = delivery.mailing
    mailing.refresh_from_db()
    mailing.next_run_at = timezone.now() - dt.timedelta(seconds=1)
    mailing.save(update_fields=["next_run_at"])
    send_due()
    newer = mailing.deliveries.exclude(pk=delivery.pk).get()
    assert newer.sent_at > client.reactivated_at
    record(samples.gmail_dsn(return_path(newer), newer.email), source="smtp")
    client.refresh_from_db()
    assert client.bounced_at is not None


def test_a_bounce_for_an_address_the_owner_changed_since_does_not_mark_the_client(smtp):
    (delivery,) = sent_deliveries()
    Client.objects.filter(pk=delivery.client_id).update(email="fixed@example.org")
    record(samples.postfix_dsn(return_path(delivery), delivery.email), source="smtp")
    assert Client.objects.get(pk=delivery.client_id).bounced_at is None
    delivery.refresh_from_db()
    assert delivery.bounced_at is not None  # the delivery did bounce


def test_a_huge_mail_is_kept_up_to_the_limit_and_marked_truncated(smtp, settings):
    settings.BOUNCE_RAW_MAX_BYTES = 100_000
    (delivery,) = sent_deliveries()
    raw = samples.postfix_dsn(return_path(delivery), delivery.email) + b"y" * 300_000
    bounce = record(raw, source="smtp")
    assert (bounce.kind, bounce.size, bounce.raw_truncated) == ("hard", len(raw), True)
    assert len(bytes(bounce.raw)) == 100_000


def test_a_mail_naming_no_delivery_is_kept_only_up_to_the_unmatched_limit(smtp, settings):
    settings.BOUNCE_UNMATCHED_MAX_BYTES = 2000
    (delivery,) = sent_deliveries()
    stray = b"Subject: buy now\r\n\r\n" + b"z" * 50_000
    bounce = record(stray, source="smtp", envelope_to=f"bounces@{BOUNCE_DOMAIN}")
    assert (bounce.kind, bounce.owner_id, bounce.size, bounce.raw_truncated) == (
        "unclassified",
        None,
        len(stray),
        True,
    )
    assert bytes(bounce.raw) == stray[:2000]
    # A mail about one of our deliveries is kept whole, also when nobody understands it.
    ours = record(stray + b"!", source="smtp", envelope_to=return_path(delivery))
    assert ours.owner_id == delivery.mailing.owner_id
    assert (bytes(ours.raw), ours.raw_truncated) == (stray + b"!", False)


def test_raw_mails_are_emptied_after_the_days_and_the_rows_stay(smtp, settings):
    settings.BOUNCE_RAW_DAYS = 30
    first, second = sent_deliveries(clients=2)
    now = timezone.now()
    old_raw = samples.postfix_dsn(return_path(first), first.email)
    new_raw = samples.postfix_dsn(return_path(second), second.email)
    old = record(old_raw, source="stdin", now=now - dt.timedelta(days=31))
    new = record(new_raw, source="stdin", now=now - dt.timedelta(days=29))
    # Unclassified mails wait for a person, however old: matched (a delay warning) or not.
    waiting = [
        record(b"Subject: old\r\n\r\nold", source="stdin", now=now - dt.timedelta(days=400)),
        record(
            samples.delayed_dsn(return_path(first), first.email),
            source="smtp",
            now=now - dt.timedelta(days=40),
        ),
    ]
    assert (old.kind, new.kind, [w.kind for w in waiting]) == ("hard", "hard", ["unclassified"] * 2)
    assert purge_bounce_raw(now=now) == 1
    assert purge_bounce_raw(now=now) == 0
    old.refresh_from_db()
    new.refresh_from_db()
    assert (bytes(old.raw), old.raw_purged_at) == (b"", now)
    assert bytes(new.raw) == new_raw and new.raw_purged_at is None
    for kept in waiting:
        kept.refresh_from_db()
        assert bytes(kept.raw) and kept.raw_purged_at is None
    assert Bounce.objects.count() == 4
    assert purge_bounce_raw(now=now + dt.timedelta(days=10), days=0) == 0  # 0 keeps everything


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_schedulers_daily_retention_job_empties_old_raw_mails(settings):
    """The job runapscheduler schedules daily (after the delivery log's purge)."""
    from backend.mailings.management.commands.runapscheduler import purge_delivery_log_job
    from backend.mailings.sending import StopRequest

    settings.BOUNCE_RAW_DAYS = 30
    old = record(b"Subject: old\r\n\r\nold", source="stdin", now=timezone.now() - dt.timedelta(days=40))
    Bounce.objects.filter(pk=old.pk).update(kind=Bounce.Kind.SOFT)  # an unclassified one would be kept
    purge_delivery_log_job(StopRequest())
    old.refresh_from_db()
    assert bytes(old.raw) == b"" and old.raw_purged_at is not None
