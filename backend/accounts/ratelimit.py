"""Counters in the database that every web process shares.

A limit allows `limit` events per fixed window of `period` seconds (windows start at the Unix epoch, so a day
is a UTC calendar day and an hour a clock hour). `take(...)` counts one event against several limits at once,
all or none: each count is one atomic upsert (``INSERT … ON CONFLICT DO UPDATE … WHERE hits < limit
RETURNING``) that raises a counter only while it is under its limit, so any number of parallel requests in
any number of processes get exactly `limit` passes. Counting happens *before* the thing counted (an SMS, an
email) is done; `Taken.refund()` gives the counts back when it turned out not to cost anything.

A limit of 0 means no limit. Keys are stored as an HMAC, never as the address itself.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from django.db import connections, router, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.crypto import salted_hmac

from .models import RateCounter

HOUR = 3600
DAY = 24 * HOUR
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# About one call in this many also deletes the counters of windows that are over.
_SWEEP_ONE_IN = 100


@dataclass(frozen=True)
class Limit:
    """At most `limit` events per `period` seconds for one (scope, key); 0 = no limit."""

    scope: str
    key: str
    limit: int
    period: int


class RateLimited(Exception):
    """A limit is used up; `retry_after` is the number of seconds until its window ends."""

    def __init__(self, limit: Limit, retry_after: int) -> None:
        super().__init__(f"rate limit {limit.scope} reached ({limit.limit} per {limit.period} s)")
        self.limit = limit
        self.retry_after = retry_after

    @property
    def retry_after_minutes(self) -> int:
        """`retry_after` in whole minutes, rounded up and at least one: what a page tells a person."""
        return max(1, -(-self.retry_after // 60))


@dataclass(frozen=True)
class _Count:
    scope: str
    key_hash: str
    window_start: dt.datetime


@dataclass(frozen=True)
class Taken:
    """The counts one `take` made, so they can be given back."""

    counts: tuple[_Count, ...]

    def refund(self) -> None:
        for count in self.counts:
            RateCounter.objects.filter(
                scope=count.scope, key_hash=count.key_hash, window_start=count.window_start, hits__gt=0
            ).update(hits=F("hits") - 1)


def _key_hash(limit: Limit) -> str:
    return salted_hmac(
        "mailer.accounts.ratelimit", f"{limit.scope}:{limit.key}", algorithm="sha256"
    ).hexdigest()


def _window_start(now: dt.datetime, period: int) -> dt.datetime:
    elapsed = int((now - _EPOCH).total_seconds())
    return _EPOCH + dt.timedelta(seconds=elapsed - elapsed % period)


def _increment(limit: Limit, key_hash: str, window_start: dt.datetime) -> bool:
    """One atomic statement: a new row with 1, or +1 on the existing row only while under the limit."""
    connection = connections[router.db_for_write(RateCounter)]
    table = connection.ops.quote_name(RateCounter._meta.db_table)
    adapt = connection.ops.adapt_datetimefield_value
    expires_at = window_start + dt.timedelta(seconds=limit.period)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (scope, key_hash, window_start, expires_at, hits) "  # noqa: S608
            "VALUES (%s, %s, %s, %s, 1) "
            "ON CONFLICT (scope, key_hash, window_start) "
            f"DO UPDATE SET hits = {table}.hits + 1 WHERE {table}.hits < %s "
            "RETURNING hits",
            [limit.scope, key_hash, adapt(window_start), adapt(expires_at), limit.limit],
        )
        return cursor.fetchone() is not None


def take(*limits: Limit, now: dt.datetime | None = None) -> Taken:
    """Count one event against every limit, or against none: raises `RateLimited` (the first limit that is
    used up) and leaves every counter as it was. Limits of 0 are skipped."""
    now = now or timezone.now()
    counts: list[_Count] = []
    with transaction.atomic(using=router.db_for_write(RateCounter)):
        if random.randrange(_SWEEP_ONE_IN) == 0:  # noqa: S311 - housekeeping, not security
            RateCounter.objects.filter(expires_at__lt=now).delete()
        for limit in limits:
            if limit.limit <= 0:
                continue
            count = _Count(limit.scope, _key_hash(limit), _window_start(now, limit.period))
            if not _increment(limit, count.key_hash, count.window_start):
                retry_after = count.window_start + dt.timedelta(seconds=limit.period) - now
                # Raising inside the atomic block rolls back the counts already made.
                raise RateLimited(limit, max(1, int(retry_after.total_seconds())))
            counts.append(count)
    return Taken(tuple(counts))
