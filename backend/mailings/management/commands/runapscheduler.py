"""The blocking scheduler process (R-SEND-6): APScheduler with django-apscheduler's job store."""

import logging
import signal

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections
from django_apscheduler import util
from django_apscheduler.jobstores import DjangoJobStore
from django_apscheduler.models import DjangoJobExecution

from backend.mailings.sending import send_due
from backend.web.health import watch_ticks

logger = logging.getLogger(__name__)

JOB_HISTORY_MAX_AGE_SECONDS = 7 * 24 * 3600


@util.close_old_connections
def send_due_job() -> None:
    summary = send_due()
    busy = summary.occurrences or summary.sent or summary.failed or summary.retrying or summary.skipped
    if busy or summary.breaker or summary.errors:
        logger.info("send pass: %s", summary)


@util.close_old_connections
def delete_old_job_executions(max_age: int = JOB_HISTORY_MAX_AGE_SECONDS) -> None:
    """Keep the job-execution table small: drop entries older than `max_age` seconds."""
    DjangoJobExecution.objects.delete_old_job_executions(max_age)


class Command(BaseCommand):
    help = "Run the scheduler in the foreground (Ctrl+C or SIGTERM stops it)."

    def handle(self, *args, **options):
        close_old_connections()
        scheduler = BlockingScheduler(timezone=settings.TIME_ZONE)
        scheduler.add_jobstore(DjangoJobStore(), "default")
        tick = settings.MAILER_TICK_SECONDS
        scheduler.add_job(
            send_due_job,
            trigger=IntervalTrigger(seconds=tick),
            id="send_due",
            max_instances=1,
            coalesce=True,
            replace_existing=True,
        )
        scheduler.add_job(
            delete_old_job_executions,
            trigger=CronTrigger(day_of_week="mon", hour="00", minute="00"),
            id="delete_old_job_executions",
            max_instances=1,
            replace_existing=True,
        )

        def stop(signum, frame):
            scheduler.shutdown(wait=False)

        # The heartbeat /readyz reads: written on the start and on every tick, from a thread of its own.
        watch_ticks(scheduler)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.stdout.write(f"Scheduler started: sending pass every {tick} s, weekly clean-up of job history.")
        try:
            scheduler.start()
        except KeyboardInterrupt:
            scheduler.shutdown(wait=False)
        self.stdout.write("Scheduler stopped.")
