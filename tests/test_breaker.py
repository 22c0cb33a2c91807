"""The circuit breaker (R-SEND-5, issue 9 §3): no database, no SMTP server; a private in-memory cache."""

import datetime as dt
import threading

import pytest
from django.core.cache.backends.locmem import LocMemCache

from backend.mailings.sending.breaker import CACHE_KEY, CircuitBreaker

NOW = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def cache():
    store = LocMemCache(f"breaker-test-{id(object())}", {})
    yield store
    store.clear()


def breaker(cache, threshold=3, cooldown=60.0) -> CircuitBreaker:
    return CircuitBreaker(threshold=threshold, cooldown=cooldown, cache=cache, clock=lambda: NOW)


def test_opens_after_threshold_connection_failures_in_a_row(cache):
    b = breaker(cache)
    assert [b.observe(connection_failed=True, text="refused") for _ in range(2)] == [False, False]
    assert not b.tripped.is_set() and b.open_state() is None
    assert b.observe(connection_failed=True, text="Connection refused") is True
    assert b.tripped.is_set()
    assert b.reason == (
        "3 connection failures in a row (last: Connection refused); SMTP server left alone for 60 s"
    )
    assert cache.get(CACHE_KEY) == {"until": "2026-01-01T12:01:00+00:00", "reason": b.reason}


def test_a_success_or_recipient_failure_resets_the_count(cache):
    b = breaker(cache)
    b.observe(connection_failed=True, text="x")
    b.observe(connection_failed=True, text="x")
    b.observe(connection_failed=False, text="550 unknown user")
    b.observe(connection_failed=True, text="x")
    b.observe(connection_failed=True, text="x")
    assert not b.tripped.is_set()


def test_opens_once_per_pass(cache):
    b = breaker(cache, threshold=1)
    assert b.observe(connection_failed=True, text="first") is True
    assert b.observe(connection_failed=True, text="second") is False
    assert "first" in b.reason


def test_another_pass_sees_it_open_through_the_shared_cache(cache):
    breaker(cache, threshold=1).observe(connection_failed=True, text="down")
    later = breaker(cache)
    assert later.open_state()["until"] == "2026-01-01T12:01:00+00:00"
    assert not later.tripped.is_set()  # a new pass counts afresh; the engine checks open_state first


def test_threads_count_together_and_open_it_exactly_once(cache):
    b = breaker(cache, threshold=50)
    opened = []

    def fail_many():
        for _ in range(25):
            opened.append(b.observe(connection_failed=True, text="x"))

    threads = [threading.Thread(target=fail_many) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert opened.count(True) == 1
