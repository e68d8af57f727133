"""China's working-day calendar: official dates pinned, cross-checked, and the arithmetic's laws."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.calendar import WorkingCalendar
from domain.errors import CalendarYearUnknown

SHANGHAI = ZoneInfo("Asia/Shanghai")
NINE, SIX_PM, MIDNIGHT = timedelta(hours=9), timedelta(hours=18), timedelta(hours=24)
cal = WorkingCalendar()


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 2, 14), True),  # Saturday, make-up day for the Spring Festival
        (date(2026, 10, 10), True),  # Saturday, make-up day for National Day
        (date(2026, 9, 25), False),  # Friday, Mid-Autumn Festival
        (date(2026, 10, 1), False),  # National Day
        (date(2026, 9, 26), False),  # an ordinary Saturday
        (date(2026, 9, 24), True),  # an ordinary Thursday
    ],
)
def test_official_2026_dates(day: date, working: bool) -> None:
    assert cal.is_working_day(day) is working


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (date(2026, 9, 24), date(2026, 9, 30)),  # over Mid-Autumn and a weekend
        (date(2026, 9, 30), date(2026, 10, 10)),  # over National Day onto a make-up Saturday
        (date(2026, 2, 12), date(2026, 2, 24)),  # a make-up Saturday, then the Spring Festival
    ],
)
def test_three_working_days_after(start: date, expected: date) -> None:
    assert cal.add_working_days(start, 3) == expected


def test_agrees_with_holidays_package_on_every_day_2005_to_2026() -> None:
    """An independent source, day by day; they differ only on 2005-12-31 (a known data quirk)."""
    china = holidays.China(years=range(2005, 2027))
    day, disagreements = date(2005, 1, 1), []
    while day <= date(2026, 12, 31):
        if cal.is_working_day(day) != china.is_working_day(day):
            disagreements.append(day)
        day += timedelta(days=1)
    assert disagreements == [date(2005, 12, 31)]


@given(st.dates(min_value=date(2005, 1, 1), max_value=date(2026, 12, 31)))
def test_property_agrees_with_holidays_package(day: date) -> None:
    china = holidays.China(years=day.year)
    if day != date(2005, 12, 31):
        assert cal.is_working_day(day) == china.is_working_day(day)


@given(
    st.dates(min_value=date(2005, 1, 1), max_value=date(2026, 11, 30)), st.integers(min_value=1, max_value=10)
)
def test_property_nth_working_day(start: date, n: int) -> None:
    """The result is a working day, and exactly n-1 working days lie strictly between."""
    result = cal.add_working_days(start, n)
    assert result > start
    assert cal.is_working_day(result)
    between = [start + timedelta(days=i) for i in range(1, (result - start).days)]
    assert sum(cal.is_working_day(d) for d in between) == n - 1


def test_unknown_year_is_a_named_error() -> None:
    with pytest.raises(CalendarYearUnknown) as caught:
        WorkingCalendar().is_working_day(date(2031, 3, 3))
    assert caught.value.year == 2031
    assert "2031" in str(caught.value)


def test_unknown_year_fallback_is_flagged() -> None:
    fallback = WorkingCalendar(allow_fallback=True)
    assert fallback.add_working_days(date(2031, 3, 6), 1) == date(2031, 3, 7)  # Thu -> Fri
    assert fallback.add_working_days(date(2031, 3, 7), 1) == date(2031, 3, 10)  # Fri -> Mon
    assert fallback.fallback_years == {2031}


def test_known_years_are_never_flagged() -> None:
    fallback = WorkingCalendar(allow_fallback=True)
    fallback.add_working_days(date(2026, 9, 30), 3)
    assert fallback.fallback_years == set()


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)  # type: ignore[misc]


def test_working_days_deadline_ends_at_midnight_of_the_nth_day() -> None:
    """R-NEWS-3WD with P-EVENT-DAY-END: an event ending Thursday 24 Sep is due by 30 Sep 24:00."""
    due = cal.working_days_deadline(local(2026, 9, 24, 21, 0), 3, MIDNIGHT, SHANGHAI)
    assert due == datetime(2026, 9, 30, 16, 0, tzinfo=UTC)  # 2026-10-01 00:00 Beijing time
    assert due.tzinfo == ZoneInfo("UTC")


def test_working_days_deadline_uses_the_local_date() -> None:
    """23:30 UTC on the 23rd is already the 24th in Shanghai."""
    due = cal.working_days_deadline(datetime(2026, 9, 23, 23, 30, tzinfo=UTC), 3, MIDNIGHT, SHANGHAI)
    assert due == datetime(2026, 9, 30, 16, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "hours", "expected"),
    [
        (local(2026, 9, 22, 10, 0), 4, local(2026, 9, 22, 14, 0)),  # same day
        (local(2026, 9, 22, 16, 0), 4, local(2026, 9, 23, 11, 0)),  # over the evening
        (local(2026, 9, 24, 17, 0), 4, local(2026, 9, 28, 12, 0)),  # over Mid-Autumn and the weekend
        (local(2026, 2, 13, 17, 0), 4, local(2026, 2, 14, 12, 0)),  # onto a make-up Saturday
        (local(2026, 9, 26, 8, 0), 1, local(2026, 9, 28, 10, 0)),  # starting on a weekend
        (local(2026, 9, 22, 6, 0), 9, local(2026, 9, 22, 18, 0)),  # before opening, exactly one day
        (local(2026, 9, 22, 20, 0), 9, local(2026, 9, 23, 18, 0)),  # after closing
    ],
)
def test_add_working_hours(start: datetime, hours: int, expected: datetime) -> None:
    assert cal.add_working_hours(start, timedelta(hours=hours), NINE, SIX_PM, SHANGHAI) == expected


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        cal.add_working_hours(datetime(2026, 9, 22, 10), timedelta(hours=1), NINE, SIX_PM, SHANGHAI)  # noqa: DTZ001


def test_days_announced_in_the_policy_make_a_year_known_before_the_package_does() -> None:
    """Next year's schedule comes out each autumn; the policy can carry it until chinesecalendar does."""
    new_year, make_up_saturday = date(2027, 1, 1), date(2027, 1, 2)
    calendar = WorkingCalendar(holidays=frozenset({new_year}), workdays=frozenset({make_up_saturday}))
    assert not calendar.is_working_day(new_year)  # a Friday, announced as a holiday
    assert calendar.is_working_day(make_up_saturday)
    assert calendar.is_working_day(date(2027, 1, 4))  # an ordinary Monday of the announced year
    assert not calendar.is_working_day(date(2027, 1, 9))  # an ordinary Saturday
    assert calendar.fallback_years == set()  # known, not guessed
    with pytest.raises(CalendarYearUnknown):
        calendar.is_working_day(date(2028, 3, 1))  # a year nobody announced is still unknown


def test_announced_days_also_correct_a_known_year() -> None:
    saturday = date(2026, 11, 28)
    assert not WorkingCalendar().is_working_day(saturday)
    assert WorkingCalendar(workdays=frozenset({saturday})).is_working_day(saturday)
