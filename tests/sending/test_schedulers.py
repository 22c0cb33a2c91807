"""Operating schedulers (R-SEND-6/7): several `runapscheduler` processes on one database, a
stop that is quick, the weekly clean-up under a lock.

These tests commit their data (transactional) so that child processes and worker threads see it.
"""

import datetime as dt
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.utils import timezone
from django_apscheduler.models import DjangoJob, DjangoJobExecution

from backend.mailings.management.commands.runapscheduler import (
    ACCOUNT_MAIL_JOB,
    CLEANUP_JOB,
    IMPORT_JOB,
    PURGE_JOB,
    REVIEW_JOB,
    TICK_JOB,
    TRACKING_JOB,
    delete_old_job_executions,
    keep_history_of,
)
from backend.mailings.models import Client, Delivery, Mailing, Occurrence
from backend.mailings.sending import StopRequest, send_due
from tests.factories import MailingFactory, UserFactory
from tests.fakes.smtp import FakeSMTPServer
from tests.helpers import ROOT, run_python, sender_env, wait_for
from tests.sending_helpers import due_mailing

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True), pytest.mark.slow]

PROBLEM = re.compile(r"\b(WARNING|ERROR|CRITICAL)\b|Traceback|Warning:")


def mailing_with(clients: int, *, tag: str) -> Mailing:
    """A due mailing to `clients` new clients of a new owner, inserted in bulk in one transaction, as the
    service saves one: a running scheduler never sees it without its clients."""
    with transaction.atomic():
        owner = UserFactory()
        Client.objects.bulk_create(
            [
                Client(owner=owner, email=f"{tag}-{n}@example.org", full_name=f"Client {n}")
                for n in range(clients)
            ],
            batch_size=2000,
        )
        mailing = due_mailing(clients=0, owner=owner)
        through = Mailing.clients.through
        through.objects.bulk_create(
            [
                through(mailing_id=mailing.pk, client_id=pk)
                for pk in owner.clients.values_list("pk", flat=True)
            ],
            batch_size=2000,
        )
    return mailing


class Scheduler:
    """A real `runapscheduler` process whose output goes to files (a pipe nobody reads could block it)."""

    def __init__(self, env: dict[str, str], logs: Path, name: str):
        self.name = name
        self.out_path, self.err_path = logs / f"{name}.out", logs / f"{name}.err"
        with self.out_path.open("w") as out, self.err_path.open("w") as err:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "runapscheduler"], cwd=ROOT, env=env, stdout=out, stderr=err
            )

    def output(self) -> str:
        return self.out_path.read_text() + self.err_path.read_text()

    def started(self) -> bool:
        return "Scheduler started" in self.out_path.read_text()

    def stop(self, timeout: float = 30) -> float:
        """SIGTERM; the seconds until the process has exited."""
        signalled = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=timeout)
        return time.monotonic() - signalled

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def sent(self) -> int:
        """Messages this process reports sent, from its pass summaries."""
        return sum(int(n) for n in re.findall(r"send pass: .*?; sent: (\d+)", self.err_path.read_text()))


@pytest.fixture
def sink():
    with FakeSMTPServer() as server:
        yield server


def test_three_schedulers_share_the_work_each_recipient_once_and_quietly(sink, tmp_path, postgresql_only):
    """R-SEND-7: three `runapscheduler` processes on one PostgreSQL database and one SMTP
    server, 10 mailings of 300 clients due at once: every recipient gets exactly one message, more than one
    process sends, no process logs a warning or an error, and the execution history is kept."""
    sink.set(mode="slow", delay=0.005)  # a pass of one process alone would last seconds: the others join
    env = sender_env(sink, MAILER_TICK_SECONDS="1", MAILER_CLAIM_BATCH="25", LOG_LEVEL="INFO")
    schedulers = [Scheduler(env, tmp_path, f"scheduler-{n}") for n in range(3)]
    try:
        assert wait_for(lambda: all(s.started() for s in schedulers), timeout=60), [
            s.output() for s in schedulers
        ]
        with transaction.atomic():  # all ten due at once
            mailings = [mailing_with(300, tag=f"m{n}") for n in range(10)]
        assert wait_for(lambda: len(sink.received) >= 3000, timeout=180), len(sink.received)
        assert wait_for(
            lambda: (
                Delivery.objects.filter(status="sent").count() == 3000
                and Mailing.objects.filter(status="completed").count() == 10
            ),
            timeout=30,
        )
        time.sleep(2)  # a few more ticks with nothing to do: they must stay quiet too
        exit_seconds = [s.stop() for s in schedulers]
    finally:
        for s in schedulers:
            s.kill()

    emails = set(Client.objects.filter(mailings__in=mailings).values_list("email", flat=True))
    received = Counter(sink.recipients())
    assert len(emails) == 3000 and set(received) == emails
    assert set(received.values()) == {1}, "a recipient got a message twice"
    assert Delivery.objects.count() == 3000 and {m.occurrences.count() for m in mailings} == {1}

    shares = {s.name: s.sent() for s in schedulers}
    print(f"recipients sent per scheduler: {shares}; exit after SIGTERM: {exit_seconds}")
    assert sum(shares.values()) == 3000, shares
    assert sum(1 for n in shares.values() if n) >= 2, f"one process did all the work: {shares}"
    for s in schedulers:
        assert s.process.returncode == 0, s.output()
        assert "Scheduler stopped." in s.output()
        problems = [line for line in s.output().splitlines() if PROBLEM.search(line)]
        assert problems == [], f"{s.name} logged: {problems}"

    statuses = Counter(DjangoJobExecution.objects.filter(job_id=TICK_JOB).values_list("status", flat=True))
    assert statuses[DjangoJobExecution.SUCCESS] >= 3, statuses  # the history is kept
    assert set(statuses) <= {DjangoJobExecution.SUCCESS, DjangoJobExecution.SENT}, (
        statuses
    )  # none missed/skipped
    assert set(DjangoJob.objects.values_list("pk", "next_run_time")) == {
        (TICK_JOB, None),
        (ACCOUNT_MAIL_JOB, None),
        (IMPORT_JOB, None),
        (CLEANUP_JOB, None),
        (PURGE_JOB, None),
        (REVIEW_JOB, None),
        (TRACKING_JOB, None),
    }


def test_sigterm_mid_pass_exits_within_stop_seconds_and_a_restart_carries_on(sink, tmp_path):
    """R-SEND-7: SIGTERM to a scheduler in the middle of a 20,000-recipient pass: it exits
    within MAILER_STOP_SECONDS, its leases are back at once (not after MAILER_CLAIM_LEASE_SECONDS), and a
    restart sends the rest at once: nobody missing, nobody twice."""
    workers, stop_seconds = 4, 10
    mailing = mailing_with(20_000, tag="big")
    sink.set(mode="slow", delay=0.002)
    env = sender_env(
        sink,
        MAILER_TICK_SECONDS="1",
        MAILER_SEND_WORKERS=str(workers),
        MAILER_CLAIM_LEASE_SECONDS="300",
        MAILER_STOP_SECONDS=str(stop_seconds),
        LOG_LEVEL="INFO",
    )
    first = Scheduler(env, tmp_path, "first")
    try:
        assert wait_for(lambda: len(sink.received) >= 2000, timeout=120), first.output()
        exit_seconds = first.stop()
    finally:
        first.kill()
    stopped_at, received_at_stop = timezone.now(), len(sink.received)
    assert received_at_stop < 20_000, "the pass ended before the signal; make the sink slower"
    assert first.process.returncode == 0, first.output()
    assert exit_seconds < stop_seconds + 2, f"exited {exit_seconds:.1f} s after SIGTERM"
    assert re.search(r"stopping: \d+ given back unsent", first.output()), first.output()

    pending = Delivery.objects.filter(mailing=mailing, status__in=Delivery.PENDING_STATUSES)
    assert pending.exists()
    assert not pending.filter(next_attempt_at__gt=stopped_at).exists(), "a lease was kept after the stop"
    assert Delivery.objects.filter(mailing=mailing, status="sent").count() == received_at_stop

    sink.set(mode="accept")
    again = Scheduler(env, tmp_path, "again")
    try:
        restarted = time.monotonic()
        assert wait_for(lambda: len(sink.received) > received_at_stop, timeout=60), again.output()
        carried_on = time.monotonic() - restarted
        assert wait_for(lambda: not pending.exists(), timeout=240), again.output()
        again.stop()
    finally:
        again.kill()
    print(
        f"SIGTERM at {received_at_stop} of 20,000 sent: exit after {exit_seconds:.2f} s; "
        f"the restart sent again {carried_on:.1f} s after it was started"
    )
    emails = set(Client.objects.filter(mailings=mailing).values_list("email", flat=True))
    received = Counter(sink.recipients())
    assert set(received) == emails, "a recipient was skipped"
    duplicates = sum(count - 1 for count in received.values())
    assert duplicates == 0, f"{duplicates} sent twice: the messages in flight were not finished"
    assert Delivery.objects.filter(mailing=mailing, status="sent").count() == 20_000
    for process in (first, again):
        problems = [line for line in process.output().splitlines() if PROBLEM.search(line)]
        assert problems == [], f"{process.name} logged: {problems}"


def test_sigterm_while_the_smtp_server_hangs_still_exits_within_stop_seconds(sink, tmp_path):
    """R-SEND-7: every worker stuck in a send that outlasts MAILER_STOP_SECONDS (a platform
    would SIGKILL): the process exits in time anyway, with every lease given back, those in flight too; a
    restart sends everyone, repeating at most the messages that were in flight (one per worker)."""
    workers, stop_seconds = 2, 3
    mailing = mailing_with(50, tag="hang")
    sink.set(mode="slow", delay=8)
    env = sender_env(
        sink,
        MAILER_TICK_SECONDS="1",
        MAILER_SEND_WORKERS=str(workers),
        MAILER_CLAIM_LEASE_SECONDS="300",
        MAILER_STOP_SECONDS=str(stop_seconds),
        MAILER_CLAIM_BATCH="5",  # a batch for each worker
        EMAIL_TIMEOUT="30",
        LOG_LEVEL="INFO",
    )
    first = Scheduler(env, tmp_path, "first")
    try:
        assert wait_for(lambda: sink.data_commands >= workers, timeout=60), first.output()
        exit_seconds = first.stop()
    finally:
        first.kill()
    stopped_at = timezone.now()
    print(f"SIGTERM with {workers} sends hanging: exit after {exit_seconds:.2f} s")
    # The margin is the interpreter's own exit: 0.5-1 s of a large Django app on a busy machine.
    assert exit_seconds < stop_seconds + 1.5, f"exited {exit_seconds:.1f} s after SIGTERM"
    assert first.process.returncode == 0, first.output()
    held = workers * 5  # each worker's batch, its send in flight included
    assert f"outlasted MAILER_STOP_SECONDS; {held} deliveries given back" in first.output()
    pending = Delivery.objects.filter(mailing=mailing, status__in=Delivery.PENDING_STATUSES)
    assert pending.count() == 50
    assert not pending.filter(next_attempt_at__gt=stopped_at).exists(), "a lease was kept after the stop"

    sink.set(mode="accept")
    again = Scheduler(env, tmp_path, "again")
    try:
        assert wait_for(lambda: not pending.exists(), timeout=60), again.output()
        again.stop()
    finally:
        again.kill()
    received = Counter(sink.recipients())
    assert set(received) == set(Client.objects.filter(mailings=mailing).values_list("email", flat=True))
    assert sum(count - 1 for count in received.values()) <= workers


def test_a_pass_stuck_in_the_database_does_not_hold_the_exit(sink, tmp_path, postgresql_only):
    """A pass that cannot end (its finish step waits for a row another session holds) does
    not keep the process past MAILER_STOP_SECONDS: it exits anyway, with an error line and status 1."""
    stop_seconds = 2
    # An unfinished occurrence with nothing left to send: every pass's finish step updates its row.
    occurrence = Occurrence.objects.create(mailing=MailingFactory(), scheduled_for=timezone.now())
    env = sender_env(sink, MAILER_TICK_SECONDS="1", MAILER_STOP_SECONDS=str(stop_seconds))
    locked, release = threading.Event(), threading.Event()

    def hold_the_row():
        try:
            with transaction.atomic():
                Occurrence.objects.select_for_update().get(pk=occurrence.pk)
                locked.set()
                release.wait(60)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_row)
    holder.start()
    scheduler = Scheduler(env, tmp_path, "stuck")
    try:
        assert locked.wait(10)
        assert wait_for(
            lambda: DjangoJobExecution.objects.filter(
                job_id=TICK_JOB, status=DjangoJobExecution.SENT
            ).exists(),
            timeout=60,
        ), scheduler.output()
        time.sleep(0.5)  # the pass reaches its finish step and waits there
        exit_seconds = scheduler.stop()
    finally:
        release.set()
        holder.join()
        scheduler.kill()
    print(f"SIGTERM with a pass stuck in the database: exit after {exit_seconds:.2f} s")
    assert exit_seconds < stop_seconds + 1, f"exited {exit_seconds:.1f} s after SIGTERM"
    assert scheduler.process.returncode == 1
    assert "ERROR" in scheduler.output() and "exiting without it" in scheduler.output()


def stop_when(predicate, stop: StopRequest, within: float) -> threading.Thread:
    def watch():
        if wait_for(predicate, timeout=60, interval=0.005):
            stop.set(within=within)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def join_send_workers(timeout: float) -> None:
    for thread in threading.enumerate():
        if thread.name.startswith("mailer-send-"):
            thread.join(timeout)


def test_a_stopped_pass_finishes_what_is_in_flight_and_gives_the_rest_back_at_once(sink, settings):
    """R-SEND-7: once the stop is asked, workers finish and record the message they are
    sending, give the rest of their batches back due at once (the lease is 300 s), and claim nothing more;
    a later pass sends the rest, nobody twice."""
    settings.EMAIL_HOST, settings.EMAIL_PORT = sink.host, sink.port
    settings.MAILER_SEND_WORKERS, settings.MAILER_CLAIM_BATCH = 2, 50
    settings.MAILER_CLAIM_LEASE_SECONDS = 300
    mailing = due_mailing(clients=300)
    sink.set(mode="slow", delay=0.01)
    stop = StopRequest()
    stop_when(lambda: len(sink.received) >= 20, stop, within=5)
    summary = send_due(stop=stop)

    assert stop.is_set() and summary.errors == []
    assert 20 <= summary.sent < 300 and summary.given_back > 0
    assert summary.sent == len(sink.received) == Delivery.objects.filter(status="sent").count()
    pending = Delivery.objects.filter(mailing=mailing, status="pending")
    assert pending.count() == 300 - summary.sent
    assert not pending.filter(next_attempt_at__gt=timezone.now()).exists(), "leases kept"

    sink.set(mode="accept")
    assert send_due().sent == 300 - summary.sent
    received = Counter(sink.recipients())
    assert len(received) == 300 and set(received.values()) == {1}


def test_a_send_outlasting_the_deadline_is_given_back_with_its_lease(sink, settings, caplog):
    """R-SEND-7: a send that hangs past the stop's deadline does not hold the pass: it
    returns by the deadline with every lease given back (the ones in flight too), warns once, and the
    stray send, if it completes, is still recorded, so nothing is sent twice."""
    settings.EMAIL_HOST, settings.EMAIL_PORT = sink.host, sink.port
    settings.MAILER_SEND_WORKERS, settings.MAILER_CLAIM_BATCH = 2, 5
    settings.MAILER_CLAIM_LEASE_SECONDS = 300
    due_mailing(clients=10)
    sink.set(mode="slow", delay=3)
    stop = StopRequest()
    stop_when(lambda: sink.data_commands >= 2, stop, within=0.3)  # both workers are in DATA
    try:
        summary = send_due(stop=stop)
        returned_after = time.monotonic() - (stop.deadline - 0.3)
        assert returned_after < 2, f"the pass returned {returned_after:.1f} s after the stop"
        assert summary.given_back == 10 and summary.sent == 0
        assert not Delivery.objects.filter(next_attempt_at__gt=timezone.now()).exists(), "leases kept"
        assert "outlasted MAILER_STOP_SECONDS; 10 deliveries given back" in caplog.text
    finally:
        join_send_workers(timeout=10)
    # The two sends in flight completed after the pass returned: recorded under their lease, not repeated.
    assert Delivery.objects.filter(status="sent").count() == len(sink.received) == 2
    sink.set(mode="accept")
    assert send_due().sent == 8
    assert set(Counter(sink.recipients()).values()) == {1}


def test_the_clean_up_keeps_a_week_of_history(settings):
    """R-SEND-6: the weekly clean-up drops executions older than a week and keeps the rest."""
    keep_history_of([TICK_JOB, CLEANUP_JOB])
    now = timezone.now()
    for days in (1, 8, 30):
        DjangoJobExecution.objects.create(
            job_id=TICK_JOB, status="Executed", run_time=now - dt.timedelta(days=days)
        )
    delete_old_job_executions()
    assert [r.date() for r in DjangoJobExecution.objects.values_list("run_time", flat=True)] == [
        (now - dt.timedelta(days=1)).date()
    ]


def test_the_clean_up_runs_in_one_process_at_a_time(postgresql_only, caplog):
    """While one process cleans (it holds the clean-up job's row), another leaves it alone."""
    keep_history_of([TICK_JOB, CLEANUP_JOB])
    old = timezone.now() - dt.timedelta(days=30)
    DjangoJobExecution.objects.create(job_id=TICK_JOB, status="Executed", run_time=old)
    holding, release = threading.Event(), threading.Event()

    def other_process():
        try:
            with transaction.atomic():
                DjangoJob.objects.select_for_update().get(pk=CLEANUP_JOB)
                holding.set()
                release.wait(10)
        finally:
            connection.close()

    other = threading.Thread(target=other_process)
    other.start()
    try:
        assert holding.wait(10)
        caplog.set_level("INFO")
        started = time.monotonic()
        delete_old_job_executions()
        assert time.monotonic() - started < 2, "the clean-up waited for the lock instead of leaving it"
        assert DjangoJobExecution.objects.count() == 1
        assert "another process is at it" in caplog.text
    finally:
        release.set()
        other.join()
    delete_old_job_executions()
    assert DjangoJobExecution.objects.count() == 0


@pytest.mark.django_db  # no other thread or process: the test's transaction will do
def test_keep_history_of_is_idempotent_and_pauses_database_jobs():
    """A job row left by the former database job store (scheduled, with a pickled job) becomes
    a plain history row, so no process could run jobs from the table; doing it again changes nothing."""
    DjangoJob.objects.create(id=TICK_JOB, next_run_time=timezone.now(), job_state=b"old pickled job")
    keep_history_of([TICK_JOB, CLEANUP_JOB])
    keep_history_of([TICK_JOB, CLEANUP_JOB])
    assert sorted(DjangoJob.objects.values_list("pk", "next_run_time", "job_state")) == [
        (CLEANUP_JOB, None, b""),
        (TICK_JOB, None, b""),
    ]


@pytest.mark.django_db  # no other thread or process: the test's transaction will do
@pytest.mark.parametrize("value", ["0", "-1"])
def test_stop_seconds_must_be_positive(value):
    """MAILER_STOP_SECONDS of 0 or less stops start-up with a clear error."""
    result = run_python(
        "from django.conf import settings; settings.DATABASES", DEBUG="1", MAILER_STOP_SECONDS=value
    )
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == (
        "django.core.exceptions.ImproperlyConfigured: MAILER_STOP_SECONDS must be more than 0."
    )
