"""A mailing's schedule in the database: its next due time and status (`reschedule`), and an occurrence's
deliveries (`materialise`).

Domain steps, not services: they take no actor, because the services run them after their own checks
(create, edit, re-enable, send now) and the sending engine runs them in a pass. Which mailings are due and
who receives an occurrence are the selectors' decisions (`due_mailings`, `recipients_of`); the pure
arithmetic of the schedule is schedule.py's.
"""

import datetime as dt
from typing import Any

from django.db.models import (
    CharField,
    Count,
    DateTimeField,
    F,
    IntegerField,
    Max,
    OuterRef,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from . import bulk, schedule, selectors
from .models import Delivery, Mailing, Occurrence

# What an occurrence that is not finished holds instead of totals: its counts are read live.
NO_TOTALS = {
    "deliveries_total": None,
    "sent_total": None,
    "failed_total": None,
    "skipped_total": None,
    "first_attempted_at": None,
    "last_attempted_at": None,
}


def has_unfinished_deliveries(mailing: Mailing) -> bool:
    """Is anything of `mailing` still waiting to be sent or retried?"""
    if mailing.pk is None:
        return False
    return mailing.deliveries.exclude(status__in=Delivery.FINAL_STATUSES).exists()


def reschedule(mailing: Mailing, *, now: dt.datetime | None = None) -> None:
    """Recompute the next due time from the schedule (R-SEND-1..3) and save it.

    A start in the past and an end in the future make the mailing due now: the scheduler picks it up
    within one tick; nothing is sent inline. The schedule never goes backwards: an occurrence the scheduler
    has already started (or any earlier slot) is not due again after an edit or a re-enable; the next slot
    after it is.
    """
    now = now or timezone.now()
    next_run = schedule.current_occurrence(
        mailing.start_at, mailing.end_at, mailing.periodicity, mailing.tz, now=now
    )
    last_started = (
        mailing.occurrences.filter(is_manual=False).order_by("-scheduled_for").first() if mailing.pk else None
    )
    if next_run is not None and last_started is not None and next_run <= last_started.scheduled_for:
        next_run = schedule.next_occurrence(
            mailing.start_at,
            mailing.end_at,
            mailing.periodicity,
            mailing.tz,
            after=last_started.scheduled_for,
        )
    mailing.next_run_at = next_run
    if mailing.next_run_at is None:
        if not has_unfinished_deliveries(mailing):
            mailing.status = Mailing.Status.COMPLETED
    elif mailing.status == Mailing.Status.COMPLETED:
        mailing.status = Mailing.Status.STARTED if mailing.occurrences.exists() else Mailing.Status.CREATED
    mailing.save(update_fields=["next_run_at", "status", "updated_at"])


def materialise(occurrence: Occurrence, now: dt.datetime) -> int:
    """One pending delivery per recipient of the occurrence's mailing now; idempotent (unique per
    occurrence and client). A single INSERT ... SELECT: the rows never pass through Python, so 50,000
    recipients cost one statement and no memory in the sender. Returns how many deliveries it has."""
    when, number, text = DateTimeField(), IntegerField(), CharField()
    # Who receives it is decided once, in `recipients_of`, not in a second WHERE here.
    bulk.insert_from(
        Delivery,
        {
            "mailing": Value(occurrence.mailing_id, output_field=number),
            "occurrence": Value(occurrence.pk, output_field=number),
            "client": F("pk"),
            "email": F("email"),
            "status": Value(Delivery.Status.PENDING.value, output_field=text),
            "attempts": Value(0, output_field=number),
            "next_attempt_at": Value(now, output_field=when),
            "last_response": Value("", output_field=text),
            "claim_token": Value("", output_field=text),
            "created_at": Value(now, output_field=when),
        },
        selectors.recipients_of(occurrence.mailing),
    )
    return occurrence.deliveries.count()


def final_totals() -> dict[str, Any]:
    """For `Occurrence.objects.filter(...).update(finished_at=..., **final_totals())`: each occurrence's
    deliveries counted per final status and its first and last attempt times, frozen when it finishes so
    reports and dashboards read one row instead of its deliveries, also after the log is purged."""
    mine = Delivery.objects.filter(occurrence_id=OuterRef("pk")).order_by().values("occurrence_id")

    def count(**where: Any) -> Coalesce:
        return Coalesce(Subquery(mine.filter(**where).annotate(n=Count("occurrence_id")).values("n")), 0)

    return {
        "deliveries_total": count(),
        "sent_total": count(status=Delivery.Status.SENT),
        "failed_total": count(status=Delivery.Status.FAILED),
        "skipped_total": count(status=Delivery.Status.SKIPPED),
        "first_attempted_at": selectors.first_attempt_of_occurrence(),
        "last_attempted_at": Subquery(mine.annotate(last=Max("last_attempt_at")).values("last")),
    }
