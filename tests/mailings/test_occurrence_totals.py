"""Per-occurrence totals (R-DATA-4, R-SEND-4): frozen when an occurrence finishes, read by reports and
dashboards instead of its deliveries, so they still show after the delivery log is purged
(DELIVERY_LOG_DAYS)."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone
from graphql_relay import to_global_id

from backend.mailings import retention, selectors, services
from backend.mailings.models import Delivery, DeliveryAttempt, Mailing, Occurrence
from backend.mailings.sending.occurrences import finish, start_due
from backend.mailings.sending.summary import PassSummary
from tests.api.helpers import data_of
from tests.factories import ClientFactory, MailingFactory, UserFactory

pytestmark = pytest.mark.django_db

REPORT = """
query Report($id: ID!) {
  mailingReport(id: $id) {
    occurrences { sent failed skipped pending firstAttemptAt lastAttemptAt }
    totals { occurrences total sent failed skipped }
  }
}
"""
DASHBOARD = "query { dashboard { sent failed } }"


def sent_occurrence(owner, *, sent=3, failed=1, skipped=1, days_ago=1):
    """A mailing with one occurrence whose deliveries are final (written directly), not yet finished."""
    mailing = MailingFactory(owner=owner, status=Mailing.Status.STARTED, audience=Mailing.Audience.EVERYONE)
    moment = timezone.now() - dt.timedelta(days=days_ago)
    occurrence = Occurrence.objects.create(mailing=mailing, scheduled_for=moment)
    Occurrence.objects.filter(pk=occurrence.pk).update(created_at=moment - dt.timedelta(minutes=1))
    statuses = ["sent"] * sent + ["failed"] * failed + ["skipped"] * skipped
    for n, status in enumerate(statuses):
        client = ClientFactory(owner=owner)
        delivery = Delivery.objects.create(
            mailing=mailing,
            occurrence=occurrence,
            client=client,
            email=client.email,
            status=status,
            attempts=1,
            last_attempt_at=moment + dt.timedelta(minutes=n),
        )
        if status != "skipped":
            DeliveryAttempt.objects.create(
                delivery=delivery,
                attempted_at=moment + dt.timedelta(minutes=n),
                outcome="sent" if status == "sent" else "permanent",
                smtp_code=250 if status == "sent" else 550,
            )
    return mailing, occurrence


def test_finishing_an_occurrence_freezes_its_counts_and_attempt_times_R_DATA_4():
    owner = UserFactory()
    _mailing, occurrence = sent_occurrence(owner)
    finish(PassSummary())
    occurrence.refresh_from_db()
    assert occurrence.finished_at is not None
    assert (occurrence.deliveries_total, occurrence.sent_total) == (5, 3)
    assert (occurrence.failed_total, occurrence.skipped_total) == (1, 1)
    times = DeliveryAttempt.objects.order_by("attempted_at").values_list("attempted_at", flat=True)
    assert occurrence.first_attempted_at == times.first()
    assert occurrence.last_attempted_at == Delivery.objects.order_by("-last_attempt_at")[0].last_attempt_at


def test_a_running_occurrence_has_no_totals_and_is_counted_live():
    owner = UserFactory()
    _mailing, occurrence = sent_occurrence(owner)
    Delivery.objects.filter(status="failed").update(status="retrying")
    finish(PassSummary())
    occurrence.refresh_from_db()
    assert occurrence.finished_at is None and occurrence.sent_total is None
    row = selectors.occurrences_with_stats(owner).get(pk=occurrence.pk)
    assert (row.sent_count, row.retrying_count, row.waiting_count, row.deliveries_count) == (3, 1, 1, 5)
    assert row.first_attempt_at is not None


def test_a_reopened_occurrence_loses_its_totals_until_it_finishes_again():
    owner = UserFactory()
    mailing, occurrence = sent_occurrence(owner)
    finish(PassSummary())
    client = ClientFactory(owner=owner)
    Delivery.objects.create(mailing=mailing, occurrence=occurrence, client=client, email=client.email)
    finish(PassSummary())  # the new pending delivery reopens it
    occurrence.refresh_from_db()
    assert occurrence.finished_at is None and occurrence.sent_total is None
    row = selectors.occurrences_with_stats(owner).get(pk=occurrence.pk)
    assert (row.pending_count, row.deliveries_count) == (1, 6)


def test_retrying_failed_deliveries_reopens_the_occurrence_without_totals():
    owner = UserFactory()
    mailing, occurrence = sent_occurrence(owner)
    Mailing.objects.filter(pk=mailing.pk).update(is_active=True)
    finish(PassSummary())
    mailing.refresh_from_db()
    assert services.occurrence_retry_failed(actor=owner, occurrence=occurrence) == 1
    occurrence.refresh_from_db()
    assert occurrence.finished_at is None and occurrence.failed_total is None
    row = selectors.occurrences_with_stats(owner).get(pk=occurrence.pk)
    assert (row.failed_count, row.pending_count) == (0, 1)


def test_reports_dashboards_and_the_api_read_totals_after_the_log_is_purged(client, settings):
    settings.DELIVERY_LOG_DAYS = 90
    owner = UserFactory()
    mailing, occurrence = sent_occurrence(owner, days_ago=120)
    finish(PassSummary())
    Occurrence.objects.filter(pk=occurrence.pk).update(finished_at=timezone.now() - dt.timedelta(days=100))
    assert retention.purge_delivery_log() == 5
    assert not Delivery.objects.exists() and not DeliveryAttempt.objects.exists()

    row = selectors.occurrences_with_stats(owner, mailing=mailing).get()
    assert (row.sent_count, row.failed_count, row.skipped_count, row.deliveries_count) == (3, 1, 1, 5)
    assert row.waiting_count == 0 and row.first_attempt_at is not None and row.last_attempt_at is not None
    dashboard = selectors.owner_dashboard(owner)
    assert (dashboard.sent, dashboard.failed) == (3, 1)

    report = data_of(REPORT, {"id": to_global_id("Mailing", mailing.pk)}, user=owner)["mailingReport"]
    assert report["totals"] == {"occurrences": 1, "total": 5, "sent": 3, "failed": 1, "skipped": 1}
    assert report["occurrences"][0]["firstAttemptAt"] is not None
    assert data_of(DASHBOARD, user=owner)["dashboard"] == {"sent": 3, "failed": 1}

    client.force_login(owner)
    page = client.get(reverse("mailings:report", args=[mailing.pk])).content.decode()
    assert 'data-count="sent">3<' in page and 'data-count="failed">1<' in page
    assert 'data-testid="log-purged"' in page and 'data-testid="retry"' not in page
    assert "90 days" in page
    listed = client.get("/reports/").content.decode()
    assert "75%" in listed or "75 %" in listed  # 3 sent of 4 delivered


def test_a_purged_occurrence_is_never_materialised_again():
    """Its deliveries are gone: starting it again (a mailing edited mid-period) would send to everyone
    twice."""
    owner = UserFactory()
    client = ClientFactory(owner=owner)
    mailing = MailingFactory(owner=owner, clients=[client], periodicity="once", status=Mailing.Status.STARTED)
    now = timezone.now()
    start = now - dt.timedelta(hours=1)
    Mailing.objects.filter(pk=mailing.pk).update(start_at=start, next_run_at=start)
    occurrence = Occurrence.objects.create(
        mailing=mailing,
        scheduled_for=start,
        finished_at=now,
        sent_total=1,
        deliveries_total=1,
        failed_total=0,
        skipped_total=0,
        log_purged_at=now,
    )
    summary = PassSummary()
    start_due(now, summary)
    assert summary.errors == []
    assert not Delivery.objects.exists()
    occurrence.refresh_from_db()
    assert occurrence.finished_at is not None and occurrence.sent_total == 1
