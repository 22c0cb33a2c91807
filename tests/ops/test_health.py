"""/healthz, /readyz and the scheduler heartbeat (R-SEND-6 operated at scale)."""

import datetime as dt
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from django.utils import timezone

from backend.mailings.models import Delivery
from backend.mailings.sending.occurrences import start_due
from backend.mailings.sending.summary import PassSummary
from backend.web import health
from backend.web.models import SchedulerHeartbeat
from tests.fakes.smtp import closed_port
from tests.helpers import clean_env
from tests.sending_helpers import due_mailing

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def beat(process: str = "scheduler-host:42:abc", *, ago: float = 0.0) -> SchedulerHeartbeat:
    """A heartbeat row as a scheduler `ago` seconds after its last tick would have left it."""
    health.record_tick(process)
    moment = timezone.now() - dt.timedelta(seconds=ago)
    SchedulerHeartbeat.objects.filter(process=process).update(last_tick_at=moment)
    return SchedulerHeartbeat.objects.get(process=process)


def readyz(client, **extra):
    response = client.get("/readyz", **extra)
    assert response["Content-Type"] == "application/json"
    return response, response.json()


# --- /healthz -------------------------------------------------------------------------------------


def test_healthz_answers_200_json_without_touching_the_database(client, django_assert_num_queries):
    """The process is up; nothing else is asked, not even for a signed-in browser's session."""
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-store" in response["Cache-Control"]
    assert not response.cookies

    user = due_mailing().owner
    client.force_login(user)
    with django_assert_num_queries(0):
        assert client.get("/healthz/").status_code == 200


def test_probes_answer_any_host_and_plain_http(client, settings):
    """An orchestrator probes a pod by its address over plain HTTP: neither ALLOWED_HOSTS nor the HTTPS
    redirect may turn the probe into a 400 or a 301; other paths keep both rules."""
    settings.SECURE_SSL_REDIRECT = True
    beat()
    assert client.get("/healthz", HTTP_HOST="10.1.2.3:8000").status_code == 200
    assert client.get("/readyz", HTTP_HOST="10.1.2.3:8000").status_code == 200
    assert client.get("/", HTTP_HOST="10.1.2.3:8000").status_code == 400
    assert client.get("/", HTTP_HOST="localhost").status_code == 301


def test_probes_refuse_other_methods(client):
    """GET and HEAD only: a POST is a 405 naming what is allowed (CSRF never comes into it)."""
    for path in ("/healthz", "/readyz"):
        response = client.post(path)
        assert response.status_code == 405
        assert response["Allow"] == "GET, HEAD"
    head = client.head("/healthz")
    assert head.status_code == 200 and head.content == b""


# --- /readyz ----------------------------------------------------------------------------------------


def test_readyz_is_200_when_database_cache_and_scheduler_are_up(client, django_assert_max_num_queries):
    """Every check passes; a probe every second costs three small queries."""
    beat(ago=1)
    with django_assert_max_num_queries(3):
        response, body = readyz(client)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert body["status"] == "ok" and body["failed"] == []
    checks = body["checks"]
    assert checks["database"] == {"ok": True}
    assert checks["cache"] == {"ok": True}
    assert checks["scheduler"]["ok"] is True
    assert checks["scheduler"]["live_processes"] == 1
    assert 0 <= checks["scheduler"]["last_tick_seconds_ago"] < checks["scheduler"]["limit_seconds"]
    assert checks["overdue_deliveries"]["count"] == 0


def test_readyz_names_a_stale_heartbeat(client, settings):
    """The youngest heartbeat older than three ticks is a 503 naming the scheduler; the
    process names in the table (host names) never appear in the answer."""
    settings.MAILER_TICK_SECONDS = 5
    beat("db-host-7.internal:4242:ab12", ago=16)
    response, body = readyz(client)
    assert response.status_code == 503
    assert body["status"] == "unavailable"
    assert body["failed"] == ["scheduler"]
    scheduler = body["checks"]["scheduler"]
    assert scheduler["ok"] is False and scheduler["limit_seconds"] == 15
    assert 16 <= scheduler["last_tick_seconds_ago"] < 30
    assert scheduler["live_processes"] == 0
    assert "db-host-7" not in response.content.decode()

    beat("db-host-8.internal:1:cd34", ago=2)  # one live scheduler is enough
    response, body = readyz(client)
    assert response.status_code == 200
    assert body["checks"]["scheduler"]["live_processes"] == 1


def test_readyz_without_any_scheduler_is_503(client):
    response, body = readyz(client)
    assert response.status_code == 503
    assert body["failed"] == ["scheduler"]
    assert body["checks"]["scheduler"]["last_tick_seconds_ago"] is None


def test_readyz_names_a_cache_that_is_down(client, settings):
    """Redis at a closed port is a 503 naming the cache, at once (no timeout to wait for),
    and the answer shows neither the cache's address nor its port."""
    port = closed_port()
    settings.CACHES = {
        "default": {
            "BACKEND": settings.CACHES["default"]["BACKEND"]
            if "redis" in settings.CACHES["default"]["BACKEND"].lower()
            else "django_redis.cache.RedisCache",
            "LOCATION": f"redis://:hunter2-secret@127.0.0.1:{port}/0",
            "OPTIONS": {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1},
        }
    }
    beat()
    started = time.monotonic()
    response, body = readyz(client)
    assert time.monotonic() - started < 1.5
    assert response.status_code == 503
    assert body["failed"] == ["cache"]
    assert body["checks"]["database"]["ok"] is True
    text = response.content.decode()
    assert str(port) not in text and "127.0.0.1" not in text and "hunter2" not in text


def test_readyz_names_a_database_that_is_down_and_hides_its_address():
    """A database nobody answers at is a 503 naming it; what needs it is reported unchecked,
    and neither the host, the port nor the password reaches the answer. A process of its own, since this
    one's database must stay up."""
    port = closed_port()
    env = clean_env(
        DEBUG="1", DATABASE_URL=f"postgres://mailer:s3cret-pw@127.0.0.1:{port}/mailer", LOG_LEVEL="CRITICAL"
    )
    script = (
        "import django, json; django.setup(); from django.test import Client; "
        "r = Client().get('/readyz'); "
        "print(json.dumps({'status': r.status_code, 'body': r.content.decode()}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["status"] == 503
    body = json.loads(result["body"])
    assert body["failed"] == ["database", "scheduler", "overdue_deliveries"]
    assert body["checks"]["cache"] == {"ok": True}
    assert body["checks"]["scheduler"] == {"ok": False, "checked": False}
    for secret in ("s3cret", "127.0.0.1", str(port), "mailer:"):
        assert secret not in result["body"]


def test_readyz_counts_deliveries_overdue_by_an_hour(client):
    """Pending deliveries due more than an hour ago are counted (a backlog to alert on, not a
    failure); deliveries due recently, held by a worker (due at their lease's end), or of a disabled
    mailing or a blocked owner (never to be sent) are not."""
    beat()
    now = timezone.now()
    late = due_mailing(clients=3, start_at=now - dt.timedelta(hours=3))
    recent = due_mailing(clients=2)
    disabled = due_mailing(clients=2, start_at=now - dt.timedelta(hours=3))
    blocked = due_mailing(clients=2, start_at=now - dt.timedelta(hours=3))
    start_due(now, PassSummary())
    two_hours_ago = now - dt.timedelta(hours=2)
    for mailing in (late, disabled, blocked):
        mailing.deliveries.update(next_attempt_at=two_hours_ago)
    recent.deliveries.update(next_attempt_at=now - dt.timedelta(minutes=50))
    leased = late.deliveries.order_by("pk").first()
    Delivery.objects.filter(pk=leased.pk).update(next_attempt_at=now + dt.timedelta(minutes=5))
    disabled.__class__.objects.filter(pk=disabled.pk).update(is_active=False)
    blocked.owner.__class__.objects.filter(pk=blocked.owner_id).update(is_blocked=True)

    response, body = readyz(client)
    assert response.status_code == 200
    assert body["checks"]["overdue_deliveries"] == {
        "ok": True,
        "count": 2,
        "capped": False,
        "late_by_seconds": 3600,
    }


def test_the_overdue_count_stops_at_its_cap(client, monkeypatch):
    """A large backlog costs a probe no more than the cap's index entries; the answer says it is capped."""
    monkeypatch.setattr(health, "OVERDUE_COUNT_CAP", 2)
    beat()
    mailing = due_mailing(clients=3, start_at=timezone.now() - dt.timedelta(hours=3))
    start_due(timezone.now(), PassSummary())
    mailing.deliveries.update(next_attempt_at=timezone.now() - dt.timedelta(hours=2))
    _, body = readyz(client)
    assert body["checks"]["overdue_deliveries"]["count"] == 2
    assert body["checks"]["overdue_deliveries"]["capped"] is True


PUBLIC = "203.0.113.7"


@pytest.mark.parametrize("failing", [False, True])
def test_readyz_shows_a_public_client_without_the_token_no_report(client, settings, failing):
    """Issue item: from an address outside the internal networks and without the token, `/readyz` answers
    its status code and no report: neither which checks ran nor their figures."""
    settings.READYZ_TOKEN = "probe-secret-0123456789"
    if not failing:
        beat()
    for extra in (
        {},
        {"HTTP_AUTHORIZATION": "Bearer wrong-token"},
        {"HTTP_AUTHORIZATION": "probe-secret-0123456789"},  # not a bearer token
        {"QUERY_STRING": "token=probe-secret-0123456789"},  # the header only, never the URL (logs keep it)
    ):
        response, body = readyz(client, REMOTE_ADDR=PUBLIC, **extra)
        assert response.status_code == (503 if failing else 200)
        assert body == {"status": "unavailable" if failing else "ok"}
        assert "no-store" in response["Cache-Control"]


def test_readyz_shows_the_report_to_the_token_from_anywhere(client, settings):
    """Issue item: `Authorization: Bearer <READYZ_TOKEN>` gets the full report from any address."""
    settings.READYZ_TOKEN = "probe-secret-0123456789"
    beat()
    response, body = readyz(client, REMOTE_ADDR=PUBLIC, HTTP_AUTHORIZATION="Bearer probe-secret-0123456789")
    assert response.status_code == 200
    assert body["checks"]["scheduler"]["live_processes"] == 1


def test_without_a_token_configured_no_bearer_opens_the_report(client, settings):
    settings.READYZ_TOKEN = ""
    beat()
    for header in ("Bearer ", "Bearer", "Bearer  "):
        _, body = readyz(client, REMOTE_ADDR=PUBLIC, HTTP_AUTHORIZATION=header)
        assert body == {"status": "ok"}


@pytest.mark.parametrize(
    "address", ["127.0.0.1", "::1", "10.1.2.3", "172.16.0.9", "192.168.1.20", "fd00::5", "::ffff:10.0.0.8"]
)
def test_readyz_shows_the_report_to_internal_networks(client, settings, address):
    """Issue item: loopback and private addresses (an orchestrator's probe, a monitor on the private
    network) get the report without a token."""
    settings.READYZ_TOKEN = ""
    beat()
    _, body = readyz(client, REMOTE_ADDR=address)
    assert "checks" in body


def test_readyz_judges_the_client_by_the_projects_address_rule(client, settings):
    """The client is `throttling.client_ip`'s: behind one trusted proxy, the address the proxy saw; an
    address the client wrote itself to the left of it counts for nothing. With no proxy configured, a
    public address in X-Forwarded-For means the request came through a proxy the settings do not know
    (TRUSTED_PROXY_COUNT left at 0 behind nginx on the same host): no report, though REMOTE_ADDR is
    loopback."""
    settings.READYZ_TOKEN = ""
    beat()
    settings.TRUSTED_PROXY_COUNT = 1
    _, body = readyz(client, REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=f"10.0.0.1, {PUBLIC}")
    assert body == {"status": "ok"}
    _, body = readyz(client, REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=f"{PUBLIC}, 10.0.0.1")
    assert "checks" in body
    settings.TRUSTED_PROXY_COUNT = 0
    _, body = readyz(client, REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=PUBLIC)
    assert body == {"status": "ok"}
    _, body = readyz(client, REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="10.9.8.7")
    assert "checks" in body


def test_healthz_stays_open_to_everyone(client, settings):
    settings.READYZ_TOKEN = "probe-secret-0123456789"
    response = client.get("/healthz", REMOTE_ADDR=PUBLIC)
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_a_failing_check_is_logged_once_per_change_not_per_probe(client, caplog):
    """A probe every second must not fill the log: one warning when the check fails, one line when it
    passes again."""
    caplog.set_level("INFO")
    health._last_failures.clear()
    for _ in range(5):
        assert readyz(client)[0].status_code == 503
    beat()
    readyz(client)
    lines = [(record.name, record.getMessage()) for record in caplog.records]
    assert lines == [
        ("backend.web.health", "readiness check scheduler failed: see the report"),
        ("backend.web.health", "readiness check scheduler passes again"),
    ]  # and no "Service Unavailable" error from django.request per probe


# --- the heartbeat --------------------------------------------------------------------------------------


def test_record_tick_touches_one_row_per_process_and_prunes_the_gone():
    """Each process keeps one row; rows of processes silent for an hour are deleted by a live one."""
    gone = beat("old-host:1:aa", ago=2 * 3600)
    health.record_tick("live:2:bb")
    first = SchedulerHeartbeat.objects.get(process="live:2:bb")
    time.sleep(0.01)
    health.record_tick("live:2:bb")
    again = SchedulerHeartbeat.objects.get(process="live:2:bb")
    assert again.started_at == first.started_at
    assert again.last_tick_at > first.last_tick_at
    assert not SchedulerHeartbeat.objects.filter(pk=gone.pk).exists()
    assert SchedulerHeartbeat.objects.count() == 1


@pytest.mark.slow
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("while_running", ["ticks skipped", "job paused"])
def test_a_scheduler_keeps_its_heartbeat_fresh_during_a_long_pass(settings, while_running):
    """R-SEND-6: a real APScheduler scheduler with `watch_ticks` writes the heartbeat from
    a thread of its own, from its start on, also while a pass outlasts several ticks, whether the ticks
    meanwhile are skipped (max_instances) or the tick job pauses itself until the pass ends; its shutdown
    ends the thread."""
    settings.MAILER_TICK_SECONDS = 1
    release = threading.Event()
    started = threading.Event()
    scheduler = BackgroundScheduler(timezone="UTC")

    def long_pass():
        if while_running == "job paused":
            scheduler.pause_job("send_due")
        started.set()
        release.wait(10)

    scheduler.add_job(long_pass, IntervalTrigger(seconds=1), id="send_due", max_instances=1, coalesce=True)
    recorder = health.watch_ticks(scheduler)
    scheduler.start()
    try:
        deadline = time.monotonic() + 10
        while not SchedulerHeartbeat.objects.filter(process=recorder.process).exists():
            assert time.monotonic() < deadline, "no heartbeat after the scheduler started"
            time.sleep(0.05)
        assert started.wait(5)
        seen = set()
        while len(seen) < 3:
            assert time.monotonic() < deadline, f"heartbeat not renewed during the pass: {seen}"
            seen.add(SchedulerHeartbeat.objects.get(process=recorder.process).last_tick_at)
            time.sleep(0.2)
        ok, report = health.readiness()
        assert ok, report
        assert not release.is_set()  # all of that while the first pass still ran
    finally:
        release.set()
        scheduler.shutdown(wait=True)
    assert recorder.join(5), "the heartbeat thread outlived the scheduler"
