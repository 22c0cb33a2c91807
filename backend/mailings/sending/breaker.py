"""The circuit breaker (R-SEND-5): after `threshold` connection failures in a row a pass stops, and every
pass, in any process sharing the cache, leaves the SMTP server alone for `cooldown` seconds."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable

from django.core.cache import BaseCache
from django.utils import timezone

logger = logging.getLogger(__name__)

CACHE_KEY = "mailer:smtp-breaker:v1"


class CircuitBreaker:
    """Counts consecutive connection failures of one pass (thread-safe) and opens over the shared cache."""

    def __init__(
        self,
        *,
        threshold: int,
        cooldown: float,
        cache: BaseCache | None = None,
        clock: Callable[[], dt.datetime] = timezone.now,
    ):
        if cache is None:
            from django.core.cache import cache as default_cache

            cache = default_cache
        self.threshold = threshold
        self.cooldown = cooldown
        self.cache = cache
        self.clock = clock
        self.tripped = threading.Event()  # set once this pass has opened the breaker: workers stop
        self.reason = ""
        self._failures = 0
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls) -> CircuitBreaker:
        from django.conf import settings

        return cls(
            threshold=settings.MAILER_BREAKER_THRESHOLD, cooldown=settings.MAILER_BREAKER_COOLDOWN_SECONDS
        )

    def open_state(self) -> dict | None:
        """`{"until": ISO time, "reason": ...}` while some pass opened the breaker and the cooldown runs."""
        return self.cache.get(CACHE_KEY)

    def observe(self, *, connection_failed: bool, text: str) -> bool:
        """Count one send's result; True when this call opened the breaker."""
        with self._lock:
            if not connection_failed:
                self._failures = 0
                return False
            self._failures += 1
            if self._failures < self.threshold or self.tripped.is_set():
                return False
            self.reason = (
                f"{self._failures} connection failures in a row (last: {text}); "
                f"SMTP server left alone for {self.cooldown:g} s"
            )
            self.tripped.set()
        until = self.clock() + dt.timedelta(seconds=self.cooldown)
        self.cache.set(CACHE_KEY, {"until": until.isoformat(), "reason": self.reason}, timeout=self.cooldown)
        logger.warning("circuit breaker open: %s", self.reason)
        return True
