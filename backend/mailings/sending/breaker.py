"""The circuit breaker (R-SEND-5): after `threshold` connection failures in a row a pass stops, and every
pass, in any process sharing the database, leaves the SMTP server alone for `cooldown` seconds.

The open state is a database row (`BreakerState`), not a cache key: with Redis down the cache
answered "not open" to every pass, so a down SMTP server was hit again every tick during its cooldown. The
database is what sending needs anyway, and every scheduler on it sees the same row.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable

from django.conf import settings
from django.utils import timezone

from ..models import BreakerState

logger = logging.getLogger(__name__)

SMTP = "smtp"  # the one SMTP server the engine sends through (settings.EMAIL_*)


class CircuitBreaker:
    """Counts consecutive connection failures of one pass (thread-safe) and opens for every pass."""

    def __init__(
        self,
        *,
        threshold: int,
        cooldown: float,
        name: str = SMTP,
        clock: Callable[[], dt.datetime] = timezone.now,
    ):
        self.threshold = threshold
        self.cooldown = cooldown
        self.name = name
        self.clock = clock
        self.tripped = threading.Event()  # set once this pass has opened the breaker: workers stop
        self.reason = ""
        self._failures = 0
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls) -> CircuitBreaker:
        return cls(
            threshold=settings.MAILER_BREAKER_THRESHOLD, cooldown=settings.MAILER_BREAKER_COOLDOWN_SECONDS
        )

    def open_state(self) -> dict | None:
        """`{"until": ISO time, "reason": ...}` while some pass opened the breaker and the cooldown runs."""
        row = (
            BreakerState.objects.filter(name=self.name, open_until__gt=self.clock())
            .values("open_until", "reason")
            .first()
        )
        return {"until": row["open_until"].isoformat(), "reason": row["reason"]} if row else None

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
        opened = self.clock()
        # One statement, so passes of several processes tripping at once leave one row (the last one's).
        BreakerState.objects.bulk_create(
            [
                BreakerState(
                    name=self.name,
                    opened_at=opened,
                    open_until=opened + dt.timedelta(seconds=self.cooldown),
                    reason=self.reason,
                )
            ],
            update_conflicts=True,
            unique_fields=["name"],
            update_fields=["opened_at", "open_until", "reason"],
        )
        logger.warning("circuit breaker open: %s", self.reason)
        return True
