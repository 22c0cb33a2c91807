"""Real sender processes: several workers, concurrent passes, kill -9 mid-run, the scheduler (R-SEND-6/7).

These tests commit their data (transactional) so that child processes see it.
"""

import signal
import time
from collections import Counter

import pytest

from backend.mailings.models import Delivery, Occurrence
from backend.mailings.sending import send_due
from tests.fakes.smtp import FakeSMTPServer
from tests.helpers import sender_env, start_manage, wait_for
from tests.sending_helpers import due_mailing

# serialized_rollback: the migrations' data (Wagtail tree, blog, roles) survive the flushes between tests.
pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True), pytest.mark.slow]


def assert_each_sent_once(mailing, server):
    emails = set(mailing.clients.values_list("email", flat=True))
    rows = list(Delivery.objects.filter(mailing=mailing).values_list("email", "status"))
    assert len(rows) == len(emails)  # one delivery per recipient for the occurrence
    assert {status for _, status in rows} == {"sent"}
    assert set(server.recipients()) == emails  # none skipped


@pytest.fixture
def sink():
    with FakeSMTPServer() as server:
        yield server


def test_worker_threads_send_each_recipient_exactly_once(sink, settings):
    settings.EMAIL_HOST, settings.EMAIL_PORT = sink.host, sink.port
    settings.MAILER_SEND_WORKERS = 4
    settings.MAILER_CLAIM_BATCH = 7
    mailing = due_mailing(clients=120)
    summary = send_due()
    assert (summary.sent, summary.errors) == (120, [])
    assert_each_sent_once(mailing, sink)
    assert len(sink.received) == 120


def test_concurrent_passes_never_send_twice(sink):
    """R-SEND-7: two send_due processes at once (SKIP LOCKED on PostgreSQL; serialised writers on SQLite)."""
    mailing = due_mailing(clients=300)
    env = sender_env(sink, MAILER_SEND_WORKERS="3", MAILER_CLAIM_BATCH="10")
    processes = [start_manage("send_due", env=env) for _ in range(2)]
    outputs = [process.communicate(timeout=120) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    assert Occurrence.objects.filter(mailing=mailing).count() == 1
    assert_each_sent_once(mailing, sink)
    counts = Counter(sink.recipients())
    assert set(counts.values()) == {1}, "a recipient got the occurrence twice"


@pytest.mark.parametrize("record_batch", [1, 5])
def test_kill_9_mid_run_then_restart_sends_everyone_exactly_once(sink, record_batch):
    """R-SEND-7: SIGKILL the sender mid-run; after restart every recipient has one sent delivery, none is
    skipped, and the sink saw at most `workers` x MAILER_RECORD_BATCH duplicates (per worker: the message in
    flight and the answered ones waiting to be recorded with it). With a batch of 1, only the
    messages in flight."""
    workers = 2
    mailing = due_mailing(clients=200)
    sink.set(mode="slow", delay=0.01)
    env = sender_env(
        sink,
        MAILER_SEND_WORKERS=str(workers),
        MAILER_CLAIM_LEASE_SECONDS="1",
        MAILER_RECORD_BATCH=str(record_batch),
    )
    sender = start_manage("send_due", env=env)
    assert wait_for(lambda: len(sink.received) >= 40, timeout=60), "the sender never got going"
    sender.send_signal(signal.SIGKILL)
    sender.wait(timeout=10)
    killed_at = len(sink.received)
    assert killed_at < 200, "the run finished before the kill; make the sink slower"
    assert Delivery.objects.filter(mailing=mailing).exclude(status="sent").exists()

    time.sleep(1.2)  # the killed sender's lease expires
    sink.set(mode="accept")
    again = start_manage("send_due", env=env)
    _, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    emails = set(mailing.clients.values_list("email", flat=True))
    rows = list(Delivery.objects.filter(mailing=mailing).values_list("email", "status"))
    assert len(rows) == 200 and {status for _, status in rows} == {"sent"}
    received = Counter(sink.recipients())
    assert set(received) == emails
    duplicates = sum(count - 1 for count in received.values())
    bound = workers * record_batch
    assert duplicates <= bound, f"{duplicates} duplicates for {workers} workers, batches of {record_batch}"


def test_scheduler_starts_a_due_mailing_within_a_tick_and_stops_on_sigterm(sink):
    """R-SEND-1, R-SEND-6: `runapscheduler` picks a due mailing up by itself; SIGTERM stops it cleanly."""
    env = sender_env(sink, MAILER_TICK_SECONDS="1")
    scheduler = start_manage("runapscheduler", env=env)
    try:
        mailing = due_mailing(clients=3)
        assert wait_for(lambda: len(sink.received) == 3, timeout=30), "the scheduler did not send"
        assert wait_for(
            lambda: Delivery.objects.filter(mailing=mailing, status="sent").count() == 3, timeout=10
        )
    finally:
        scheduler.send_signal(signal.SIGTERM)
        out, err = scheduler.communicate(timeout=20)
    assert scheduler.returncode == 0, err
    assert "Scheduler started: sending pass every 1 s" in out
    assert "Scheduler stopped." in out
    assert "Traceback" not in err
