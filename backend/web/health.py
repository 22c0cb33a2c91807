"""Health endpoints and the scheduler heartbeat.

`/healthz` says the process is up and touches nothing else. `/readyz` checks what serving and sending
depend on: the database, the cache, a scheduler heartbeat younger than three ticks; it also counts the
deliveries overdue by more than an hour. Both are answered by `HealthMiddleware`, first in the chain, so a
probe needs no session or user, no host name in ALLOWED_HOSTS (orchestrators probe a pod by its address)
and no HTTPS redirect. Their JSON names checks and figures, never hosts, accounts or error texts; the
errors go to the log, once per change of state rather than once per probe.

`/readyz` shows its report (which checks failed, the scheduler's age, the backlog) only to a probe that
sends `Authorization: Bearer <READYZ_TOKEN>` or comes from loopback or a private network; anyone else gets
its status code and `{"status": …}` alone. `/healthz` stays open.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import os
import secrets
import socket
import threading
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.db import DatabaseError, close_old_connections, connection
from django.db.models import Count, DurationField, ExpressionWrapper, Max, Q
from django.db.models.functions import Now
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import add_never_cache_headers
from django_redis.cache import RedisCache

from backend.accounts.throttling import client_ip
from backend.mailings import selectors

from .models import SchedulerHeartbeat

logger = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
# A heartbeat older than this many ticks means no scheduler is ticking.
STALE_AFTER_TICKS = 3
# Rows of schedulers that stopped (or were killed) are deleted by the live ones after this long.
PRUNE_AFTER = dt.timedelta(hours=1)
OVERDUE_AFTER = dt.timedelta(hours=1)
# Counting stops here, so a large backlog costs a probe no more than this many index entries.
OVERDUE_COUNT_CAP = 1000


# --- The heartbeat (written by every scheduler process) ----------------------------------------------


def process_name() -> str:
    """host:pid plus a random part: a restarted container often gets the same host name and pid."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"[:255]


def record_tick(process: str) -> None:
    """Touch this process's row and prune the rows of processes gone for PRUNE_AFTER. The database's clock
    is used for writing and for reading, so clocks that differ between hosts do not matter."""
    if not SchedulerHeartbeat.objects.filter(process=process).update(last_tick_at=Now()):
        SchedulerHeartbeat.objects.get_or_create(
            process=process, defaults={"started_at": Now(), "last_tick_at": Now()}
        )
    SchedulerHeartbeat.objects.filter(last_tick_at__lt=Now() - PRUNE_AFTER).delete()


class TickRecorder:
    """The heartbeat of one scheduler process, written from a thread of its own: on the scheduler's start,
    on each of its ticks (an APScheduler listener), and every `interval` seconds in between, so a pass that
    runs for an hour (while the tick job waits for it) does not make the heartbeat stale, and the
    scheduler's loop never waits for the database. The scheduler's shutdown ends the thread and closes its
    database connection."""

    def __init__(self, *, interval: float, process: str | None = None):
        self.interval = interval
        self.process = process or process_name()
        self._wake = threading.Event()
        self._closing = False
        self._failing = False
        self._thread = threading.Thread(target=self._run, name="mailer-heartbeat", daemon=True)
        self._thread.start()

    def __call__(self, event: Any = None) -> None:
        from apscheduler.events import EVENT_SCHEDULER_SHUTDOWN

        if event is not None and event.code == EVENT_SCHEDULER_SHUTDOWN:
            self._closing = True
        self._wake.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end after the scheduler's shutdown; True when it has."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        try:
            self._wake.wait()  # the scheduler's start
            while not self._closing:
                self._wake.clear()
                self._record()
                self._wake.wait(self.interval)
        finally:
            connection.close()

    def _record(self) -> None:
        close_old_connections()
        try:
            record_tick(self.process)
        except Exception as exc:  # the database is down: say so once, try again next tick
            if not self._failing:
                logger.warning("scheduler heartbeat not recorded: %s: %s", type(exc).__name__, exc)
            self._failing = True
            connection.close()
        else:
            if self._failing:
                logger.info("scheduler heartbeat recorded again")
            self._failing = False


def watch_ticks(scheduler) -> TickRecorder:
    """Record a heartbeat from `scheduler`'s start, on each of its ticks and every MAILER_TICK_SECONDS,
    until its shutdown."""
    from apscheduler.events import (
        EVENT_JOB_MAX_INSTANCES,
        EVENT_JOB_SUBMITTED,
        EVENT_SCHEDULER_SHUTDOWN,
        EVENT_SCHEDULER_STARTED,
    )

    recorder = TickRecorder(interval=settings.MAILER_TICK_SECONDS)
    scheduler.add_listener(
        recorder,
        EVENT_SCHEDULER_STARTED | EVENT_JOB_SUBMITTED | EVENT_JOB_MAX_INSTANCES | EVENT_SCHEDULER_SHUTDOWN,
    )
    return recorder


# --- The checks ------------------------------------------------------------------------------------

_last_failures: set[str] = set()
_failures_lock = threading.Lock()


def _database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {"ok": True}


def _cache() -> dict:
    cache = caches["default"]
    if isinstance(cache, RedisCache):
        # Straight to the server: the cache's own calls swallow errors (IGNORE_EXCEPTIONS) by design.
        cache.client.get_client(write=True).ping()
        return {"ok": True}
    key = f"readyz:{secrets.token_hex(4)}"
    cache.set(key, 1, 5)
    ok = cache.get(key) == 1
    cache.delete(key)
    return {"ok": ok}


def _scheduler() -> dict:
    limit = STALE_AFTER_TICKS * settings.MAILER_TICK_SECONDS
    fresh_since = Now() - dt.timedelta(seconds=limit)
    row = SchedulerHeartbeat.objects.aggregate(
        age=ExpressionWrapper(Now() - Max("last_tick_at"), output_field=DurationField()),
        live=Count("pk", filter=Q(last_tick_at__gte=fresh_since)),
    )
    age = row["age"].total_seconds() if row["age"] is not None else None
    return {
        "ok": age is not None and age < limit,
        "last_tick_seconds_ago": round(age, 1) if age is not None else None,
        "limit_seconds": limit,
        "live_processes": row["live"],
    }


def _overdue() -> dict:
    count = selectors.overdue_deliveries(late_by=OVERDUE_AFTER)[:OVERDUE_COUNT_CAP].count()
    return {
        "ok": True,  # a figure to watch and alert on, not a reason to take a web process out of service
        "count": count,
        "capped": count >= OVERDUE_COUNT_CAP,
        "late_by_seconds": int(OVERDUE_AFTER.total_seconds()),
    }


CHECKS = {"database": _database, "cache": _cache, "scheduler": _scheduler, "overdue_deliveries": _overdue}
NEEDS_DATABASE = {"scheduler", "overdue_deliveries"}


def readiness() -> tuple[bool, dict]:
    """Run every check; (all passed, the report)."""
    results: dict[str, dict] = {}
    errors: dict[str, str] = {}
    for name, check in CHECKS.items():
        if name in NEEDS_DATABASE and not results["database"]["ok"]:
            results[name] = {"ok": False, "checked": False}
            continue
        try:
            results[name] = check()
        except Exception as exc:  # a check that cannot run has failed; its text goes to the log only
            if isinstance(exc, DatabaseError):
                connection.close()
            results[name] = {"ok": False}
            errors[name] = f"{type(exc).__name__}: {exc}"
    failed = [name for name, result in results.items() if not result["ok"]]
    _log_changes(failed, errors)
    report = {"status": "unavailable" if failed else "ok", "failed": failed, "checks": results}
    return not failed, report


def _log_changes(failed: list[str], errors: dict[str, str]) -> None:
    with _failures_lock:
        now_failing = set(failed)
        for name in sorted(now_failing - _last_failures):
            logger.warning("readiness check %s failed: %s", name, errors.get(name, "see the report"))
        for name in sorted(_last_failures - now_failing):
            logger.info("readiness check %s passes again", name)
        _last_failures.clear()
        _last_failures.update(now_failing)


# --- The endpoints -----------------------------------------------------------------------------------


# Loopback, RFC 1918, link-local and IPv6 unique-local: not `is_private`, which also takes in the
# documentation and benchmarking ranges (203.0.113.0/24, 198.18.0.0/15…).
INTERNAL_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in (
        "127.0.0.0/8",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "169.254.0.0/16",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
    )
)


def _internal(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return any(ip in network for network in INTERNAL_NETWORKS)


def may_see_report(request: HttpRequest) -> bool:
    """The READYZ_TOKEN as a bearer token (compared in constant time), or a client (`client_ip`, the rule
    throttling uses) on loopback or a private network. With TRUSTED_PROXY_COUNT at 0, any public address in
    X-Forwarded-For refuses too: it means a proxy in front that the setting does not count, and REMOTE_ADDR
    would then be the proxy's (often loopback) address for every visitor. A client can write that header
    itself, but only to lose the report, never to gain it."""
    token = settings.READYZ_TOKEN
    scheme, _, sent = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if token and scheme.lower() == "bearer" and secrets.compare_digest(sent.strip().encode(), token.encode()):
        return True
    if not _internal(client_ip(request)):
        return False
    if settings.TRUSTED_PROXY_COUNT == 0:
        forwarded = [entry.strip() for entry in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        return all(_internal(entry) for entry in forwarded if entry)
    return True


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> JsonResponse:
    ok, report = readiness()
    if not may_see_report(request):
        report = {"status": report["status"]}
    return JsonResponse(report, status=200 if ok else 503)


ENDPOINTS = {HEALTH_PATH: healthz, READY_PATH: readyz}


class HealthMiddleware:
    """Answers `/healthz` and `/readyz` (with or without a trailing slash) before any other middleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        endpoint = ENDPOINTS.get(request.path_info.rstrip("/"))
        if endpoint is None:
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            response = JsonResponse({"status": "method not allowed"}, status=405)
            response["Allow"] = "GET, HEAD"
        else:
            response = endpoint(request)
        add_never_cache_headers(response)
        # Django's handler would log every 503 as an error, once per probe; the checks log state changes.
        response._has_been_logged = True
        if request.method == "HEAD":
            response.content = b""
        return response
