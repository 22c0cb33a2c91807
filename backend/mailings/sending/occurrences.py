"""Occurrences in a pass: start the due ones, finish them, complete the mailings with nothing left
(R-SEND-1..3, R-SEND-8).

Which mailings are due and who receives an occurrence are the selectors' decisions (`due_mailings`,
`recipients_of`); an occurrence's deliveries are the domain's step (`scheduling.materialise`), which a
manual send runs too; this module runs them in a pass.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from .. import schedule, selectors
from ..models import Delivery, Mailing, Occurrence
from ..scheduling import NO_TOTALS, final_totals, has_unfinished_deliveries, materialise
from .queue import lock_rows
from .summary import PassSummary

logger = logging.getLogger(__name__)

MAILINGS_PER_CLAIM = 10


def occurrence_time(mailing: Mailing, now: dt.datetime) -> dt.datetime:
    """The occurrence to send: the latest one due, so a scheduler that was down sends one catch-up, not a
    backlog of every missed day."""
    moment = min(now, mailing.end_at - dt.timedelta(microseconds=1))
    latest = schedule.current_occurrence(
        mailing.start_at, mailing.end_at, mailing.periodicity, mailing.tz, now=moment
    )
    return max(mailing.next_run_at, latest) if latest else mailing.next_run_at


def start_due(now: dt.datetime, summary: PassSummary) -> None:
    """Give every due mailing its occurrence and deliveries, mark it started, move its next due time on.
    Locked with SKIP LOCKED, so concurrent passes start each occurrence once; one broken mailing never
    stops the others."""
    failed: set[int] = set()
    while True:
        with transaction.atomic():
            due = lock_rows(selectors.due_mailings(now).exclude(pk__in=failed).order_by("next_run_at", "pk"))
            mailings = list(due[:MAILINGS_PER_CLAIM])
            if not mailings:
                return
            for mailing in mailings:
                try:
                    with transaction.atomic():
                        _start(mailing, now, summary)
                except Exception as exc:
                    failed.add(mailing.pk)
                    logger.exception(
                        "could not start mailing %s", mailing.pk, extra={"mailing_id": mailing.pk}
                    )
                    summary.errors.append(f"mailing {mailing.pk}: {exc}")


def _start(mailing: Mailing, now: dt.datetime, summary: PassSummary) -> None:
    occurrence, created = Occurrence.objects.get_or_create(
        mailing=mailing, scheduled_for=occurrence_time(mailing, now)
    )
    reopened = True
    if not created and occurrence.finished_at is not None:
        # Edited mid-period: clients added since get this occurrence too, unless its log was purged
        # (DELIVERY_LOG_DAYS): with its deliveries gone, every recipient would get it a second time.
        reopened = bool(
            Occurrence.objects.filter(pk=occurrence.pk, log_purged_at__isnull=True).update(
                finished_at=None, **NO_TOTALS
            )
        )
    if reopened:
        summary.queued += materialise(occurrence, now)
    mailing.status = Mailing.Status.STARTED
    mailing.next_run_at = schedule.next_occurrence(
        mailing.start_at, mailing.end_at, mailing.periodicity, mailing.tz, after=occurrence.scheduled_for
    )
    mailing.save(update_fields=["status", "next_run_at", "updated_at"])
    summary.occurrences += 1


def finish(summary: PassSummary) -> None:
    """Occurrences whose deliveries are all final get `finished_at`; mailings with nothing left complete."""
    now = timezone.now()
    unfinished = Delivery.objects.filter(occurrence=OuterRef("pk")).exclude(
        status__in=Delivery.FINAL_STATUSES
    )
    # Its counts are frozen with it (`final_totals`): what reports read from then on.
    Occurrence.objects.filter(finished_at__isnull=True).exclude(Exists(unfinished)).update(
        finished_at=now, **final_totals()
    )
    # Another pass may have added deliveries to an occurrence just as it was marked finished (two schedulers,
    # a mailing edited mid-period): reopen it, or those deliveries would never be claimed.
    Occurrence.objects.filter(finished_at__isnull=False).filter(Exists(unfinished)).update(
        finished_at=None, **NO_TOTALS
    )
    for mailing in Mailing.objects.filter(next_run_at__isnull=True).exclude(status=Mailing.Status.COMPLETED):
        if complete_if_finished(mailing):
            summary.completed += 1


def complete_if_finished(mailing: Mailing) -> bool:
    """Mark the mailing completed when no occurrence is left and every delivery is final (R-SEND-3)."""
    if mailing.next_run_at is not None or mailing.status == Mailing.Status.COMPLETED:
        return False
    if has_unfinished_deliveries(mailing):
        return False
    # One conditional UPDATE: with several schedulers finishing the same mailing, only one of them completes
    # it (and counts it in its pass summary).
    completed = (
        Mailing.objects.filter(pk=mailing.pk, next_run_at__isnull=True)
        .exclude(status=Mailing.Status.COMPLETED)
        .update(status=Mailing.Status.COMPLETED, updated_at=timezone.now())
    )
    if completed:
        mailing.status = Mailing.Status.COMPLETED
    return completed == 1
