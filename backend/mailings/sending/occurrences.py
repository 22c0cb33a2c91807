"""Occurrences: start the due ones, materialise their deliveries, finish them (R-SEND-1..3, R-SEND-8).

Which mailings are due and who receives an occurrence are the selectors' decisions (`due_mailings`,
`recipients_of`); this module only turns them into rows.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING

from django.db import connection, transaction
from django.db.models import CharField, DateTimeField, Exists, F, IntegerField, OuterRef, Value
from django.utils import timezone

from .. import schedule, selectors, services
from ..models import Delivery, Mailing, Occurrence
from .queue import lock_rows

if TYPE_CHECKING:
    from .engine import PassSummary

logger = logging.getLogger(__name__)

MAILINGS_PER_CLAIM = 10


def _insert_deliveries_sql(occurrence: Occurrence, now: dt.datetime) -> tuple[str, tuple]:
    """INSERT ... SELECT whose SELECT is `recipients_of(mailing)`'s own SQL with the delivery's other
    columns added: who receives an occurrence is decided once, in the selector, not in a second WHERE."""
    when, number, text = DateTimeField(), IntegerField(), CharField()
    columns = {  # delivery column -> its value per recipient; the ORM adapts each as it would for a save
        "mailing_id": Value(occurrence.mailing_id, output_field=number),
        "occurrence_id": Value(occurrence.pk, output_field=number),
        "client_id": F("pk"),
        "email": F("email"),
        "status": Value(Delivery.Status.PENDING.value, output_field=text),
        "attempts": Value(0, output_field=number),
        "next_attempt_at": Value(now, output_field=when),
        "last_response": Value("", output_field=text),
        "claim_token": Value("", output_field=text),
        "created_at": Value(now, output_field=when),
    }
    names = {f"d_{column}": expression for column, expression in columns.items()}
    rows = selectors.recipients_of(occurrence.mailing).order_by().annotate(**names).values_list(*names)
    if list(rows.query.annotation_select) != list(names) or rows.query.values_select:
        raise RuntimeError("the recipients' SELECT does not list the delivery columns in order")
    select, params = rows.query.sql_with_params()
    # "WHERE ... ON CONFLICT": SQLite needs the SELECT's WHERE to parse an upsert; recipients_of has one.
    table = Delivery._meta.db_table
    return f"INSERT INTO {table} ({', '.join(columns)}) {select} ON CONFLICT DO NOTHING", params


def materialise(occurrence: Occurrence, now: dt.datetime) -> int:
    """One pending delivery per recipient of the occurrence's mailing now; idempotent (unique per
    occurrence and client). A single INSERT ... SELECT: the rows never pass through Python, so 50,000
    recipients cost one statement and no memory in the sender. Returns how many deliveries it has."""
    sql, params = _insert_deliveries_sql(occurrence, now)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    return occurrence.deliveries.count()


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
    if not created and occurrence.finished_at is not None:
        # Edited mid-period: clients added since get this occurrence too.
        occurrence.finished_at = None
        occurrence.save(update_fields=["finished_at"])
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
    Occurrence.objects.filter(finished_at__isnull=True).exclude(Exists(unfinished)).update(finished_at=now)
    # Another pass may have added deliveries to an occurrence just as it was marked finished (two schedulers,
    # a mailing edited mid-period): reopen it, or those deliveries would never be claimed.
    Occurrence.objects.filter(finished_at__isnull=False).filter(Exists(unfinished)).update(finished_at=None)
    for mailing in Mailing.objects.filter(next_run_at__isnull=True).exclude(status=Mailing.Status.COMPLETED):
        if services.mailing_complete_if_finished(mailing):
            summary.completed += 1
