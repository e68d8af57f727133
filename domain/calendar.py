"""Working days and due times over China's official calendar, in the policy's time zone.

Working days include the make-up weekend days (调休) and exclude the official holidays, as
published by the State Council and shipped in `chinesecalendar`. A year the installed calendar does
not know is a named condition: `CalendarYearUnknown`, or, when the caller accepts it, a
Monday-to-Friday guess whose years are listed on the result so the guess is never silent. Days the
State Council has announced but the package does not ship yet (next year's schedule comes out each
autumn) are given by the policy (P-WORKING-HOURS), and a year they cover is known, not guessed.

Everything is pure: the caller passes the instants in, and (per DESIGN.md) a workflow asks an
activity for a due time once and keeps it, because these answers change when the package does.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar

from domain.errors import CalendarYearUnknown
from domain.policy import Policy
from domain.rules import RuleId

_SEARCH_LIMIT_DAYS = 366 * 2
"""No real calendar has a two-year run without a working day; stop rather than loop for ever."""


def _naive_aware_check(instant: datetime) -> None:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("instants must carry a time zone (stored timestamps are UTC)")


@dataclass
class WorkingCalendar:
    """China's working-day calendar, with an explicit choice about years it does not know.

    `fallback_years` collects every year answered by the Monday-to-Friday fallback, so a due time
    computed from a guess can be flagged as such wherever it is shown.
    """

    allow_fallback: bool = False
    fallback_years: set[int] = field(default_factory=set)
    holidays: frozenset[date] = frozenset()
    """Announced holidays the installed calendar does not know yet (from the policy)."""
    workdays: frozenset[date] = frozenset()
    """Announced make-up working days (调休) the installed calendar does not know yet."""

    def is_working_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:
            if any(d.year == day.year for d in self.holidays | self.workdays):
                return day.weekday() < 5  # an announced year: weekdays work, except what it lists
            if not self.allow_fallback:
                raise CalendarYearUnknown(day.year) from None
            self.fallback_years.add(day.year)
            return day.weekday() < 5

    def add_working_days(self, start: date, n: int) -> date:
        """The n-th working day after `start` (n >= 1); `start` itself never counts."""
        if n < 1:
            raise ValueError("n must be at least 1")
        day, found = start, 0
        for _ in range(_SEARCH_LIMIT_DAYS * n):
            day += timedelta(days=1)
            if self.is_working_day(day):
                found += 1
                if found == n:
                    return day
        raise RuntimeError(f"no {n} working days found after {start}")  # pragma: no cover

    def next_working_day(self, start: date) -> date:
        """`start` if it is a working day, else the first working day after it."""
        return start if self.is_working_day(start) else self.add_working_days(start, 1)

    def working_days_deadline(
        self, ended_at: datetime, n: int, day_end: timedelta, zone: ZoneInfo
    ) -> datetime:
        """When "within n working days after it ended" runs out: `day_end` of the n-th working day.

        `day_end` is an offset from local midnight (24:00 by P-EVENT-DAY-END). Returned in UTC.
        """
        _naive_aware_check(ended_at)
        local_day = ended_at.astimezone(zone).date()
        due_day = self.add_working_days(local_day, n)
        return _at(due_day, day_end, zone)

    def add_working_hours(
        self, start: datetime, duration: timedelta, opens: timedelta, closes: timedelta, zone: ZoneInfo
    ) -> datetime:
        """`duration` of working time after `start`, counting only opens–closes on working days.

        Time outside working hours does not count: 4 working hours after Friday 17:00 is the next
        working day at 12:00 (with 09:00–18:00). Returned in UTC.
        """
        _naive_aware_check(start)
        if opens >= closes:
            raise ValueError("working hours must open before they close")
        remaining = duration
        cursor = start.astimezone(zone)
        day = cursor.date()
        offset = cursor - datetime.combine(day, time(), zone)
        for _ in range(_SEARCH_LIMIT_DAYS * max(1, int(duration / (closes - opens)) + 1)):
            if self.is_working_day(day) and offset < closes:
                offset = max(offset, opens)
                available = closes - offset
                if remaining <= available:
                    return _at(day, offset + remaining, zone)
                remaining -= available
            day += timedelta(days=1)
            offset = timedelta(0)
        raise RuntimeError("working-hours search did not end")  # pragma: no cover


def _at(day: date, offset: timedelta, zone: ZoneInfo) -> datetime:
    """Local midnight of `day` plus `offset` (which may be 24:00), as a UTC instant."""
    local = datetime.combine(day, time(), zone) + offset
    return local.astimezone(ZoneInfo("UTC"))


def calendar_for(policy: Policy) -> WorkingCalendar:
    """China's calendar as the policy sets it (P-WORKING-HOURS): the days it announces, and whether
    a year the package does not know is a flagged guess or an error."""
    hours = policy.working_hours
    return WorkingCalendar(
        allow_fallback=hours.unknown_year == "fallback_mon_fri",
        holidays=frozenset(hours.holidays),
        workdays=frozenset(hours.workdays),
    )


def inquiry_due(sent_at: datetime, policy: Policy, calendar: WorkingCalendar) -> tuple[datetime, RuleId]:
    """R-INQUIRY-12H's deadline: 12 hours on the wall clock, or of working hours (option); with
    R-INQUIRY-SAMEDAY, no later than the end of the day it came (Beijing time), and then that rule's."""
    rule = policy.inquiry_12h
    if rule.clock == "wall":
        due = sent_at + rule.within
    else:
        hours = policy.working_hours
        due = calendar.add_working_hours(sent_at, rule.within, hours.start, hours.end, policy.zone)
    if policy.inquiry_sameday.enabled:
        local = sent_at.astimezone(policy.zone)
        end_of_day = datetime.combine(local.date() + timedelta(days=1), time(), policy.zone)
        if end_of_day < due:
            return end_of_day.astimezone(ZoneInfo("UTC")), RuleId.INQUIRY_SAMEDAY
    return due, RuleId.INQUIRY_12H
