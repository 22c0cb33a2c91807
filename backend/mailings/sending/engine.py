"""The sending engine (R-SEND-4..9): claim what is due, send it, record every attempt.

A pass (`send_due`) has three steps, each of which survives the failure of the others:
1. start occurrences: every due mailing (active, owner active and unblocked, not completed) is locked
   (`SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL), gets its occurrence row and one delivery row per
   subscribed client (bulk, idempotent: unique per occurrence and client), is marked `started`, and its
   next due time moves on;
2. deliver: worker threads, each with one reused SMTP connection, take small batches of pending or due
   retry deliveries (locked with SKIP LOCKED and leased for MAILER_CLAIM_LEASE_SECONDS), send each, and
   record the attempt and the delivery's new state in one transaction right after the server answers;
3. finish: occurrences whose deliveries are all final get `finished_at`; mailings with nothing left are
   `completed`.

Crash safety (R-SEND-7): a delivery is marked sent right after the server accepts it, so a killed sender
can repeat at most the messages in flight (one per worker). Its leased deliveries are taken again once
the lease expires. Any number of passes may run at once on PostgreSQL; on SQLite, writers are serialised
by the database lock (IMMEDIATE transactions), so concurrent passes are safe but gain nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
import time
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from .. import schedule, selectors, services
from ..models import Client, Delivery, Mailing, Occurrence, Unsubscription
from . import recorder
from .compose import PreparedMessage
from .transport import PERMANENT, SENT, RateLimiter, SendResult, open_connection

logger = logging.getLogger(__name__)

BREAKER_CACHE_KEY = "mailer:smtp-breaker:v1"
MAILINGS_PER_CLAIM = 10
_THROUGH = Mailing.clients.through._meta.db_table
# "WHERE ... ON CONFLICT": SQLite needs the WHERE to parse an upsert after a SELECT; PostgreSQL agrees.
_MATERIALISE = f"""
INSERT INTO {Delivery._meta.db_table}
    (mailing_id, occurrence_id, client_id, email, status, attempts, next_attempt_at, last_response,
     claim_token, created_at)
SELECT %s, %s, c.id, c.email, 'pending', 0, %s, '', '', %s
FROM {_THROUGH} AS mc JOIN {Client._meta.db_table} AS c ON c.id = mc.client_id
WHERE mc.mailing_id = %s AND c.unsubscribed_at IS NULL
  AND NOT EXISTS (
    SELECT 1 FROM {Unsubscription._meta.db_table} AS u
    WHERE u.owner_id = c.owner_id AND u.email = LOWER(c.email)
  )
ON CONFLICT DO NOTHING
"""


@dataclass
class PassSummary:
    occurrences: int = 0
    queued: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    skipped: int = 0
    completed: int = 0
    breaker: str = ""
    errors: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def count(self, status: str) -> None:
        with self._lock:
            setattr(self, status, getattr(self, status) + 1)

    def __str__(self) -> str:
        text = (
            f"occurrences started: {self.occurrences}, recipients queued: {self.queued}; "
            f"sent: {self.sent}, failed: {self.failed}, retrying: {self.retrying}, skipped: {self.skipped}; "
            f"mailings completed: {self.completed}"
        )
        if self.breaker:
            text += f"; stopped early: {self.breaker}"
        if self.errors:
            text += f"; errors: {len(self.errors)} (see the log)"
        return text


def _lock_rows(queryset):
    """Row locks that other passes skip instead of waiting for (PostgreSQL); SQLite serialises writers."""
    if connection.features.has_select_for_update_skip_locked:
        return queryset.select_for_update(skip_locked=True, of=("self",))
    return queryset


# --- 1. starting occurrences --------------------------------------------------------


def _occurrence_time(mailing: Mailing, now: dt.datetime) -> dt.datetime:
    """The occurrence to send: the latest one due, so a scheduler that was down sends one catch-up, not a
    backlog of every missed day."""
    moment = min(now, mailing.end_at - dt.timedelta(microseconds=1))
    latest = schedule.current_occurrence(
        mailing.start_at, mailing.end_at, mailing.periodicity, mailing.tz, now=moment
    )
    return max(mailing.next_run_at, latest) if latest else mailing.next_run_at


def materialise(occurrence: Occurrence, now: dt.datetime) -> int:
    """One pending delivery per client subscribed now; idempotent (unique per occurrence and client).

    A single INSERT ... SELECT: the rows never pass through Python, so 50,000 recipients cost one statement
    and no memory in the sender. Returns how many deliveries the occurrence has.
    """
    at = connection.ops.adapt_datetimefield_value(now)  # raw SQL: store dates exactly as the ORM does
    with connection.cursor() as cursor:
        cursor.execute(_MATERIALISE, [occurrence.mailing_id, occurrence.pk, at, at, occurrence.mailing_id])
    return occurrence.deliveries.count()


def start_due_occurrences(now: dt.datetime, summary: PassSummary) -> None:
    failed: set[int] = set()
    while True:
        with transaction.atomic():
            due = _lock_rows(selectors.due_mailings(now).exclude(pk__in=failed).order_by("next_run_at", "pk"))
            mailings = list(due[:MAILINGS_PER_CLAIM])
            if not mailings:
                return
            for mailing in mailings:
                try:
                    with transaction.atomic():
                        occurrence, created = Occurrence.objects.get_or_create(
                            mailing=mailing, scheduled_for=_occurrence_time(mailing, now)
                        )
                        if not created and occurrence.finished_at is not None:
                            # Edited mid-period: clients added since get this occurrence too.
                            occurrence.finished_at = None
                            occurrence.save(update_fields=["finished_at"])
                        summary.queued += materialise(occurrence, now)
                        mailing.status = Mailing.Status.STARTED
                        mailing.next_run_at = schedule.next_occurrence(
                            mailing.start_at,
                            mailing.end_at,
                            mailing.periodicity,
                            mailing.tz,
                            after=occurrence.scheduled_for,
                        )
                        mailing.save(update_fields=["status", "next_run_at", "updated_at"])
                        summary.occurrences += 1
                except Exception as exc:  # one broken mailing never stops the others
                    failed.add(mailing.pk)
                    logger.exception("could not start mailing %s", mailing.pk)
                    summary.errors.append(f"mailing {mailing.pk}: {exc}")


# --- 2. delivering ------------------------------------------------------------------


@dataclass
class Job:
    pk: int
    occurrence_id: int
    email: str
    full_name: str
    token: str
    attempts: int
    lease: str  # this claim's token: renewing and recording only touch rows that still carry it


def backoff(attempts: int) -> dt.timedelta:
    """Exponential delay after the `attempts`-th failure, with +-20% jitter so retries don't stampede."""
    base = settings.MAILER_RETRY_BASE_SECONDS * 2 ** (attempts - 1)
    seconds = min(base, settings.MAILER_RETRY_MAX_SECONDS) * random.uniform(0.8, 1.2)  # noqa: S311
    return dt.timedelta(seconds=seconds)


class Delivering:
    """State shared by the workers of one pass: the circuit breaker, the rate limit, the summary."""

    def __init__(
        self, summary: PassSummary, occurrence_ids: list[int] | None, now: dt.datetime | None = None
    ):
        self.summary = summary
        # Only work due when the pass began: a retry scheduled during this pass waits for a later one.
        self.now = now or timezone.now()
        self.occurrence_ids = occurrence_ids
        self.stop = threading.Event()
        self.limiter = RateLimiter(settings.MAILER_RATE_LIMIT)
        self._lock = threading.Lock()
        self._consecutive_connection_failures = 0
        self._prepared: dict[int, PreparedMessage] = {}

    def prepared(self, occurrence_id: int) -> PreparedMessage:
        with self._lock:
            if occurrence_id not in self._prepared:
                occurrence = Occurrence.objects.select_related("mailing__message").get(pk=occurrence_id)
                self._prepared[occurrence_id] = PreparedMessage(occurrence.mailing.message)
            return self._prepared[occurrence_id]

    def observe(self, result: SendResult) -> None:
        with self._lock:
            if not result.connection_failed:
                self._consecutive_connection_failures = 0
                return
            self._consecutive_connection_failures += 1
            if (
                self._consecutive_connection_failures < settings.MAILER_BREAKER_THRESHOLD
                or self.stop.is_set()
            ):
                return
            cooldown = settings.MAILER_BREAKER_COOLDOWN_SECONDS
            reason = (
                f"{self._consecutive_connection_failures} connection failures in a row "
                f"(last: {result.text}); SMTP server left alone for {cooldown:g} s"
            )
            self.summary.breaker = reason
            self.stop.set()
        until = timezone.now() + dt.timedelta(seconds=cooldown)
        cache.set(BREAKER_CACHE_KEY, {"until": until.isoformat(), "reason": reason}, timeout=cooldown)
        logger.warning("circuit breaker open: %s", reason)

    # claiming, recording and releasing run in the worker's own thread and DB connection

    def _clock(self) -> dt.datetime:
        return max(timezone.now(), self.now)

    def sendable_occurrences(self) -> list[int]:
        """Occurrences with work left whose mailing may be sent now (R-SEND-8). Asked before every claim, so
        a mailing disabled or an owner blocked mid-pass stops within one batch."""
        occurrences = Occurrence.objects.filter(
            finished_at__isnull=True,
            mailing__is_active=True,
            mailing__owner__is_active=True,
            mailing__owner__is_blocked=False,
        )
        if self.occurrence_ids is not None:
            occurrences = occurrences.filter(pk__in=self.occurrence_ids)
        return list(occurrences.values_list("pk", flat=True))

    def claim(self) -> list[Job]:
        now = self.now
        sendable = self.sendable_occurrences()
        if not sendable:
            return []
        # No joins to mailings or users here: the queue's partial index answers this on its own.
        queue = Delivery.objects.filter(
            occurrence_id__in=sendable,
            status__in=(Delivery.Status.PENDING, Delivery.Status.RETRYING),
            next_attempt_at__lte=now,
        )
        with transaction.atomic():
            rows = list(
                _lock_rows(queue.order_by("next_attempt_at", "pk")).values_list(
                    "pk",
                    "occurrence_id",
                    "email",
                    "client__full_name",
                    "client__unsubscribe_token",
                    "client__unsubscribed_at",
                    "attempts",
                    "client_id",
                )[: settings.MAILER_CLAIM_BATCH]
            )
            if not rows:
                return []
            lease = uuid.uuid4().hex
            Delivery.objects.filter(pk__in=[row[0] for row in rows]).update(
                next_attempt_at=self._clock() + dt.timedelta(seconds=settings.MAILER_CLAIM_LEASE_SECONDS),
                claim_token=lease,
            )
            gone = [row[0] for row in rows if row[5] is not None or row[7] is None]
            if gone:
                # Unsubscribed (or deleted) since the occurrence started: never sent to (R-SEND-8).
                Delivery.objects.filter(pk__in=gone).update(
                    status=Delivery.Status.SKIPPED, next_attempt_at=None, last_response="client unsubscribed"
                )
                for _ in gone:
                    self.summary.count("skipped")
        return [
            Job(
                pk=row[0],
                occurrence_id=row[1],
                email=row[2],
                full_name=row[3],
                token=row[4],
                attempts=row[6],
                lease=lease,
            )
            for row in rows
            if row[5] is None and row[7] is not None
        ]

    def record(self, job: Job, result: SendResult) -> None:
        now = self._clock()
        attempts = job.attempts + 1
        answer = f"{result.code} {result.text}" if result.code else result.text
        if result.outcome == SENT:
            status, next_at, sent_at = Delivery.Status.SENT, None, now
        elif result.outcome == PERMANENT or attempts >= settings.MAILER_MAX_ATTEMPTS:
            status, next_at, sent_at = Delivery.Status.FAILED, None, None
        else:
            status, next_at, sent_at = Delivery.Status.RETRYING, now + backoff(attempts), None
        row = recorder.Row(
            job.pk,
            job.lease,
            status,
            attempts,
            now,
            next_at,
            answer,
            sent_at,
            result.outcome,
            result.code,
            result.text,
        )
        if not recorder.write([row]):
            # Our lease ran out while this message was in flight and another pass took the delivery: it
            # records its own attempt; we count nothing twice.
            logger.warning("delivery %s was taken over by another pass while being sent", job.pk)
            return
        self.summary.count({"sent": "sent", "failed": "failed", "retrying": "retrying"}[status])

    def renew(self, jobs: list[Job]) -> list[Job]:
        """Extend the lease of the deliveries still in hand (a slow server must not let another pass take
        them) and return those that are still ours; any whose lease already ran out is dropped, unsent."""
        if not jobs:
            return jobs
        lease = dt.timedelta(seconds=settings.MAILER_CLAIM_LEASE_SECONDS)
        ours = Delivery.objects.filter(
            pk__in=[job.pk for job in jobs], claim_token=jobs[0].lease, status__in=Delivery.PENDING_STATUSES
        )
        if ours.update(next_attempt_at=self._clock() + lease) == len(jobs):
            return jobs
        kept = set(ours.values_list("pk", flat=True))
        return [job for job in jobs if job.pk in kept]

    def release(self, jobs: list[Job]) -> None:
        """Give back deliveries taken but not tried (the breaker tripped): due again after the cooldown."""
        if not jobs:
            return
        again = self._clock() + dt.timedelta(seconds=settings.MAILER_BREAKER_COOLDOWN_SECONDS)
        Delivery.objects.filter(pk__in=[job.pk for job in jobs], claim_token=jobs[0].lease).update(
            next_attempt_at=again
        )

    def work(self) -> None:
        _tune_connection()
        transport = open_connection()
        try:
            renew_every = settings.MAILER_CLAIM_LEASE_SECONDS / 2
            while not self.stop.is_set():
                jobs = self.claim()
                if not jobs:
                    return
                leased_at = time.monotonic()
                while jobs:
                    if self.stop.is_set():
                        self.release(jobs)
                        return
                    if time.monotonic() - leased_at > renew_every:
                        jobs = self.renew(jobs)
                        leased_at = time.monotonic()
                        if not jobs:
                            break
                    job = jobs.pop(0)
                    self.limiter.wait()
                    try:
                        result = transport.send(
                            self.prepared(job.occurrence_id),
                            email=job.email,
                            full_name=job.full_name,
                            token=job.token,
                        )
                    except Exception as exc:  # a bug in rendering must fail one recipient, not the pass
                        logger.exception("could not send delivery %s", job.pk)
                        result = SendResult("temporary", None, f"internal error: {type(exc).__name__}: {exc}")
                    self.record(job, result)
                    self.observe(result)
        finally:
            transport.close()


def breaker_state() -> dict | None:
    return cache.get(BREAKER_CACHE_KEY)


def deliver(
    summary: PassSummary, *, occurrence_ids: list[int] | None = None, now: dt.datetime | None = None
) -> None:
    """Send every pending delivery and every retry that is due (only of `occurrence_ids` when given)."""
    state = breaker_state()
    if state:
        summary.breaker = f"SMTP server left alone until {state['until']} ({state['reason']})"
        return
    delivering = Delivering(summary, occurrence_ids, now)
    workers = max(1, settings.MAILER_SEND_WORKERS)
    if workers == 1:
        _guarded(delivering, summary, in_thread=False)
        return
    threads = [
        threading.Thread(
            target=_guarded, args=(delivering, summary, True), name=f"mailer-send-{n}", daemon=True
        )
        for n in range(workers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _tune_connection() -> None:
    if connection.vendor == "postgresql" and not settings.MAILER_SYNCHRONOUS_COMMIT:
        # See MAILER_SYNCHRONOUS_COMMIT: a killed sender loses nothing either way; with it off, only a crash
        # of PostgreSQL itself can forget the last fraction of a second of "sent" marks.
        with connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit TO OFF")


def _guarded(delivering: Delivering, summary: PassSummary, in_thread: bool) -> None:
    try:
        delivering.work()
    except Exception as exc:  # the database went away mid-pass, etc.: report, never raise
        logger.exception("a sending worker stopped")
        summary.errors.append(f"worker: {exc}")
    finally:
        if in_thread:
            connection.close()


# --- 3. finishing -------------------------------------------------------------------


def finish(summary: PassSummary) -> None:
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


# --- entry points -------------------------------------------------------------------


def send_due(*, now: dt.datetime | None = None) -> PassSummary:
    """One pass over everything due. Never raises: problems end up in the summary and the log."""
    summary = PassSummary()
    for step in (
        lambda: start_due_occurrences(now or timezone.now(), summary),
        lambda: deliver(summary, now=now),
        lambda: finish(summary),
    ):
        try:
            step()
        except Exception as exc:
            logger.exception("sending pass step failed")
            summary.errors.append(str(exc))
    return summary


def send_mailing_now(mailing: Mailing) -> PassSummary:
    """A manual occurrence of one mailing, now (`send_mailing ID`); the schedule is left as it was."""
    summary = PassSummary()
    now = timezone.now()
    with transaction.atomic():
        occurrence = Occurrence.objects.create(mailing=mailing, scheduled_for=now, is_manual=True)
        summary.queued = materialise(occurrence, now)
        summary.occurrences = 1
        if mailing.status == Mailing.Status.CREATED:
            mailing.status = Mailing.Status.STARTED
            mailing.save(update_fields=["status", "updated_at"])
    deliver(summary, occurrence_ids=[occurrence.pk])
    try:
        finish(summary)
    except Exception as exc:
        logger.exception("finishing after a manual send failed")
        summary.errors.append(str(exc))
    return summary
