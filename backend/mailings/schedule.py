"""When a mailing's occurrences fall (R-SEND-1..3). Pure functions: no database, no clock.

Occurrence k of a mailing is its start's *local wall-clock time* in the mailing's time zone, moved k days
(daily), 7k days (weekly) or k months (monthly), then converted back to UTC. So "daily at 09:00
Europe/Berlin" stays at 09:00 in Berlin across daylight-saving changes, and "monthly on the 31st" falls on
the last day of shorter months and returns to the 31st afterwards (it is always anchored on the start, never
on the previous occurrence). Every occurrence lies in [start, end): an occurrence exactly at the end is not
sent.
"""

import calendar
import datetime as dt
from collections.abc import Iterator
from zoneinfo import ZoneInfo

ONCE, DAILY, WEEKLY, MONTHLY = "once", "daily", "weekly", "monthly"
PERIODICITIES = (ONCE, DAILY, WEEKLY, MONTHLY)
UTC = dt.UTC


def _require_aware(*values: dt.datetime) -> None:
    for value in values:
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("schedule functions need time-zone-aware datetimes")


def _add_months(wall: dt.datetime, months: int) -> dt.datetime:
    month_index = wall.month - 1 + months
    year, month = wall.year + month_index // 12, month_index % 12 + 1
    day = min(wall.day, calendar.monthrange(year, month)[1])
    return wall.replace(year=year, month=month, day=day)


def occurrence(start: dt.datetime, periodicity: str, index: int, tz: ZoneInfo) -> dt.datetime:
    """The `index`-th occurrence (0 is the start itself), in UTC."""
    _require_aware(start)
    if index < 0:
        raise ValueError("occurrence index must be >= 0")
    if index == 0:
        return start.astimezone(UTC)
    if periodicity == ONCE:
        raise ValueError("a one-off mailing has a single occurrence")
    wall = start.astimezone(tz).replace(tzinfo=None)
    if periodicity == DAILY:
        wall = wall + dt.timedelta(days=index)
    elif periodicity == WEEKLY:
        wall = wall + dt.timedelta(days=7 * index)
    elif periodicity == MONTHLY:
        wall = _add_months(wall, index)
    else:
        raise ValueError(f"unknown periodicity {periodicity!r}")
    # fold=0: an ambiguous wall time (clocks going back) takes its first instant; a wall time that does
    # not exist (clocks going forward) is read with the offset before the change, i.e. an hour later.
    return wall.replace(tzinfo=tz, fold=0).astimezone(UTC)


def _index_at_or_before(start: dt.datetime, periodicity: str, moment: dt.datetime, tz: ZoneInfo) -> int:
    """The largest k with occurrence(k) <= moment (moment >= start)."""
    if periodicity == ONCE:
        return 0
    start_local, moment_local = start.astimezone(tz), moment.astimezone(tz)
    if periodicity == MONTHLY:
        guess = (moment_local.year - start_local.year) * 12 + moment_local.month - start_local.month
    else:
        step = 1 if periodicity == DAILY else 7
        guess = (moment_local.date() - start_local.date()).days // step
    guess = max(guess, 0)
    # The calendar guess is off by at most one step either way (time of day, DST, month lengths).
    while guess > 0 and occurrence(start, periodicity, guess, tz) > moment:
        guess -= 1
    while occurrence(start, periodicity, guess + 1, tz) <= moment:
        guess += 1
    return guess


def occurrences(
    start: dt.datetime, end: dt.datetime, periodicity: str, tz: ZoneInfo, *, after: dt.datetime | None = None
) -> Iterator[dt.datetime]:
    """Every occurrence in [start, end), in order; with `after`, only those strictly later than it."""
    _require_aware(start, end)
    index = 0
    if after is not None and after >= start:
        index = _index_at_or_before(start, periodicity, after, tz) + 1
    while True:
        if periodicity == ONCE and index > 0:
            return
        moment = occurrence(start, periodicity, index, tz)
        if moment >= end:
            return
        yield moment
        index += 1


def next_occurrence(
    start: dt.datetime, end: dt.datetime, periodicity: str, tz: ZoneInfo, *, after: dt.datetime
) -> dt.datetime | None:
    """The first occurrence strictly after `after`, or None when none is left before `end`."""
    return next(occurrences(start, end, periodicity, tz, after=after), None)


def current_occurrence(
    start: dt.datetime, end: dt.datetime, periodicity: str, tz: ZoneInfo, *, now: dt.datetime
) -> dt.datetime | None:
    """The occurrence a mailing should send next as seen at `now`.

    Before the start: the start. Within [start, end): the latest occurrence at or before `now` — due at
    once, so a mailing created or edited mid-period reaches its (new) clients without waiting a whole
    period. At or after the end: None.
    """
    _require_aware(start, end, now)
    if now >= end:
        return None
    if now < start:
        return start.astimezone(UTC)
    return occurrence(start, periodicity, _index_at_or_before(start, periodicity, now, tz), tz)
