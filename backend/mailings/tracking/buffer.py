"""Where the open pixel and the click redirect put their events (R-ENG-2), and the drain that stores them.

The endpoints face the whole internet, so a request writes nothing to the database when it can help it:

- with Redis (the "throttle" cache alias is a Redis one, i.e. REDIS_URL is set) an event is one RPUSH of a
  small JSON line onto `tracking:events`;
- without a shared cache (SQLite and local memory in development), or while Redis is down (`backend.cache`
  keeps one outage state per server: the endpoints then do not wait for it), the event is stored at once,
  as the drain would store it. An event is never dropped and the request never fails for it.

`drain()` (the scheduler's job, every MAILER_TICK_SECONDS) moves up to TRACKING_DRAIN_BATCH lines at a time
from the list onto a processing list with one Lua script (atomic), stores them, then deletes the processing
list. A process that dies between the two leaves its lines on the processing list, and the next drain, in
any process, stores them first; a batch stored twice is stored once, because every event carries a random
key that is unique in the table. One drain runs at a time (a lock key with an expiry).

Storing resolves each delivery to its mailing, occurrence, client and send time in one query, classifies
machine events (`machines`), inserts the batch in one statement and moves the clients' last open and click
times forward in one more. Events of deliveries that no longer exist (the mailing was deleted, the delivery
log purged) are dropped, as are clicks whose link is not of the delivery's mailing.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
from collections.abc import Iterable

from django.conf import settings
from django.core.cache import caches
from django.db import transaction
from django.utils import timezone

from backend.cache import CACHE_DOWN_ERRORS, ResilientRedisCache

from ..models import Client, Delivery, EngagementEvent, TrackedLink
from .machines import is_machine

logger = logging.getLogger(__name__)

QUEUE = "tracking:events"
PROCESSING = "tracking:processing"
LOCK = "tracking:drain-lock"
LOCK_SECONDS = 120

_TAKE = """
local items = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #items > 0 then
  redis.call('LTRIM', KEYS[1], #items, -1)
  redis.call('RPUSH', KEYS[2], unpack(items))
end
return items
"""


def _redis_cache() -> ResilientRedisCache | None:
    if "throttle" not in settings.CACHES:
        return None
    cache = caches["throttle"]
    return cache if isinstance(cache, ResilientRedisCache) else None


def _line(kind: str, delivery_id: int, link_id: int | None, at: dt.datetime, user_agent: str) -> str:
    return json.dumps(
        [secrets.token_hex(16), kind, delivery_id, link_id, at.timestamp(), user_agent[:255]],
        separators=(",", ":"),
    )


def record(kind: str, delivery_id: int, link_id: int | None, user_agent: str) -> None:
    """Buffer one event; never raises for an unreachable Redis (the event is stored at once instead)."""
    line = _line(kind, delivery_id, link_id, timezone.now(), user_agent)
    cache = _redis_cache()
    if cache is not None and not cache.outage.waiting():
        try:
            cache.client.get_client(write=True).rpush(cache.make_key(QUEUE), line)
        except CACHE_DOWN_ERRORS as exc:
            cache.outage.failed(exc)
        else:
            cache.outage.succeeded(0)
            return
    store([line])


def store(lines: Iterable[str | bytes]) -> int:
    """Store buffered lines, each at most once however often it is passed; returns how many were valid."""
    events = []
    for raw in lines:
        try:
            key, kind, delivery_id, link_id, at, user_agent = json.loads(raw)
            events.append(
                (str(key), str(kind), int(delivery_id), link_id and int(link_id), float(at), str(user_agent))
            )
        except (ValueError, TypeError):
            logger.warning("tracking: an unreadable buffered event was dropped: %r", raw[:200])
    if not events:
        return 0
    deliveries = {
        row[0]: row[1:]
        for row in Delivery.objects.filter(pk__in={event[2] for event in events}).values_list(
            "pk", "mailing_id", "occurrence_id", "client_id", "sent_at"
        )
    }
    link_ids = {event[3] for event in events if event[3]}
    links = {}
    if link_ids:
        links = dict(TrackedLink.objects.filter(pk__in=link_ids).values_list("pk", "mailing_id"))
    rows: list[EngagementEvent] = []
    last: dict[int, dict[str, dt.datetime]] = {}
    for key, kind, delivery_id, link_id, stamp, user_agent in events:
        if delivery_id not in deliveries or kind not in EngagementEvent.Kind.values:
            continue
        mailing_id, occurrence_id, client_id, sent_at = deliveries[delivery_id]
        if (kind == "click") != bool(link_id) or (link_id and links.get(link_id) != mailing_id):
            continue
        at = dt.datetime.fromtimestamp(stamp, tz=dt.UTC)
        machine = is_machine(kind, user_agent, at, sent_at)
        rows.append(
            EngagementEvent(
                key=key,
                kind=kind,
                mailing_id=mailing_id,
                occurrence_id=occurrence_id,
                delivery_id=delivery_id,
                link_id=link_id,
                at=at,
                is_machine=machine,
                user_agent=user_agent,
            )
        )
        if not machine and client_id is not None:
            times = last.setdefault(client_id, {})
            field = "last_opened_at" if kind == "open" else "last_clicked_at"
            times[field] = max(times.get(field, at), at)
    with transaction.atomic():
        EngagementEvent.objects.bulk_create(rows, ignore_conflicts=True)
        _move_clients_forward(last)
    return len(rows)


def _move_clients_forward(last: dict[int, dict[str, dt.datetime]]) -> None:
    if not last:
        return
    clients = list(Client.objects.filter(pk__in=list(last)).only("pk", "last_opened_at", "last_clicked_at"))
    changed = []
    for client in clients:
        moved = False
        for field, at in last[client.pk].items():
            if getattr(client, field) is None or getattr(client, field) < at:
                setattr(client, field, at)
                moved = True
        if moved:
            changed.append(client)
    if changed:
        Client.objects.bulk_update(changed, ["last_opened_at", "last_clicked_at"])


def drain(*, batches: int | None = 100) -> int:
    """Store what the endpoints buffered in Redis; returns the number of events stored. Nothing to do
    without Redis (events were stored at once) or while another process drains."""
    cache = _redis_cache()
    if cache is None:
        return 0
    try:
        redis = cache.client.get_client(write=True)
        lock = cache.make_key(LOCK)
        owner = secrets.token_hex(8)
        if not redis.set(lock, owner, nx=True, ex=LOCK_SECONDS):
            return 0
        try:
            return _drain(redis, cache, batches)
        finally:
            if redis.get(lock) == owner.encode():
                redis.delete(lock)
    except CACHE_DOWN_ERRORS as exc:
        cache.outage.failed(exc)
        return 0


def _drain(redis, cache: ResilientRedisCache, batches: int | None) -> int:
    queue, processing = cache.make_key(QUEUE), cache.make_key(PROCESSING)
    size = settings.TRACKING_DRAIN_BATCH
    stored = 0
    left = redis.lrange(processing, 0, -1)  # a drain that died after taking: its lines come first
    if left:
        stored += store(left)
        redis.delete(processing)
    done = 0
    while batches is None or done < batches:
        lines = redis.eval(_TAKE, 2, queue, processing, size)
        if not lines:
            break
        stored += store(lines)
        redis.delete(processing)
        done += 1
        redis.expire(cache.make_key(LOCK), LOCK_SECONDS)
    return stored
