"""The retry policy (R-SEND-5), pure: no database, no clock, no settings read inside a decision.

Given how many attempts a delivery has had and the outcome of this one, `RetryPolicy.next_state` says what
the delivery becomes: sent, failed for good, or retrying after an exponential backoff with jitter.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings

from ..models import Delivery, DeliveryAttempt

Outcome = DeliveryAttempt.Outcome
Status = Delivery.Status


@dataclass(frozen=True)
class NextState:
    status: Status
    attempts: int
    next_attempt_at: dt.datetime | None
    sent_at: dt.datetime | None


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    base_seconds: float
    max_seconds: float
    # +-20% so that retries of many deliveries that failed together don't all come back at once.
    jitter: Callable[[], float] = lambda: random.uniform(0.8, 1.2)  # noqa: S311

    @classmethod
    def from_settings(cls) -> RetryPolicy:
        return cls(
            max_attempts=settings.MAILER_MAX_ATTEMPTS,
            base_seconds=settings.MAILER_RETRY_BASE_SECONDS,
            max_seconds=settings.MAILER_RETRY_MAX_SECONDS,
        )

    def backoff(self, attempts: int) -> dt.timedelta:
        """The delay after the `attempts`-th failure: base * 2^(attempts-1), capped, then jittered."""
        base = self.base_seconds * 2 ** max(attempts - 1, 0)
        return dt.timedelta(seconds=min(base, self.max_seconds) * self.jitter())

    def next_state(self, *, attempts_before: int, outcome: str, now: dt.datetime) -> NextState:
        """The delivery after one more attempt whose outcome is `outcome` (an `Outcome` value)."""
        attempts = attempts_before + 1
        if outcome == Outcome.SENT:
            return NextState(Status.SENT, attempts, None, now)
        if outcome == Outcome.PERMANENT or attempts >= self.max_attempts:
            return NextState(Status.FAILED, attempts, None, None)
        return NextState(Status.RETRYING, attempts, now + self.backoff(attempts), None)
