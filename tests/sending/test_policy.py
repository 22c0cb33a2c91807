"""The retry policy's pure decisions (R-SEND-5): no database, no SMTP server."""

import datetime as dt

import pytest

from backend.mailings.models import Delivery, DeliveryAttempt
from backend.mailings.sending.policy import NextState, RetryPolicy

NOW = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
Outcome = DeliveryAttempt.Outcome
Status = Delivery.Status


def policy(jitter: float = 1.0, **overrides) -> RetryPolicy:
    values = {"max_attempts": 5, "base_seconds": 60.0, "max_seconds": 3600.0, **overrides}
    return RetryPolicy(jitter=lambda: jitter, **values)


def test_accepted_is_sent_now_with_no_next_attempt():
    assert policy().next_state(attempts_before=2, outcome=Outcome.SENT, now=NOW) == NextState(
        Status.SENT, 3, None, NOW
    )


def test_permanent_failure_is_final_at_the_first_attempt():
    """R-SEND-5: 5xx is final at once, never retried."""
    assert policy().next_state(attempts_before=0, outcome=Outcome.PERMANENT, now=NOW) == NextState(
        Status.FAILED, 1, None, None
    )


def test_temporary_failure_retries_after_the_backoff():
    state = policy().next_state(attempts_before=0, outcome=Outcome.TEMPORARY, now=NOW)
    assert state == NextState(Status.RETRYING, 1, NOW + dt.timedelta(seconds=60), None)


def test_temporary_failure_at_the_last_attempt_fails_for_good():
    state = policy(max_attempts=3).next_state(attempts_before=2, outcome=Outcome.TEMPORARY, now=NOW)
    assert (state.status, state.attempts, state.next_attempt_at) == (Status.FAILED, 3, None)


def test_plain_strings_from_any_transport_are_the_same_outcomes():
    """One outcome enum: the transport's values are the attempt log's."""
    assert policy().next_state(attempts_before=0, outcome="sent", now=NOW).status == Status.SENT
    assert policy().next_state(attempts_before=0, outcome="permanent", now=NOW).status == Status.FAILED


@pytest.mark.parametrize(
    ("attempts", "seconds"), [(1, 60), (2, 120), (3, 240), (6, 1920), (7, 3600), (40, 3600)]
)
def test_backoff_doubles_up_to_the_cap(attempts, seconds):
    assert policy().backoff(attempts) == dt.timedelta(seconds=seconds)


@pytest.mark.parametrize("jitter", [0.8, 1.2])
def test_jitter_spreads_the_delay_and_still_applies_at_the_cap(jitter):
    assert policy(jitter).backoff(1) == dt.timedelta(seconds=60 * jitter)
    assert policy(jitter).backoff(30) == dt.timedelta(seconds=3600 * jitter)


def test_default_jitter_stays_within_twenty_percent():
    plain = RetryPolicy(max_attempts=5, base_seconds=100, max_seconds=1000)
    delays = {plain.backoff(1).total_seconds() for _ in range(200)}
    assert min(delays) >= 80 and max(delays) <= 120
    assert len(delays) > 1  # not a fixed delay: retries of one failure don't come back at the same moment


def test_zero_base_retries_at_once():
    state = policy(base_seconds=0).next_state(attempts_before=0, outcome=Outcome.TEMPORARY, now=NOW)
    assert state.next_attempt_at == NOW
