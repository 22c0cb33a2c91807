"""The blocking scheduler process (R-SEND-6): APScheduler with django-apscheduler's job store."""

import logging
import signal

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections
from django_apscheduler import util
from django_apscheduler.jobstores import DjangoJobStore
from django_apscheduler.models import DjangoJobExecution

logger = logging.getLogger(__name__)

JOB_HISTORY_MAX_AGE_SECONDS = 7 * 24 * 3600


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
        scheduler.add_job(
            delete_old_job_executions,
            trigger=CronTrigger(day_of_week="mon", hour="00", minute="00"),
            id="delete_old_job_executions",
            max_instances=1,
            replace_existing=True,
        )

        def stop(signum, frame):
            scheduler.shutdown(wait=False)

        signal.signal(signal.SIGTERM, stop)
        jobs = ", ".join(job.id for job in scheduler.get_jobs())
        self.stdout.write(
            f"Scheduler started; jobs: {jobs}. No sending job yet (it arrives with the sending engine)."
        )
        try:
            scheduler.start()
        except KeyboardInterrupt:
            scheduler.shutdown(wait=False)
        self.stdout.write("Scheduler stopped.")
