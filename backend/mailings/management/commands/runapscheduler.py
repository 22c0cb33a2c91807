"""The scheduler process (R-SEND-6): APScheduler with django-apscheduler's memory job store, so the jobs live
in this process and their execution history in the database.

Any number of these processes may share one database (DESIGN.md "Scale"). APScheduler 3 does not support
several schedulers on one job store: with the database store each process ran and rescheduled the same job
rows ("Job 'send_due' no longer exists!", "maximum number of running instances reached"). Here every process
has its own jobs: the sending pass every MAILER_TICK_SECONDS, which pauses itself while it runs (a long
pass delays the next tick instead of having ticks skipped), the account-email outbox (sign-up links, password
resets: accounts.outbox) on the same interval but as a job of its own, so a long mailing pass never keeps a
person waiting for their link, the background client imports (services.client_imports_run: a large CSV
file, chunk by chunk under a lease) on the same interval, the daily purge of the delivery log older than
DELIVERY_LOG_DAYS (retention.py: batches, any number of processes at once), the review of senders' bounce
and complaint rates every SEND_REVIEW_MINUTES (services.review_senders, idempotent), the opens and clicks
the public endpoints buffered in Redis, stored in batches every MAILER_TICK_SECONDS (tracking.buffer: one
drain at a time across processes, nothing lost if a process dies), and the weekly clean-up
of the history, which
every process schedules at its own moment of Monday's first hour and which runs in one process at a time
under a row lock. Processes share the sending work through the queues' SKIP LOCKED claims.

Stopping (SIGTERM, SIGINT): no new pass starts, the running one stops claiming and gives back what its
workers hold (worker.py), and the process exits within MAILER_STOP_SECONDS of the signal.
"""

import contextlib
import logging
import os
import signal
import sys
import threading
import time

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import DatabaseError, close_old_connections, transaction
from django_apscheduler import util
from django_apscheduler.jobstores import DjangoMemoryJobStore
from django_apscheduler.models import DjangoJob, DjangoJobExecution

from backend.accounts.outbox import send_account_mail
from backend.mailings import services
from backend.mailings.retention import purge_bounce_raw, purge_delivery_log
from backend.mailings.sending import StopRequest, send_due
from backend.mailings.sending.queue import lock_rows
from backend.mailings.tracking import buffer as tracking_buffer
from backend.web.health import watch_ticks

logger = logging.getLogger(__name__)

TICK_JOB = "send_due"
ACCOUNT_MAIL_JOB = "send_account_mail"
CLEANUP_JOB = "delete_old_job_executions"
IMPORT_JOB = "import_clients"
PURGE_JOB = "purge_delivery_log"
REVIEW_JOB = "review_senders"
TRACKING_JOB = "drain_tracking"
JOB_HISTORY_MAX_AGE_SECONDS = 7 * 24 * 3600
# Shares of MAILER_STOP_SECONDS: by the first the pass has given back what its workers hold; by the second
# the process exits even if a job is still running; the rest is the interpreter's own exit.
PASS_SHARE_OF_STOP = 0.7
EXIT_SHARE_OF_STOP = 0.9


class JobStore(DjangoMemoryJobStore):
    """Jobs in this process's memory, their run history in the database (django-apscheduler). While the
    database is unreachable (a restart), a run that cannot be recorded is one warning line, not a traceback
    from APScheduler's listener: the pass itself already said that the database went away."""

    @classmethod
    def _record(cls, handler, event):
        try:
            return handler(event)
        except DatabaseError as exc:
            logger.warning("Job run of %r not recorded: the database is unreachable (%s).", event.job_id, exc)
            close_old_connections()
            return None

    @classmethod
    def handle_submission_event(cls, event):
        return cls._record(super().handle_submission_event, event)

    @classmethod
    def handle_execution_event(cls, event):
        return cls._record(super().handle_execution_event, event)

    @classmethod
    def handle_error_event(cls, event):
        return cls._record(super().handle_error_event, event)


@util.close_old_connections
def send_due_job(stop: StopRequest) -> None:
    summary = send_due(stop=stop)
    busy = (
        summary.occurrences
        or summary.sent
        or summary.failed
        or summary.retrying
        or summary.skipped
        or summary.given_back
    )
    if busy or summary.breaker or summary.errors:
        logger.info("send pass: %s", summary)


@util.close_old_connections
def send_account_mail_job(stop: StopRequest) -> None:
    summary = send_account_mail(stop=stop)
    if summary.busy:
        logger.info("account mail pass: %s", summary)


@util.close_old_connections
def import_clients_job(stop: StopRequest) -> None:
    """Background client imports (R-AUD-3): chunk by chunk until none waits or the process stops; an
    import this process does not finish is resumed from its last chunk by the next run of any process."""
    chunks = services.client_imports_run(stop=stop.is_set)
    if chunks:
        logger.info("client imports: %d chunks", chunks)


@util.close_old_connections
def delete_old_job_executions(max_age: int = JOB_HISTORY_MAX_AGE_SECONDS) -> None:
    """Keep the job-execution table small: drop entries older than `max_age` seconds. One process at a time:
    a process that finds the job's row locked leaves the work to the one cleaning; a later run finds
    nothing left to delete."""
    with transaction.atomic():
        if not list(lock_rows(DjangoJob.objects.filter(pk=CLEANUP_JOB)).values_list("pk", flat=True)):
            logger.info("job history clean-up: another process is at it")
            return
        DjangoJobExecution.objects.delete_old_job_executions(max_age)


@util.close_old_connections
def purge_delivery_log_job(stop: StopRequest) -> None:
    """Deletes the per-recipient log of sends finished more than DELIVERY_LOG_DAYS ago, in batches
    (`retention`); stops between batches on SIGTERM, and the next day's run carries on. Then empties the raw
    mail of bounces older than BOUNCE_RAW_DAYS (the bounce rows stay)."""
    purge_delivery_log(stop=stop)
    if not stop.is_set():
        purge_bounce_raw()


@util.close_old_connections
def review_senders_job() -> None:
    """Pauses owners whose recent bounce or complaint rate passed its threshold (R-DLV-5,
    `services.review_senders`); idempotent, so every process may run it."""
    paused = services.review_senders()
    if paused:
        logger.warning("review of senders: sending paused for %d owner(s)", len(paused))


@util.close_old_connections
def drain_tracking_job() -> None:
    """Stores the opens and clicks buffered in Redis (R-ENG-2); nothing to do without Redis."""
    stored = tracking_buffer.drain()
    if stored:
        logger.info("opens and clicks: %d stored", stored)


def keep_history_of(job_ids: list[str]) -> None:
    """django-apscheduler writes each execution against its job's row (a foreign key). Here those rows are
    only that: no process schedules from the table, so they stay paused with no stored job."""
    for job_id in job_ids:
        DjangoJob.objects.update_or_create(id=job_id, defaults={"next_run_time": None, "job_state": b""})


class Command(BaseCommand):
    help = (
        "Run the scheduler in the foreground; any number may share one database. SIGTERM or Ctrl+C stops it "
        "within MAILER_STOP_SECONDS."
    )

    def handle(self, *args, **options):
        close_old_connections()
        self.stop = StopRequest()
        self.signalled_at: float | None = None
        self.running = 0
        self.jobs_done = threading.Condition()
        # A late tick still runs (once: coalesced) however late; two of one job never overlap in a process.
        self.scheduler = BlockingScheduler(
            timezone=settings.TIME_ZONE,
            jobstores={"default": JobStore()},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        tick = settings.MAILER_TICK_SECONDS
        self.scheduler.add_job(self.tick, IntervalTrigger(seconds=tick), id=TICK_JOB)
        self.scheduler.add_job(self.account_mail, IntervalTrigger(seconds=tick), id=ACCOUNT_MAIL_JOB)
        self.scheduler.add_job(self.import_clients, IntervalTrigger(seconds=tick), id=IMPORT_JOB)
        # The jitter spreads N processes' clean-ups over the hour: their history rows never share a run time.
        self.scheduler.add_job(
            self.clean_up,
            CronTrigger(day_of_week="mon", hour=0, minute=0, jitter=3600),
            id=CLEANUP_JOB,
        )
        # The delivery log's retention (DELIVERY_LOG_DAYS), daily, spread over the hour like the clean-up.
        self.scheduler.add_job(self.purge_log, CronTrigger(hour=1, minute=0, jitter=3600), id=PURGE_JOB)
        # The senders' review (bounce and complaint rates, R-DLV-5).
        self.scheduler.add_job(
            self.review_senders, IntervalTrigger(minutes=settings.SEND_REVIEW_MINUTES), id=REVIEW_JOB
        )
        self.scheduler.add_job(self.drain_tracking, IntervalTrigger(seconds=tick), id=TRACKING_JOB)
        keep_history_of(
            [TICK_JOB, ACCOUNT_MAIL_JOB, IMPORT_JOB, CLEANUP_JOB, PURGE_JOB, REVIEW_JOB, TRACKING_JOB]
        )
        close_old_connections()
        # The heartbeat /readyz reads: written on the start and on every tick, from a thread of its own.
        watch_ticks(self.scheduler)

        signal.signal(signal.SIGTERM, self.on_signal)
        signal.signal(signal.SIGINT, self.on_signal)
        self.stdout.write(
            f"Scheduler started: sending pass every {tick} s (account emails and client imports too), "
            "weekly clean-up of job history, daily purge of the delivery log, review of senders every "
            f"{settings.SEND_REVIEW_MINUTES} min."
        )
        self.stdout.flush()  # a supervisor reading a pipe or a file sees it now, not at exit
        self.scheduler.start()
        self.wait_for_jobs()
        self.stdout.write("Scheduler stopped.")

    @contextlib.contextmanager
    def job(self):
        """Counts the running jobs; none starts once the stop is asked (yields False then)."""
        with self.jobs_done:
            go = not self.stop.is_set()
            self.running += go
        try:
            yield go
        finally:
            with self.jobs_done:
                self.running -= go
                self.jobs_done.notify_all()

    def tick(self) -> None:
        with self.job() as go:
            if not go:
                return
            self.scheduler.pause_job(TICK_JOB)
            try:
                send_due_job(self.stop)
            finally:
                if not self.stop.is_set():
                    self.scheduler.resume_job(TICK_JOB)

    def account_mail(self) -> None:
        with self.job() as go:
            if go:
                send_account_mail_job(self.stop)

    def import_clients(self) -> None:
        # Paused while it runs, like the tick: an import of minutes would otherwise have every interval
        # skipped with a warning.
        with self.job() as go:
            if not go:
                return
            self.scheduler.pause_job(IMPORT_JOB)
            try:
                import_clients_job(self.stop)
            finally:
                if not self.stop.is_set():
                    self.scheduler.resume_job(IMPORT_JOB)

    def clean_up(self) -> None:
        with self.job() as go:
            if go:
                delete_old_job_executions()

    def purge_log(self) -> None:
        with self.job() as go:
            if go:
                purge_delivery_log_job(self.stop)

    def review_senders(self) -> None:
        with self.job() as go:
            if go:
                review_senders_job()

    def drain_tracking(self) -> None:
        with self.job() as go:
            if go:
                drain_tracking_job()

    def on_signal(self, signum, frame) -> None:
        if self.stop.is_set():
            return
        self.signalled_at = time.monotonic()
        self.stop.set(within=settings.MAILER_STOP_SECONDS * PASS_SHARE_OF_STOP)
        logger.info("%s: stopping", signal.Signals(signum).name)
        # Not from the handler itself: the main thread may be inside the scheduler, holding its locks.
        threading.Thread(target=self.shut_down, name="scheduler-stop", daemon=True).start()

    def shut_down(self) -> None:
        while not self.scheduler.running:  # a signal just before start(): let it start, then stop it
            time.sleep(0.01)
        self.scheduler.shutdown(wait=False)

    def wait_for_jobs(self) -> None:
        """Until the running pass has stopped; past the deadline the process exits without it (whatever it
        still held was given back at the pass's own, earlier deadline)."""
        if self.signalled_at is None:
            return
        deadline = self.signalled_at + settings.MAILER_STOP_SECONDS * EXIT_SHARE_OF_STOP
        with self.jobs_done:
            done = self.jobs_done.wait_for(
                lambda: self.running == 0, timeout=max(deadline - time.monotonic(), 0)
            )
        took = time.monotonic() - self.signalled_at
        if done:
            logger.info("stopped %.1f s after the signal", took)
            return
        logger.error("a job was still running %.1f s after the signal; exiting without it", took)
        logging.shutdown()
        self.stdout.write("Scheduler stopped.")
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1)
