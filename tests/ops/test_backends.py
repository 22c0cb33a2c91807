"""The suite really runs on what the environment names (CI runs it on SQLite and on PostgreSQL + Redis)."""

import os

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection

pytestmark = pytest.mark.django_db


def test_database_is_the_configured_one():
    expected = "postgresql" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "sqlite"
    assert connection.vendor == expected


def test_cache_round_trip_on_the_configured_backend():
    expected = "RedisCache" if os.environ.get("REDIS_URL") else "LocMemCache"
    assert settings.CACHES["default"]["BACKEND"].endswith(expected)
    cache.set("probe", {"n": 1}, 30)
    assert cache.get("probe") == {"n": 1}
    if expected == "RedisCache":
        from django_redis import get_redis_connection

        assert get_redis_connection("default").ping()


def test_failed_logins_are_counted_where_every_process_sees_them():
    """Login throttling counts in Redis when it is configured, else in the database; never in a
    per-process local-memory cache."""
    expected = "CacheLoginThrottle" if os.environ.get("REDIS_URL") else "DatabaseLoginThrottle"
    assert settings.AXES_HANDLER.removeprefix("backend.accounts.throttling.") == expected
