"""The circuit breaker (R-SEND-5): its open state is a database row, so every pass in
every process sees it, with or without Redis. No SMTP server here."""

import datetime as dt
import threading

import pytest
from django.db import connection

from backend.mailings.models import BreakerState
from backend.mailings.sending.breaker import SMTP, CircuitBreaker

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)


def breaker(threshold=3, cooldown=60.0, at=NOW) -> CircuitBreaker:
    return CircuitBreaker(threshold=threshold, cooldown=cooldown, clock=lambda: at)


def test_opens_after_threshold_connection_failures_in_a_row():
    b = breaker()
    assert [b.observe(connection_failed=True, text="refused") for _ in range(2)] == [False, False]
    assert not b.tripped.is_set() and b.open_state() is None
    assert b.observe(connection_failed=True, text="Connection refused") is True
    assert b.tripped.is_set()
    assert b.reason == (
        "3 connection failures in a row (last: Connection refused); SMTP server left alone for 60 s"
    )
    row = BreakerState.objects.get()
    assert (row.name, row.opened_at, row.open_until, row.reason) == (
        SMTP,
        NOW,
        NOW + dt.timedelta(seconds=60),
        b.reason,
    )


def test_a_success_or_recipient_failure_resets_the_count():
    b = breaker()
    b.observe(connection_failed=True, text="x")
    b.observe(connection_failed=True, text="x")
    b.observe(connection_failed=False, text="550 unknown user")
    b.observe(connection_failed=True, text="x")
    b.observe(connection_failed=True, text="x")
    assert not b.tripped.is_set()
    assert not BreakerState.objects.exists()


def test_opens_once_per_pass():
    b = breaker(threshold=1)
    assert b.observe(connection_failed=True, text="first") is True
    assert b.observe(connection_failed=True, text="second") is False
    assert "first" in b.reason and "first" in BreakerState.objects.get().reason


def test_another_pass_sees_it_open_until_the_cooldown_ends():
    breaker(threshold=1).observe(connection_failed=True, text="down")
    later = breaker(at=NOW + dt.timedelta(seconds=59))
    state = later.open_state()
    assert state["until"] == "2026-01-01T12:01:00+00:00" and "down" in state["reason"]
    assert not later.tripped.is_set()  # a new pass counts afresh; the engine checks open_state first
    assert breaker(at=NOW + dt.timedelta(seconds=60)).open_state() is None


def test_opening_again_moves_the_one_row_on():
    """A later trip (the next cooldown, or another process at the same time) replaces the row: one per
    server, the latest cooldown wins."""
    breaker(threshold=1).observe(connection_failed=True, text="first")
    after = NOW + dt.timedelta(minutes=5)
    breaker(threshold=1, at=after).observe(connection_failed=True, text="second")
    row = BreakerState.objects.get()
    assert (row.opened_at, row.open_until) == (after, after + dt.timedelta(seconds=60))
    assert "second" in row.reason


def test_it_is_not_kept_in_the_cache(settings):
    """With the cache pointing at a closed port (Redis down), a pass still sees the cooldown
    another pass opened."""
    from tests.fakes.smtp import closed_port

    settings.CACHES = {
        "default": {
            "BACKEND": "backend.cache.ResilientRedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed_port()}/0",
            "OPTIONS": {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
        }
    }
    breaker(threshold=1).observe(connection_failed=True, text="down")
    assert breaker(at=NOW + dt.timedelta(seconds=30)).open_state() is not None


@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # it opens on a thread's own connection
def test_threads_count_together_and_open_it_exactly_once():
    b = breaker(threshold=50)
    opened = []

    def fail_many():
        try:
            for _ in range(25):
                opened.append(b.observe(connection_failed=True, text="x"))
        finally:
            connection.close()

    threads = [threading.Thread(target=fail_many) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert opened.count(True) == 1
    assert BreakerState.objects.count() == 1
