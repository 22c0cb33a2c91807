"""The workers of one pass: threads, each with its own SMTP connection and database connection, sharing a
rate limiter, the circuit breaker, the retry policy and the messages prepared once per occurrence."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import connection
from django.utils import timezone

from ..models import DeliveryAttempt, Occurrence
from . import queue
from .breaker import CircuitBreaker
from .compose import PreparedMessage
from .policy import RetryPolicy
from .queue import Job
from .transport import Connection, SendResult, open_connection

if TYPE_CHECKING:
    from .engine import PassSummary

logger = logging.getLogger(__name__)


class RateLimiter:
    """Spaces sends evenly so that all workers together stay under `rate` messages per second."""

    def __init__(self, rate: float):
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._next = time.monotonic()
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            slot = max(self._next, now)
            self._next = slot + self.interval
        delay = slot - now
        if delay > 0:
            time.sleep(delay)


class PreparedMessages:
    """Each occurrence's message prepared once per pass, whichever worker asks first."""

    def __init__(self) -> None:
        self._prepared: dict[int, PreparedMessage] = {}
        self._lock = threading.Lock()

    def get(self, occurrence_id: int) -> PreparedMessage:
        with self._lock:
            if occurrence_id not in self._prepared:
                occurrence = Occurrence.objects.select_related("mailing__message").get(pk=occurrence_id)
                self._prepared[occurrence_id] = PreparedMessage(occurrence.mailing.message)
            return self._prepared[occurrence_id]


class Workers:
    """What the workers of one pass share; `run()` sends until nothing is due or the breaker opens."""

    def __init__(
        self,
        summary: PassSummary,
        *,
        occurrence_ids: list[int] | None = None,
        now: dt.datetime | None = None,
        breaker: CircuitBreaker | None = None,
    ):
        self.summary = summary
        # Only work due when the pass began: a retry scheduled during this pass waits for a later one.
        self.now = now or timezone.now()
        self.occurrence_ids = occurrence_ids
        self.breaker = breaker or CircuitBreaker.from_settings()
        self.policy = RetryPolicy.from_settings()
        self.limiter = RateLimiter(settings.MAILER_RATE_LIMIT)
        self.messages = PreparedMessages()
        self.lease = dt.timedelta(seconds=settings.MAILER_CLAIM_LEASE_SECONDS)

    def _clock(self) -> dt.datetime:
        return max(timezone.now(), self.now)

    # The queue calls run in the calling worker's own thread and database connection.

    def claim(self) -> list[Job]:
        claimed = queue.claim(
            now=self.now,
            occurrence_ids=self.occurrence_ids,
            batch=settings.MAILER_CLAIM_BATCH,
            lease_until=self._clock() + self.lease,
        )
        for _ in range(claimed.skipped):
            self.summary.count("skipped")
        return claimed.jobs

    def renew(self, jobs: list[Job]) -> list[Job]:
        return queue.renew(jobs, lease_until=self._clock() + self.lease)

    def release(self, jobs: list[Job]) -> None:
        cooldown = dt.timedelta(seconds=self.breaker.cooldown)
        queue.release(jobs, due_at=self._clock() + cooldown)

    def record(self, job: Job, result: SendResult) -> None:
        now = self._clock()
        state = self.policy.next_state(attempts_before=job.attempts, outcome=result.outcome, now=now)
        if not queue.record(job, state, at=now, outcome=result.outcome, code=result.code, text=result.text):
            logger.warning(
                "delivery %s was taken over by another pass while being sent", job.pk, extra=_ids(job)
            )
            return
        self.summary.count(state.status)

    def send(self, transport: Connection, job: Job) -> SendResult:
        try:
            prepared = self.messages.get(job.occurrence_id)
            return transport.send(prepared, email=job.email, full_name=job.full_name, token=job.token)
        except Exception as exc:  # a bug in rendering must fail one recipient, not the pass
            logger.exception("could not send delivery %s", job.pk, extra=_ids(job))
            return SendResult(
                DeliveryAttempt.Outcome.TEMPORARY, None, f"internal error: {type(exc).__name__}: {exc}"
            )

    def work(self) -> None:
        """One worker: claim a batch, send it one by one (renewing the lease as it goes), repeat."""
        _tune_connection()
        transport = open_connection()
        stop = self.breaker.tripped
        try:
            renew_every = self.lease.total_seconds() / 2
            while not stop.is_set():
                jobs = self.claim()
                if not jobs:
                    return
                leased_at = time.monotonic()
                while jobs:
                    if stop.is_set():
                        self.release(jobs)
                        return
                    if time.monotonic() - leased_at > renew_every:
                        jobs = self.renew(jobs)
                        leased_at = time.monotonic()
                        if not jobs:
                            break
                    job = jobs.pop(0)
                    self.limiter.wait()
                    result = self.send(transport, job)
                    self.record(job, result)
                    if self.breaker.observe(connection_failed=result.connection_failed, text=result.text):
                        self.summary.breaker = self.breaker.reason
        finally:
            transport.close()

    def run(self) -> None:
        """Every pending delivery and every retry that is due, with MAILER_SEND_WORKERS threads."""
        state = self.breaker.open_state()
        if state:
            self.summary.breaker = f"SMTP server left alone until {state['until']} ({state['reason']})"
            return
        workers = max(1, settings.MAILER_SEND_WORKERS)
        if workers == 1:
            self._guarded(in_thread=False)
            return
        threads = [
            threading.Thread(target=self._guarded, args=(True,), name=f"mailer-send-{n}", daemon=True)
            for n in range(workers)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _guarded(self, in_thread: bool) -> None:
        try:
            self.work()
        except Exception as exc:  # the database went away mid-pass, etc.: report, never raise
            logger.exception("a sending worker stopped")
            self.summary.errors.append(f"worker: {exc}")
        finally:
            if in_thread:
                connection.close()


def _ids(job: Job) -> dict:
    """The ids a log line about `job` carries as fields (LOG_FORMAT=json)."""
    return {"occurrence_id": job.occurrence_id, "delivery_id": job.pk}


def _tune_connection() -> None:
    if connection.vendor == "postgresql" and not settings.MAILER_SYNCHRONOUS_COMMIT:
        # See MAILER_SYNCHRONOUS_COMMIT: a killed sender loses nothing either way; with it off, only a crash
        # of PostgreSQL itself can forget the last fraction of a second of "sent" marks.
        with connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit TO OFF")
