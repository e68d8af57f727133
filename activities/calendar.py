"""Due times over China's working-day calendar, answered once per workflow and then kept.

The calendar changes when `chinesecalendar` is upgraded (a new year's data ships each November),
so a workflow must not compute it inline: a replay after an upgrade would decide differently.
Asking this activity records the answer in the workflow's history instead.
"""

from datetime import datetime, timedelta

import structlog
from pydantic import BaseModel, Field
from temporalio import activity

from domain.calendar import WorkingCalendar, calendar_for, inquiry_due
from domain.policy import Policy
from domain.rules import RuleId

log = structlog.get_logger(__name__)


class _CalendarRequest(BaseModel):
    policy: Policy | None = None
    """The policy the asking process runs under (its start input); unset: the worker's own.
    A process keeps the policy it started with, so its deadlines and its other decisions agree."""


class WorkingDaysDeadlineRequest(_CalendarRequest):
    rule: RuleId
    ended_at: datetime
    working_days: int = Field(ge=1)
    day_end: timedelta | None = None
    """When the n-th working day ends, from local midnight; unset: P-EVENT-DAY-END (24:00). A
    reminder "at the end of the first working day" (P-NEWS-REMIND) is at the close of working hours."""


class WorkingHoursRequest(_CalendarRequest):
    rule: RuleId
    start: datetime
    duration: timedelta


class InquiryDeadlineRequest(_CalendarRequest):
    sent_at: datetime


class DueTime(BaseModel):
    """A due instant (UTC), the rule it serves, and the years that were guessed, if any."""

    rule: RuleId
    at: datetime
    fallback_years: list[int] = Field(default_factory=list)

    @property
    def guessed(self) -> bool:
        return bool(self.fallback_years)


class CalendarActivities:
    def __init__(self, policy: Policy) -> None:
        self.policy = policy

    def _due(self, rule: RuleId, at: datetime, calendar: WorkingCalendar) -> DueTime:
        due = DueTime(rule=rule, at=at, fallback_years=sorted(calendar.fallback_years))
        if due.guessed:
            log.warning(
                "due time guessed with a Monday-to-Friday calendar",
                rule=rule.value,
                years=due.fallback_years,
                at=at.isoformat(),
            )
        return due

    @activity.defn(name="calendar.working_days_deadline")
    async def working_days_deadline(self, request: WorkingDaysDeadlineRequest) -> DueTime:
        """The end (P-EVENT-DAY-END) of the n-th working day after `ended_at`, e.g. for R-NEWS-3WD."""
        policy = request.policy or self.policy
        calendar = calendar_for(policy)
        day_end = policy.event_day_end.at if request.day_end is None else request.day_end
        at = calendar.working_days_deadline(request.ended_at, request.working_days, day_end, policy.zone)
        return self._due(request.rule, at, calendar)

    @activity.defn(name="calendar.working_hours_after")
    async def working_hours_after(self, request: WorkingHoursRequest) -> DueTime:
        """`duration` of working time (P-WORKING-HOURS) after `start`, e.g. for P-APPROVAL-REMIND."""
        policy = request.policy or self.policy
        calendar = calendar_for(policy)
        hours = policy.working_hours
        at = calendar.add_working_hours(request.start, request.duration, hours.start, hours.end, policy.zone)
        return self._due(request.rule, at, calendar)

    @activity.defn(name="calendar.inquiry_deadline")
    async def inquiry_deadline(self, request: InquiryDeadlineRequest) -> DueTime:
        """R-INQUIRY-12H: 12 hours on the wall clock, or of working hours over China's calendar (option);
        with R-INQUIRY-SAMEDAY, no later than the end of the day the inquiry came (Beijing time)."""
        calendar = calendar_for(request.policy or self.policy)
        at, rule = inquiry_due(request.sent_at, request.policy or self.policy, calendar)
        if rule is RuleId.INQUIRY_SAMEDAY:
            return DueTime(rule=rule, at=at)
        return self._due(rule, at, calendar)
