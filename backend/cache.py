"""The Redis cache backend: django-redis, made quiet and quick while Redis is down.

django-redis with ``IGNORE_EXCEPTIONS`` already answers every call as a miss when Redis cannot be reached;
what it did besides was log a full traceback for every call (some 170 lines per sending pass, more per page)
and let every call wait for its own connection attempt. This backend keeps one outage state per Redis server
and process, shared by every cache alias and thread that talks to that server:

- the first failed call logs ONE warning line; while the outage lasts nothing more is logged, and the line
  when a call succeeds again is one info line with how long it lasted and how many calls missed;
- after a failed call, calls fail at once (no network) for ``OUTAGE_RETRY_SECONDS`` (OPTIONS, default 5), so a
  Redis that does not answer at all costs one ``SOCKET_CONNECT_TIMEOUT`` per interval, not one per call;
- invalidations the caller could not know were lost (``delete``/``delete_many``/``incr``/``decr`` on an alias
  with ``IGNORE_EXCEPTIONS``) are replayed when Redis is back, so a blog edit or a new mailing made during the
  outage does not leave the old cached page in Redis for its whole TTL (R-CACHE-1). Other processes' misses
  are theirs to replay.

An alias without ``IGNORE_EXCEPTIONS`` (the login throttle's, see ``settings.CACHES``) still raises redis's
``ConnectionError`` to its caller, which decides what an outage means for it; those calls share the state and
the single log line.
"""

from __future__ import annotations

import inspect
import logging
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from django_redis.cache import RedisCache
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

# What tells a caller of an alias without IGNORE_EXCEPTIONS that Redis is unreachable.
CACHE_DOWN_ERRORS: tuple[type[Exception], ...] = (
    ConnectionInterrupted,
    RedisConnectionError,
    RedisTimeoutError,
    socket.timeout,
)
DEFAULT_RETRY_SECONDS = 5.0
# The client calls that reach the server: only these count as proof that Redis is down or back (`close`,
# `make_key` and the like succeed without it).
NETWORK_CALLS = frozenset(
    {
        "get",
        "set",
        "add",
        "delete",
        "delete_many",
        "get_many",
        "set_many",
        "incr",
        "decr",
        "touch",
        "has_key",
        "clear",
        "ttl",
        "expire",
        "persist",
        "keys",
        "delete_pattern",
    }
)
_REPLAYED = frozenset({"delete", "delete_many", "incr", "decr"})
MAX_REPLAYED_KEYS = 10_000


class RedisDownError(RedisConnectionError):
    """A call refused without trying the network, within the retry interval of a failed one."""


def _without_credentials(location: str) -> str:
    return re.sub(r"//[^/@]*@", "//", location)


@dataclass
class Outage:
    """One Redis server's state as this process sees it."""

    location: str
    retry_seconds: float
    down_since: float | None = None  # time.monotonic() of the first failure
    next_try: float = 0.0
    failed_calls: int = 0
    # Lost invalidations, by made (prefixed, versioned) key: None = delete, an int = add that amount.
    missed: dict[Any, int | None] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def is_down(self) -> bool:
        return self.down_since is not None

    def waiting(self) -> bool:
        """Within the retry interval of a failure: the call should fail at once, not try the network."""
        with self.lock:
            return self.down_since is not None and time.monotonic() < self.next_try

    def failed(self, error: BaseException) -> None:
        with self.lock:
            self.failed_calls += 1
            if isinstance(error, RedisDownError):
                return
            now = time.monotonic()
            self.next_try = now + self.retry_seconds
            if self.down_since is not None:
                return
            self.down_since = now
        logger.warning(
            "Redis at %s is unreachable (%s: %s); serving without the cache, logins counted in the "
            "database, next try in %g s; nothing more is logged until it is back",
            _without_credentials(self.location),
            type(error).__name__,
            error,
            self.retry_seconds,
        )

    def take_missed(self) -> dict[Any, int | None]:
        with self.lock:
            missed, self.missed = self.missed, {}
        return missed

    def succeeded(self, replayed: int) -> None:
        """A call reached the server: if that ends an outage, say so once."""
        if self.down_since is None:  # unlocked read: the common case costs nothing
            return
        with self.lock:
            if self.down_since is None:
                return
            lasted, calls = time.monotonic() - self.down_since, self.failed_calls
            self.down_since, self.failed_calls = None, 0
        logger.info(
            "Redis at %s is back after %.1f s (%d calls went without it; %d lost invalidations replayed)",
            _without_credentials(self.location),
            lasted,
            calls,
            replayed,
        )

    def remember(self, missed: dict[Any, int | None]) -> None:
        with self.lock:
            for key, delta in missed.items():
                if key not in self.missed and len(self.missed) >= MAX_REPLAYED_KEYS:
                    continue
                before = self.missed.get(key, 0)
                self.missed[key] = None if delta is None or before is None else before + delta


_outages: dict[str, Outage] = {}
_outages_lock = threading.Lock()


def outage_for(location: str, retry_seconds: float = DEFAULT_RETRY_SECONDS) -> Outage:
    with _outages_lock:
        if location not in _outages:
            _outages[location] = Outage(location, retry_seconds)
        return _outages[location]


class _GuardedClient:
    """The django-redis client with every network call watched by the server's `Outage`."""

    def __init__(self, client, outage: Outage, replays: bool):
        self._client = client
        self._outage = outage
        self._replays = replays

    def __getattr__(self, name: str):
        attribute = getattr(self._client, name)
        if name not in NETWORK_CALLS:
            return attribute

        def call(*args, **kwargs):
            replayed = 0
            try:
                if self._outage.is_down:
                    if self._outage.waiting():
                        raise RedisDownError(
                            f"Redis at {_without_credentials(self._outage.location)} is down; next try in "
                            f"at most {self._outage.retry_seconds:g} s"
                        )
                    # The first call after an outage replays what was lost before it runs, so that even
                    # it reads no page the outage left stale.
                    replayed = self._replay(self._outage.take_missed())
                result = attribute(*args, **kwargs)
            except ConnectionInterrupted as exc:
                self._lost(name, attribute, args, kwargs, exc.__cause__ or exc)
                raise
            except CACHE_DOWN_ERRORS as exc:  # a few client calls (touch) let redis's own errors through
                self._lost(name, attribute, args, kwargs, exc)
                raise ConnectionInterrupted(connection=None) from exc
            self._outage.succeeded(replayed)
            return result

        return call

    def _lost(self, name: str, method, args, kwargs, error: BaseException) -> None:
        """This call did not reach the server: count it, and keep the invalidation it carried."""
        self._outage.failed(error)
        if self._replays and name in _REPLAYED:
            self._outage.remember(self._invalidations(name, method, args, kwargs))

    def _invalidations(self, name: str, method, args, kwargs) -> dict[Any, int | None]:
        bound = inspect.signature(method).bind(*args, **kwargs)
        version = bound.arguments.get("version")
        if name == "delete_many":
            return {self._client.make_key(key, version=version): None for key in bound.arguments["keys"]}
        key = self._client.make_key(bound.arguments["key"], version=version)
        if name == "delete":
            return {key: None}
        delta = bound.arguments.get("delta", 1)
        return {key: delta if name == "incr" else -delta}

    def _replay(self, missed: dict[Any, int | None]) -> int:
        """Apply the invalidations an outage lost; if Redis fails meanwhile, keep the rest and raise."""
        left = dict(missed)
        for key, delta in missed.items():
            try:
                if delta is None:
                    self._client.delete(key)
                elif delta:
                    self._client.incr(key, delta)
            except ValueError:  # the counter is gone (expired, or Redis lost its data): nothing to move on
                pass
            except BaseException:
                self._outage.remember(left)
                raise
            del left[key]
        return len(missed)


class ResilientRedisCache(RedisCache):
    """django-redis's cache with one outage state per server and process (see the module's docstring)."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        retry = float(params.get("OPTIONS", {}).get("OUTAGE_RETRY_SECONDS", DEFAULT_RETRY_SECONDS))
        self.outage = outage_for(str(server), retry)

    @property
    def client(self):
        return _GuardedClient(RedisCache.client.fget(self), self.outage, replays=self._ignore_exceptions)
