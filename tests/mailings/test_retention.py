"""The delivery log's retention (R-DATA-4, DELIVERY_LOG_DAYS): the scheduler's clean-up deletes the deliveries
and attempts of occurrences finished long enough ago, in batches, and nothing of a running occurrence."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backend.mailings import retention
from backend.mailings.models import Delivery, DeliveryAttempt, Mailing, Occurrence
from backend.mailings.sending import StopRequest
from backend.mailings.sending.occurrences import finish
from backend.mailings.sending.summary import PassSummary
from tests.factories import MailingFactory, UserFactory

pytestmark = pytest.mark.django_db


def occurrence_with_log(mailing, *, deliveries=5, finished_days_ago=None, status="sent"):
    """An occurrence with `deliveries` deliveries of `status`, one attempt each; finished (totals frozen by
    the pass's finish step) `finished_days_ago` days ago, or still running when None."""
    now = timezone.now()
    occurrence = Occurrence.objects.create(
        mailing=mailing,
        scheduled_for=now - dt.timedelta(days=(finished_days_ago or 0) + 1, seconds=deliveries),
    )
    rows = Delivery.objects.bulk_create(
        Delivery(
            mailing=mailing,
            occurrence=occurrence,
            email=f"o{occurrence.pk}-{n}@example.org",
            status=status,
            attempts=1,
            last_attempt_at=now,
        )
        for n in range(deliveries)
    )
    DeliveryAttempt.objects.bulk_create(
        DeliveryAttempt(delivery=row, attempted_at=now, outcome="sent", smtp_code=250) for row in rows
    )
    if finished_days_ago is not None:
        finish(PassSummary())
        Occurrence.objects.filter(pk=occurrence.pk).update(
            finished_at=now - dt.timedelta(days=finished_days_ago)
        )
    return occurrence


@pytest.fixture
def mailing():
    return MailingFactory(owner=UserFactory(), status=Mailing.Status.STARTED)


def test_only_the_log_of_sends_finished_more_than_the_retention_ago_goes_with_its_attempts(mailing, settings):
    settings.DELIVERY_LOG_DAYS = 90
    old = occurrence_with_log(mailing, finished_days_ago=91)
    recent = occurrence_with_log(mailing, finished_days_ago=89)
    running = occurrence_with_log(mailing, status="pending")
    Occurrence.objects.filter(pk=running.pk).update(created_at=timezone.now() - dt.timedelta(days=200))

    assert retention.purge_delivery_log() == 5
    assert not Delivery.objects.filter(occurrence=old).exists()
    assert not DeliveryAttempt.objects.filter(delivery__occurrence=old).exists()
    assert DeliveryAttempt.objects.count() == 10
    assert Delivery.objects.filter(occurrence=recent).count() == 5
    assert Delivery.objects.filter(occurrence=running).count() == 5
    old.refresh_from_db()
    assert old.log_purged_at is not None and old.sent_total == 5 and old.deliveries_total == 5
    running.refresh_from_db()
    assert running.log_purged_at is None and running.finished_at is None
    # A second run finds nothing left (and does not read the purged occurrence again).
    assert retention.purge_delivery_log() == 0
    assert not retention.expired_occurrences(timezone.now(), 90).exists()


def test_a_finished_occurrence_without_frozen_totals_keeps_its_log(mailing):
    """Its counts would be lost with it: only an occurrence the finish step froze is purged."""
    occurrence = occurrence_with_log(mailing)
    Occurrence.objects.filter(pk=occurrence.pk).update(finished_at=timezone.now() - dt.timedelta(days=200))
    assert retention.purge_delivery_log(days=90) == 0
    assert Delivery.objects.count() == 5


def test_the_log_goes_in_batches_one_transaction_each(mailing):
    occurrence_with_log(mailing, deliveries=5, finished_days_ago=100)
    with CaptureQueriesContext(connection) as captured:
        assert retention.purge_delivery_log(days=90, batch=2) == 5
    deletes = [q["sql"] for q in captured if q["sql"].startswith('DELETE FROM "mailings_delivery"')]
    assert len(deletes) == 3  # 2 + 2 + 1
    assert sum(q["sql"].startswith("SAVEPOINT") or q["sql"] == "BEGIN" for q in captured) >= 3


def test_zero_days_keeps_the_log_for_ever(mailing):
    occurrence_with_log(mailing, finished_days_ago=1000)
    assert retention.purge_delivery_log(days=0) == 0
    assert Delivery.objects.count() == 5


def test_a_stop_request_ends_it_between_batches_and_the_next_run_carries_on(mailing):
    occurrence_with_log(mailing, deliveries=5, finished_days_ago=100)
    stop = StopRequest()
    stop.set(within=1)
    assert retention.purge_delivery_log(days=90, batch=2, stop=stop) == 0
    assert Delivery.objects.count() == 5
    assert retention.purge_delivery_log(days=90, batch=2) == 5
    assert not Delivery.objects.exists()


def test_a_send_whose_log_the_purge_began_cannot_be_retried_and_keeps_its_totals(mailing, settings):
    """A purge stopped between batches leaves some failed rows of a send marked purged: "retry failed" must
    not reopen it, or its totals would be counted again from what is left."""
    from django.core.exceptions import ValidationError

    from backend.mailings import services
    from backend.mailings.errors import ErrorCode

    class StopAfterOneBatch:
        checks = 0

        def is_set(self) -> bool:
            self.checks += 1
            return self.checks > 1

    settings.DELIVERY_LOG_DAYS = 90
    old = occurrence_with_log(mailing, deliveries=6, finished_days_ago=95, status="failed")
    assert retention.purge_delivery_log(batch=2, stop=StopAfterOneBatch()) == 2
    assert Delivery.objects.filter(occurrence=old).count() == 4
    with pytest.raises(ValidationError) as refused:
        services.occurrence_retry_failed(actor=mailing.owner, occurrence=old)
    assert refused.value.code == ErrorCode.LOG_PURGED
    old.refresh_from_db()
    assert (old.deliveries_total, old.failed_total, old.finished_at is not None) == (6, 6, True)


def test_a_send_reopened_after_the_purge_listed_it_is_left_alone(mailing, settings, monkeypatch):
    """Listed as expired, then retried and still running when its turn comes: the purge re-checks under the
    occurrence's lock and deletes nothing of it."""
    settings.DELIVERY_LOG_DAYS = 90
    old = occurrence_with_log(mailing, finished_days_ago=95)
    listed = retention.expired_occurrences

    def listed_then_reopened(now, days):
        found = list(listed(now, days))
        Occurrence.objects.filter(pk=old.pk).update(finished_at=None, sent_total=None)
        return Occurrence.objects.filter(pk__in=[o.pk for o in found])

    monkeypatch.setattr(retention, "expired_occurrences", listed_then_reopened)
    assert retention.purge_delivery_log() == 0
    assert Delivery.objects.filter(occurrence=old).count() == 5
    old.refresh_from_db()
    assert old.log_purged_at is None
