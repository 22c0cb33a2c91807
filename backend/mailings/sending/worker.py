"""The workers of one pass: threads, each with its own SMTP connection and database connection, sharing a
rate limiter, the circuit breaker, the retry policy and the messages prepared once per occurrence.

A pass given a `StopRequest` can be stopped quickly (a scheduler's SIGTERM): once it is set, every worker
finishes the message it is sending, records it, gives the rest of its batch back (due at once, not after
the lease) and claims nothing more; a worker still in a send at the request's deadline is left behind and
its leases are given back too, so the pass returns in time whatever the SMTP server does.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.db import connection
from django.utils import timezone

from .. import answers, selectors
from ..compose import Connection, PreparedMessage, SendResult
from ..models import DeliveryAttempt, Occurrence
from . import failures, queue
from .breaker import CircuitBreaker
from .policy import RetryPolicy
from .queue import Job
from .summary import PassSummary
from .transport import open_connection

logger = logging.getLogger(__name__)


class StopRequest:
    """Asked once (by a signal handler) to stop the passes of a process by `deadline` (time.monotonic())."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.deadline = math.inf

    def set(self, *, within: float) -> None:
        if not self._event.is_set():
            self.deadline = time.monotonic() + within
            self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`, waking as soon as the stop is asked; True when it was."""
        return self._event.wait(seconds)

    def remaining(self) -> float:
        return self.deadline - time.monotonic()


class RateLimiter:
    """Spaces sends evenly so that all workers together stay under `rate` messages per second."""

    def __init__(self, rate: float):
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._next = time.monotonic()
        self._lock = threading.Lock()

    def wait(self, stop: StopRequest) -> None:
        """Until this worker's turn, or until the stop is asked."""
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            slot = max(self._next, now)
            self._next = slot + self.interval
        delay = slot - now
        if delay > 0:
            stop.wait(delay)


class PreparedMessages:
    """Each occurrence's message prepared once per pass, whichever worker asks first."""

    def __init__(self) -> None:
        self._prepared: dict[int, PreparedMessage] = {}
        self._lock = threading.Lock()

    def get(self, occurrence_id: int) -> PreparedMessage:
        with self._lock:
            if occurrence_id not in self._prepared:
                occurrence = Occurrence.objects.select_related(
                    "mailing__message", "mailing__owner", "mailing__sender"
                ).get(pk=occurrence_id)
                mailing = occurrence.mailing
                self._prepared[occurrence_id] = PreparedMessage(
                    mailing.message, sender=selectors.sender_for(mailing), mailing=mailing
                )
            return self._prepared[occurrence_id]


# An answer waits at most this long (plus one send) for the next ones to be written with it.
RECORD_WITHIN_SECONDS = 0.05
# At a stop deadline, how long the pass waits for a worker's write of its answers already under way.
STOP_FLUSH_SECONDS = 1.0


class Unrecorded:
    """One worker's attempts the server has answered and the database does not hold yet: written
    MAILER_RECORD_BATCH at a time in one statement; at once after a send that took RECORD_WITHIN_SECONDS or
    more (a slow server: one write per message costs nothing next to it); before a send once the oldest
    waited that long; and always before the worker claims, gives back or stops. A sender killed outright
    (kill -9) can repeat these and the message in flight: at most MAILER_RECORD_BATCH per worker."""

    def __init__(self, size: int):
        self.size = size
        self._results: list[queue.Result] = []
        self._since = 0.0
        self._lock = threading.Lock()  # the pass's thread takes them at a stop deadline (give_back_held)
        self._flushing = threading.Lock()

    def add(self, result: queue.Result) -> bool:
        """Keep `result`; True when the batch is full and should be written now."""
        with self._lock:
            if not self._results:
                self._since = time.monotonic()
            self._results.append(result)
            return len(self._results) >= self.size

    def flush(self, write: Callable[[list[queue.Result]], None], *, timeout: float = -1) -> bool:
        """Write what is kept with `write`, holding this buffer's flush lock from taking to written, so that
        a stop deadline's flush waits for a worker's write in progress instead of racing past it. False
        when the lock was not had within `timeout` seconds."""
        if not self._flushing.acquire(timeout=timeout):
            return False
        try:
            write(self.take())
        finally:
            self._flushing.release()
        return True

    def stale(self) -> bool:
        with self._lock:
            return bool(self._results) and time.monotonic() - self._since >= RECORD_WITHIN_SECONDS

    def take(self) -> list[queue.Result]:
        with self._lock:
            results, self._results = self._results, []
            return results


class Unwritten:
    """Answers a pass could not write because the database went away (a restart, a lost connection, SQLite
    locked too long), kept in this process for its next pass to write first. Their deliveries still carry
    the lease, so if the database is back before the lease ends (MAILER_CLAIM_LEASE_SECONDS) they are
    recorded and not sent again; only a process dying as well, or the lease running out first, repeats
    them. At most MAILER_RECORD_BATCH per worker of each broken pass."""

    _results: list[queue.Result] = []
    _lock = threading.Lock()

    @classmethod
    def keep(cls, results: list[queue.Result]) -> None:
        with cls._lock:
            cls._results.extend(results)

    @classmethod
    def take(cls) -> list[queue.Result]:
        with cls._lock:
            results, cls._results[:] = list(cls._results), []
            return results


class Workers:
    """What the workers of one pass share; `run()` sends until nothing is due or the breaker opens."""

    def __init__(
        self,
        summary: PassSummary,
        *,
        occurrence_ids: list[int] | None = None,
        now: dt.datetime | None = None,
        breaker: CircuitBreaker | None = None,
        stop: StopRequest | None = None,
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
        self.stoppable = stop is not None
        self.stop = stop or StopRequest()
        self._held: set[str] = set()  # the leases of the batches the workers have in hand
        self._unrecorded: list[Unrecorded] = []  # each worker's, for a stop deadline to write
        self._held_lock = threading.Lock()

    def _clock(self) -> dt.datetime:
        return max(timezone.now(), self.now)

    # The queue calls run in the calling worker's own thread and database connection.

    def claim(self) -> list[Job]:
        """The next batch to send; empty when nothing is due. A batch whose every delivery was skipped or
        kept back by a quota is no reason to stop: those rows left the queue, so the next claim goes on."""
        while True:
            claimed = queue.claim(
                now=self.now,
                occurrence_ids=self.occurrence_ids,
                batch=settings.MAILER_CLAIM_BATCH,
                lease_until=self._clock() + self.lease,
            )
            for _ in range(claimed.skipped):
                self.summary.count("skipped")
            self.summary.count("deferred", claimed.deferred)
            if claimed.jobs or not (claimed.skipped or claimed.deferred):
                return claimed.jobs

    def renew(self, jobs: list[Job]) -> list[Job]:
        return queue.renew(jobs, lease_until=self._clock() + self.lease)

    def release(self, jobs: list[Job]) -> None:
        cooldown = dt.timedelta(seconds=self.breaker.cooldown)
        queue.release(jobs, due_at=self._clock() + cooldown)

    def give_back(self, jobs: list[Job]) -> None:
        """Stopping: the batch's untried deliveries are due again at once (as when this pass took them)."""
        self.summary.count("given_back", queue.release(jobs, due_at=self.now))

    def give_back_held(self) -> None:
        """The deadline passed with a worker still sending: every lease still held goes back, in flight or
        not, so that another process (or the restart) takes it without waiting for it to expire."""
        with self._held_lock:
            leases = list(self._held)
            unrecorded = list(self._unrecorded)
        for results in unrecorded:  # answered already: recorded, not given back to be sent again
            try:
                if not results.flush(self.write, timeout=STOP_FLUSH_SECONDS):
                    logger.warning("stopping: a worker's answers were still being written; not waited for")
            except Exception as exc:  # the leases still go back below
                self.summary.fail("recording answers at the stop deadline", exc)
        given = queue.release_leases(leases, due_at=self.now)
        if not given:
            return  # only closing a connection was left
        self.summary.count("given_back", given)
        logger.warning(
            "stopping: a send outlasted MAILER_STOP_SECONDS; %d deliveries given back with it "
            "(one already accepted by the server may be sent again)",
            given,
        )

    def result(self, job: Job, result: SendResult) -> queue.Result:
        """The attempt `result` of `job` as it will be recorded: the delivery's next state decided now."""
        now = self._clock()
        state = self.policy.next_state(attempts_before=job.attempts, outcome=result.outcome, now=now)
        return queue.Result(job, state, now, result.outcome, result.code, result.text)

    def record(self, job: Job, result: SendResult) -> None:
        """Record one attempt now."""
        self.write([self.result(job, result)])

    def write(self, results: list[queue.Result]) -> None:
        if not results:
            return
        try:
            recorded = queue.record(results)
        except Exception as exc:
            if failures.database_unreachable(exc):
                Unwritten.keep(results)  # the next pass writes them (see Unwritten)
            raise
        counts: dict[str, int] = {}
        for result in results:
            if result.job.pk in recorded:
                counts[result.state.status] = counts.get(result.state.status, 0) + 1
            else:
                logger.warning(
                    "delivery %s was taken over by another pass while being sent",
                    result.job.pk,
                    extra=_ids(result.job),
                )
        for status, n in counts.items():
            self.summary.count(status, n)

    def send(self, transport: Connection, job: Job) -> SendResult:
        try:
            prepared = self.messages.get(job.occurrence_id)
            return transport.send(
                prepared, email=job.email, full_name=job.full_name, token=job.token, delivery_id=job.pk
            )
        except Exception as exc:  # a bug in rendering must fail one recipient, not the pass
            logger.exception("could not send delivery %s", job.pk, extra=_ids(job))
            return SendResult(
                DeliveryAttempt.Outcome.TEMPORARY, None, f"{answers.INTERNAL}{type(exc).__name__}: {exc}"
            )

    def work(self) -> None:
        """One worker: claim a batch, send it one by one (renewing the lease as it goes), repeat."""
        _tune_connection()
        transport = open_connection()
        tripped = self.breaker.tripped
        unrecorded = Unrecorded(settings.MAILER_RECORD_BATCH)
        with self._held_lock:
            self._unrecorded.append(unrecorded)
        try:
            renew_every = self.lease.total_seconds() / 2
            while not tripped.is_set() and not self.stop.is_set():
                unrecorded.flush(self.write)
                jobs = self.claim()
                if not jobs:
                    return
                lease = jobs[0].lease
                with self._held_lock:
                    self._held.add(lease)
                try:
                    self._send_batch(transport, jobs, renew_every, unrecorded)
                finally:
                    with self._held_lock:
                        self._held.discard(lease)
        finally:
            # Whatever ended the worker (nothing left, a stop, an error in a claim or a renewal), the answers
            # it holds are written: left unwritten, their deliveries would be sent again after the lease.
            try:
                unrecorded.flush(self.write)
            except Exception as exc:
                self.summary.fail("recording a worker's last answers", exc)
            finally:
                transport.close()

    def _send_batch(
        self, transport: Connection, jobs: list[Job], renew_every: float, unrecorded: Unrecorded
    ) -> None:
        leased_at = time.monotonic()
        while jobs:
            if self.breaker.tripped.is_set():
                unrecorded.flush(self.write)
                self.release(jobs)
                return
            if self.stop.is_set():
                unrecorded.flush(self.write)
                self.give_back(jobs)
                return
            # Before a send once the oldest answer waited long enough, and before every wait of the rate
            # limiter (which can outlast the lease that keeps other passes off those deliveries).
            if unrecorded.stale() or self.limiter.interval:
                unrecorded.flush(self.write)
            if time.monotonic() - leased_at > renew_every:
                jobs = self.renew(jobs)
                leased_at = time.monotonic()
                if not jobs:
                    return
            self.limiter.wait(self.stop)
            if self.stop.is_set():
                continue  # the loop's top gives the batch back
            job = jobs.pop(0)
            sending = time.monotonic()
            result = self.send(transport, job)
            slow = time.monotonic() - sending >= RECORD_WITHIN_SECONDS  # a database write costs little then
            if unrecorded.add(self.result(job, result)) or slow:
                unrecorded.flush(self.write)
            if self.breaker.observe(connection_failed=result.connection_failed, text=result.text):
                self.summary.breaker = self.breaker.reason

    def run(self) -> None:
        """Every pending delivery and every retry that is due, with MAILER_SEND_WORKERS threads."""
        carried = Unwritten.take()
        if carried:  # a previous pass of this process lost the database before it could write these
            self.write(carried)  # raises (keeping them again) while the database is still away
            logger.info("recorded %d answers a previous pass could not write", len(carried))
        state = self.breaker.open_state()
        if state:
            self.summary.breaker = f"SMTP server left alone until {state['until']} ({state['reason']})"
            return
        workers = max(1, settings.MAILER_SEND_WORKERS)
        # A stoppable pass keeps its single worker in a thread too, so that this thread can keep the deadline.
        if workers == 1 and not self.stoppable:
            self._guarded(in_thread=False)
            return
        threads = [
            threading.Thread(target=self._guarded, args=(True,), name=f"mailer-send-{n}", daemon=True)
            for n in range(workers)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(timeout=0.1)
                if thread.is_alive() and self.stop.is_set() and self.stop.remaining() <= 0:
                    # The workers are daemon threads: one stuck in a send dies with the process.
                    self.give_back_held()
                    return

    def _guarded(self, in_thread: bool) -> None:
        try:
            self.work()
        except Exception as exc:  # the database went away mid-pass, etc.: report, never raise
            self.summary.fail("a worker", exc)
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
