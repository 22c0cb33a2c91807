"""The sending engine (R-SEND-4..9): a pass claims what is due, sends it, records every attempt.

A pass (`send_due`) has three steps, each of which survives the failure of the others:
1. start (occurrences.py): every due mailing is locked (SKIP LOCKED on PostgreSQL), gets its occurrence
   and one delivery per recipient, is marked started, and its next due time moves on;
2. deliver (worker.py over queue.py): worker threads, each with one reused SMTP connection, lease small
   batches of due deliveries, send each, and record the attempts and the deliveries' new states (policy.py)
   a few at a time (MAILER_RECORD_BATCH) as the server answers; connection failures in a row open the
   circuit breaker (breaker.py);
3. finish (occurrences.py): occurrences whose deliveries are all final get `finished_at`; mailings with
   nothing left are completed.

Crash safety (R-SEND-7): a delivery is marked sent within MAILER_RECORD_BATCH messages (and 50 ms, or at
once after a slow send) of the server accepting it, so a sender killed outright can repeat at most
MAILER_RECORD_BATCH messages per worker (1: only the message in flight); its leased deliveries are taken
again once the lease expires. A stopping pass (SIGTERM) writes every answer it has before it returns;
answers the database could not take (it went away) are written by the process's next pass
(worker.Unwritten). Any
number of passes may run at once on PostgreSQL; on SQLite, writers are serialised by the database lock, so
concurrent passes are safe but gain nothing.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from ..models import Occurrence
from . import occurrences
from .summary import PassSummary
from .worker import StopRequest, Workers


def _step(summary: PassSummary, what: str, run) -> None:
    try:
        run()
    except Exception as exc:
        summary.fail(f"step {what}", exc)


def send_due(*, now: dt.datetime | None = None, stop: StopRequest | None = None) -> PassSummary:
    """One pass over everything due. Never raises: problems end up in the summary and the log. With `stop`
    (the scheduler's), the pass ends soon after it is set: nothing more is started or claimed, and what
    the workers hold is sent or given back by its deadline (see worker.py)."""
    summary = PassSummary()
    if not (stop and stop.is_set()):
        _step(summary, "start", lambda: occurrences.start_due(now or timezone.now(), summary))
    _step(summary, "deliver", lambda: Workers(summary, now=now, stop=stop).run())
    _step(summary, "finish", lambda: occurrences.finish(summary))
    return summary


def send_occurrence(occurrence: Occurrence) -> PassSummary:
    """Deliver one occurrence's due work now, then finish; creates nothing (its deliveries exist already,
    e.g. from `services.mailing_send_now`). Never raises."""
    summary = PassSummary()
    _step(summary, "deliver", lambda: Workers(summary, occurrence_ids=[occurrence.pk]).run())
    _step(summary, "finish", lambda: occurrences.finish(summary))
    return summary
