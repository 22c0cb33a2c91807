"""The schedule's pure functions (R-SEND-1..3): properties and named edge cases."""

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.mailings import schedule
from backend.mailings.schedule import DAILY, MONTHLY, ONCE, WEEKLY

UTC = dt.UTC
MOSCOW = ZoneInfo("Europe/Moscow")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def local(tz: ZoneInfo, *args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=tz)


def all_occurrences(start, end, periodicity, tz, **kwargs):
    return list(schedule.occurrences(start, end, periodicity, tz, **kwargs))


# --- properties -------------------------------------------------------------------

ZONES = st.sampled_from(["UTC", "Europe/Moscow", "Europe/Berlin", "America/New_York", "Australia/Sydney"])
STARTS = st.datetimes(min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2030, 12, 31))
SPANS = st.timedeltas(min_value=dt.timedelta(minutes=1), max_value=dt.timedelta(days=800))


@settings(max_examples=150, deadline=None)
@given(zone=ZONES, naive_start=STARTS, span=SPANS, periodicity=st.sampled_from(schedule.PERIODICITIES))
def test_occurrences_increase_and_stay_within_start_and_end(zone, naive_start, span, periodicity):
    """R-SEND-3: strictly increasing, never before start, never at or after end, spacing by periodicity."""
    tz = ZoneInfo(zone)
    start = naive_start.replace(tzinfo=UTC)
    end = start + span
    moments = all_occurrences(start, end, periodicity, tz)
    assert moments, "the start itself is always an occurrence"
    assert moments[0] == start
    assert all(a < b for a, b in itertools.pairwise(moments))
    assert all(start <= m < end for m in moments)
    if periodicity == ONCE:
        assert moments == [start]
    start_local = start.astimezone(tz)
    for index, moment in enumerate(moments):
        wall = moment.astimezone(tz)
        if periodicity == DAILY:
            assert (wall.date() - start_local.date()).days == index
        elif periodicity == WEEKLY:
            assert (wall.date() - start_local.date()).days == 7 * index
        elif periodicity == MONTHLY:
            months = (wall.year - start_local.year) * 12 + wall.month - start_local.month
            assert months == index
            assert wall.day == min(start_local.day, _days_in_month(wall.year, wall.month))
    # The next occurrence after any listed one is the following one in the list (or None at the end).
    for current, following in zip(moments, [*moments[1:], None], strict=True):
        assert schedule.next_occurrence(start, end, periodicity, tz, after=current) == following


@settings(max_examples=150, deadline=None)
@given(
    zone=ZONES,
    naive_start=STARTS,
    span=SPANS,
    periodicity=st.sampled_from(schedule.PERIODICITIES),
    offset=st.timedeltas(min_value=dt.timedelta(days=-30), max_value=dt.timedelta(days=900)),
)
def test_current_occurrence_is_the_latest_one_not_after_now(zone, naive_start, span, periodicity, offset):
    """R-SEND-1/2: before the start the start is due; in the window the latest occurrence; after, none."""
    tz = ZoneInfo(zone)
    start = naive_start.replace(tzinfo=UTC)
    end = start + span
    now = start + offset
    current = schedule.current_occurrence(start, end, periodicity, tz, now=now)
    if now >= end:
        assert current is None
    elif now < start:
        assert current == start
    else:
        expected = [m for m in all_occurrences(start, end, periodicity, tz) if m <= now][-1]
        assert current == expected


def _days_in_month(year: int, month: int) -> int:
    import calendar

    return calendar.monthrange(year, month)[1]


# --- named edge cases ---------------------------------------------------------------


def test_monthly_on_the_31st_falls_on_the_last_day_then_returns_to_the_31st():
    start = local(MOSCOW, 2026, 1, 31, 10, 0)
    end = local(MOSCOW, 2026, 6, 1)
    days = [m.astimezone(MOSCOW).date().isoformat() for m in all_occurrences(start, end, MONTHLY, MOSCOW)]
    assert days == ["2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30", "2026-05-31"]


def test_monthly_on_the_29th_in_a_leap_year():
    start = local(UTC, 2027, 12, 29, 8, 0)
    end = local(UTC, 2028, 4, 1)
    days = [m.date().isoformat() for m in all_occurrences(start, end, MONTHLY, ZoneInfo("UTC"))]
    assert days == ["2027-12-29", "2028-01-29", "2028-02-29", "2028-03-29"]


def test_daily_keeps_local_time_across_dst_in_berlin():
    """09:00 in Berlin stays 09:00 local while the UTC time moves by an hour (DST starts 2026-03-29)."""
    start = local(BERLIN, 2026, 3, 27, 9, 0)
    end = local(BERLIN, 2026, 3, 31, 0, 0)
    moments = all_occurrences(start, end, DAILY, BERLIN)
    assert [m.astimezone(BERLIN).strftime("%m-%d %H:%M") for m in moments] == [
        "03-27 09:00",
        "03-28 09:00",
        "03-29 09:00",
        "03-30 09:00",
    ]
    assert [m.strftime("%H:%M") for m in moments] == ["08:00", "08:00", "07:00", "07:00"]


def test_daily_in_moscow_is_unaffected_by_dst_elsewhere():
    start = local(MOSCOW, 2026, 10, 23, 9, 0)
    end = local(MOSCOW, 2026, 10, 28, 0, 0)  # Europe and the US change clocks on 10-25 and 11-01
    moments = all_occurrences(start, end, DAILY, MOSCOW)
    assert {m.strftime("%H:%M") for m in moments} == {"06:00"}
    assert len(moments) == 5


def test_a_wall_time_skipped_by_dst_is_sent_an_hour_later_that_day():
    """New York skips 02:00-03:00 on 2026-03-08: a daily 02:30 mailing goes out at 03:30 that day only."""
    start = local(NEW_YORK, 2026, 3, 7, 2, 30)
    end = local(NEW_YORK, 2026, 3, 10, 0, 0)
    walls = [
        m.astimezone(NEW_YORK).strftime("%d %H:%M") for m in all_occurrences(start, end, DAILY, NEW_YORK)
    ]
    assert walls == ["07 02:30", "08 03:30", "09 02:30"]


def test_an_end_exactly_on_an_occurrence_excludes_it():
    start = local(UTC, 2026, 5, 1, 12, 0)
    end = local(UTC, 2026, 5, 4, 12, 0)
    assert [m.day for m in all_occurrences(start, end, DAILY, ZoneInfo("UTC"))] == [1, 2, 3]
    assert (
        schedule.next_occurrence(start, end, DAILY, ZoneInfo("UTC"), after=local(UTC, 2026, 5, 3, 12, 0))
        is None
    )
    assert schedule.current_occurrence(start, end, DAILY, ZoneInfo("UTC"), now=end) is None


def test_once_has_a_single_occurrence():
    start = local(UTC, 2026, 5, 1, 12, 0)
    end = local(UTC, 2027, 5, 1, 12, 0)
    assert all_occurrences(start, end, ONCE, ZoneInfo("UTC")) == [start]
    assert schedule.next_occurrence(start, end, ONCE, ZoneInfo("UTC"), after=start) is None
    later = local(UTC, 2026, 8, 1)
    assert schedule.current_occurrence(start, end, ONCE, ZoneInfo("UTC"), now=later) == start


def test_weekly_repeats_on_the_same_weekday():
    start = local(MOSCOW, 2026, 11, 2, 9, 0)  # a Monday
    end = local(MOSCOW, 2026, 12, 1)
    moments = all_occurrences(start, end, WEEKLY, MOSCOW)
    assert [m.astimezone(MOSCOW).day for m in moments] == [2, 9, 16, 23, 30]
    assert {m.astimezone(MOSCOW).weekday() for m in moments} == {0}


def test_after_before_start_yields_from_the_start():
    start = local(UTC, 2026, 5, 1, 12, 0)
    end = local(UTC, 2026, 5, 3, 12, 0)
    assert schedule.next_occurrence(start, end, DAILY, ZoneInfo("UTC"), after=local(UTC, 2020, 1, 1)) == start


def test_current_occurrence_years_later_is_computed_without_walking():
    start = local(UTC, 2000, 1, 31, 6, 0)
    end = local(UTC, 2100, 1, 1)
    now = local(UTC, 2099, 3, 15)
    assert schedule.current_occurrence(start, end, MONTHLY, ZoneInfo("UTC"), now=now) == local(
        UTC, 2099, 2, 28, 6, 0
    )
    assert schedule.current_occurrence(start, end, DAILY, ZoneInfo("UTC"), now=now) == local(
        UTC, 2099, 3, 14, 6, 0
    )


def test_naive_datetimes_and_unknown_periodicity_are_refused():
    with pytest.raises(ValueError, match="aware"):
        list(schedule.occurrences(dt.datetime(2026, 1, 1), dt.datetime(2026, 2, 1), DAILY, MOSCOW))
    with pytest.raises(ValueError, match="periodicity"):
        schedule.occurrence(local(UTC, 2026, 1, 1), "hourly", 1, MOSCOW)
