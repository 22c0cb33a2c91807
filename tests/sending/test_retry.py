"""Retry failed (R-DATA-4, R-SEND-4/5/8, R-AUTH-4/5): the failed deliveries of one
occurrence are queued again as a new attempt series, the real engine sends them, the attempt log keeps
every attempt, and the occurrence and the mailing complete again.
"""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError

from backend.mailings import services
from backend.mailings.errors import ErrorCode
from backend.mailings.models import Delivery, Mailing, Occurrence
from backend.mailings.sending import send_due
from tests.factories import UserFactory, make_manager
from tests.sending_helpers import due_mailing

pytestmark = pytest.mark.django_db


def failed_send(smtp, *, clients: int = 2, refused: int = 1):
    """A completed once-mailing whose first `refused` clients were refused with 550."""
    mailing = due_mailing(clients=clients)
    bad = list(mailing.clients.order_by("pk")[:refused])
    smtp.set(reject={client.email.lower() for client in bad})
    summary = send_due()
    assert (summary.sent, summary.failed) == (clients - refused, refused)
    mailing.refresh_from_db()
    assert mailing.status == Mailing.Status.COMPLETED
    occurrence = mailing.occurrences.get()
    assert occurrence.finished_at is not None
    return mailing, occurrence, bad


def test_retry_sends_the_refused_recipient_and_completes_again(smtp):
    """End to end: 550, retry, the server now accepts; the log has both attempts (R-DATA-4)."""
    mailing, occurrence, (bad,) = failed_send(smtp)
    assert services.occurrence_retry_failed(actor=mailing.owner, occurrence=occurrence) == 1

    delivery = Delivery.objects.get(occurrence=occurrence, client=bad)
    assert (delivery.status, delivery.attempts, delivery.claim_token) == ("pending", 0, "")
    assert delivery.next_attempt_at is not None
    occurrence.refresh_from_db()
    mailing.refresh_from_db()
    assert occurrence.finished_at is None
    assert mailing.status == Mailing.Status.STARTED

    smtp.set(reject=set())
    summary = send_due()
    assert (summary.sent, summary.failed, summary.completed) == (1, 0, 1)
    assert smtp.recipients().count(bad.email) == 1
    assert len(smtp.received) == 2  # the other recipient is not sent again

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("sent", 1)
    assert delivery.sent_at is not None
    log = list(delivery.attempt_log.order_by("attempted_at", "pk").values_list("outcome", "smtp_code"))
    assert log == [("permanent", 550), ("sent", 250)]
    occurrence.refresh_from_db()
    mailing.refresh_from_db()
    assert occurrence.finished_at is not None
    assert mailing.status == Mailing.Status.COMPLETED
    assert mailing.deliveries.count() == 2  # a new series, not a new delivery


def test_a_second_retry_doubles_nothing(smtp):
    mailing, occurrence, (bad,) = failed_send(smtp)
    services.occurrence_retry_failed(actor=mailing.owner, occurrence=occurrence)
    with pytest.raises(ValidationError) as caught:
        services.occurrence_retry_failed(actor=mailing.owner, occurrence=occurrence)
    assert caught.value.code == ErrorCode.NOTHING_TO_RETRY
    smtp.set(reject=set())
    send_due()
    assert send_due().sent == 0
    assert smtp.recipients().count(bad.email) == 1
    with pytest.raises(ValidationError):
        services.occurrence_retry_failed(actor=mailing.owner, occurrence=occurrence)
    assert Delivery.objects.get(client=bad).attempt_log.count() == 2


def test_a_retry_that_fails_again_fails_again_and_completes(smtp):
    mailing, occurrence, (bad,) = failed_send(smtp)
    services.occurrence_retry_failed(actor=mailing.owner, occurrence=occurrence)
    assert send_due().failed == 1
    delivery = Delivery.objects.get(client=bad)
    assert (delivery.status, delivery.attempts, delivery.attempt_log.count()) == ("failed", 1, 2)
    mailing.refresh_from_db()
    assert mailing.status == Mailing.Status.COMPLETED


def test_exhausted_temporary_failures_are_retried_with_a_fresh_counter(smtp, settings):
    settings.MAILER_MAX_ATTEMPTS = 1
    mailing = due_mailing(clients=1)
    smtp.set(mode="tempfail_451")
    assert send_due().failed == 1
    occurrence = mailing.occurrences.get()
    assert services.occurrence_retry_failed(actor=mailing.owner, occurrence=occurrence) == 1
    smtp.set(mode="accept")
    assert send_due().sent == 1
    delivery = mailing.deliveries.get()
    assert (delivery.status, delivery.attempts) == ("sent", 1)
    assert sorted(delivery.attempt_log.values_list("outcome", flat=True)) == ["sent", "temporary"]


def test_only_failed_deliveries_of_that_occurrence_that_are_still_recipients_are_retried(smtp):
    """Skipped deliveries are never retried; a failed client who unsubscribed or was removed since stays
    failed and is not mailed (R-SEND-8); another occurrence's failures are left alone."""
    mailing, occurrence, bad = failed_send(smtp, clients=5, refused=4)
    still, left, removed, deleted = bad
    services.client_unsubscribe(client=left)
    mailing.clients.remove(removed)
    deleted.delete()
    skipped = Delivery.objects.filter(occurrence=occurrence, status="sent").get()
    Delivery.objects.filter(pk=skipped.pk).update(status="skipped")
    other = Occurrence.objects.create(
        mailing=mailing, scheduled_for=occurrence.scheduled_for.replace(year=2000)
    )
    other_failed = Delivery.objects.create(
        mailing=mailing, occurrence=other, client=still, email=still.email, status="failed", attempts=1
    )

    assert services.occurrence_retry_failed(actor=mailing.owner, occurrence=occurrence) == 1
    statuses = dict(Delivery.objects.filter(occurrence=occurrence).values_list("email", "status"))
    assert statuses == {
        still.email: "pending",
        left.email: "failed",
        removed.email: "failed",
        deleted.email: "failed",
        skipped.email: "skipped",
    }
    other_failed.refresh_from_db()
    assert other_failed.status == "failed"
    smtp.set(reject=set())
    send_due()
    assert [r for r in smtp.recipients() if r != skipped.email] == [still.email]


def test_an_occurrence_without_failures_has_nothing_to_retry(smtp):
    mailing = due_mailing(clients=2)
    send_due()
    with pytest.raises(ValidationError) as caught:
        services.occurrence_retry_failed(actor=mailing.owner, occurrence=mailing.occurrences.get())
    assert caught.value.code == ErrorCode.NOTHING_TO_RETRY
    mailing.refresh_from_db()
    assert mailing.status == Mailing.Status.COMPLETED


def test_a_superuser_may_retry_anyones_failures(smtp):
    mailing, occurrence, _ = failed_send(smtp)
    root = UserFactory(is_superuser=True, is_staff=True)
    assert services.occurrence_retry_failed(actor=root, occurrence=occurrence) == 1
    smtp.set(reject=set())
    assert send_due().sent == 1
    mailing.refresh_from_db()
    assert mailing.status == Mailing.Status.COMPLETED


def _unchanged(mailing, occurrence):
    occurrence.refresh_from_db()
    mailing.refresh_from_db()
    assert occurrence.finished_at is not None
    assert mailing.status == Mailing.Status.COMPLETED
    assert set(mailing.deliveries.values_list("status", flat=True)) == {"sent", "failed"}


@pytest.mark.parametrize("who", ["stranger", "manager", "blocked owner", "inactive", "anonymous"])
def test_others_managers_blocked_and_anonymous_cannot_retry(smtp, who):
    """R-AUTH-4: another owner's occurrence; R-AUTH-5: a manager sends nothing; a blocked owner nothing."""
    mailing, occurrence, _ = failed_send(smtp)
    if who == "blocked owner":
        mailing.owner.is_blocked = True
        mailing.owner.save()
    actor = {
        "stranger": UserFactory,
        "manager": make_manager,
        "blocked owner": lambda: mailing.owner,
        "inactive": lambda: UserFactory(is_active=False),
        "anonymous": AnonymousUser,
    }[who]()
    with pytest.raises(PermissionDenied):
        services.occurrence_retry_failed(actor=actor, occurrence=occurrence)
    _unchanged(mailing, occurrence)


def test_a_disabled_mailing_or_a_blocked_owner_is_refused_with_the_send_now_codes(smtp):
    """R-SEND-8: a superuser cannot push a disabled mailing or a blocked owner's mailing out either."""
    root = UserFactory(is_superuser=True, is_staff=True)
    mailing, occurrence, _ = failed_send(smtp)
    services.mailing_disable(actor=make_manager(), mailing=mailing)
    with pytest.raises(ValidationError) as caught:
        services.occurrence_retry_failed(actor=root, occurrence=occurrence)
    assert caught.value.code == ErrorCode.MAILING_DISABLED
    services.mailing_enable(actor=root, mailing=mailing)
    mailing.owner.is_blocked = True
    mailing.owner.save()
    with pytest.raises(ValidationError) as caught:
        services.occurrence_retry_failed(actor=root, occurrence=occurrence)
    assert caught.value.code == ErrorCode.OWNER_CANNOT_ACT
    _unchanged(mailing, occurrence)
