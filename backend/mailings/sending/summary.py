"""What a pass did: counts, why it stopped early, its errors; shared by every step and worker of the pass."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from . import failures

# The engine's logger, as before this class had a module of its own: log filters and alerts name it.
logger = logging.getLogger("backend.mailings.sending.engine")


@dataclass
class PassSummary:
    occurrences: int = 0
    queued: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    skipped: int = 0
    completed: int = 0
    given_back: int = 0  # deliveries a stopping pass gave back unsent, due again at once
    deferred: int = 0  # deliveries kept back by their owner's daily quota until the owner's next day
    breaker: str = ""
    errors: list[str] = field(default_factory=list)
    database: str = ""  # the database went away during the pass: why, as the driver said it (failures.py)
    database_errors: int = 0  # of `errors`, those; they are in this summary, not in the log
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def count(self, status: str, n: int = 1) -> None:
        """`n` more deliveries with `status` (sent, retrying, failed, skipped, given_back); called from every
        worker."""
        with self._lock:
            setattr(self, status, getattr(self, status) + n)

    def fail(self, what: str, error: Exception) -> None:
        """A worker or a step stopped on `error`: the database going away is one clause of this summary's
        line however many workers it stopped; anything else is logged with its traceback."""
        if not failures.database_unreachable(error):
            logger.exception("sending pass: %s stopped", what)
            with self._lock:
                self.errors.append(f"{what}: {error}")
            return
        with self._lock:
            self.errors.append(f"{what}: {failures.describe(error)}")
            self.database_errors += 1
            self.database = self.database or failures.describe(error)

    def __str__(self) -> str:
        text = (
            f"occurrences started: {self.occurrences}, recipients queued: {self.queued}; "
            f"sent: {self.sent}, failed: {self.failed}, retrying: {self.retrying}, skipped: {self.skipped}; "
            f"mailings completed: {self.completed}"
        )
        if self.breaker:
            text += f"; stopped early: {self.breaker}"
        if self.deferred:
            text += f"; kept back by daily quotas: {self.deferred}"
        if self.given_back:
            text += f"; stopping: {self.given_back} given back unsent"
        if self.database:
            text += f"; the database went away ({self.database}): stopped, the next pass carries on"
        if len(self.errors) > self.database_errors:
            text += f"; errors: {len(self.errors) - self.database_errors} (see the log)"
        return text
