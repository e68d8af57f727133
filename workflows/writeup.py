"""The write-up workflow (`writeup-<key>`): R-NEWS-3WD, the write-up decider in the obligation loop.

Started by the API with the reporter's signed `report` of a major event. It asks China's calendar
once for the due time (24:00 Beijing time of the 3rd working day after the event ends,
P-EVENT-DAY-END) and the reminder (the close of the first working day, P-NEWS-REMIND); a year the
calendar does not know gives a flagged guess. It follows the write-up articles linked to the
event (workflows/obligation.py), reminds the owner, and at the due time records met, or breached
and escalated to the operations manager. A write-up that comes late is recorded as late, with
how late, for the policy's `late_recorded_for`. The event's end can be corrected (`correct_end`): the
due time is asked for again and the rule judged anew at it.
"""

from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.calendar import DueTime, WorkingDaysDeadlineRequest
    from domain import writeups as w
    from domain.roles import Role
    from domain.rules import RuleId
    from workflows.contracts import WriteUpStart, WriteUpView
    from workflows.obligation import ObligationProcess


@workflow.defn(name="WriteUp")
class WriteUpWorkflow(ObligationProcess[w.WriteUp]):
    decider = w.WRITEUPS
    link = "writeup_id"
    rule = RuleId.NEWS_3WD
    prefix = "writeup-"
    writers = Role.CONTENT_SPECIALIST

    @workflow.run
    async def run(self, start: WriteUpStart) -> WriteUpView:
        await self.lifetime(start.report, self.reporting)
        return self.view()

    def reporting(self, fields: Any) -> w.Report:
        report = w.Report.model_validate(fields)
        self.own(report.writeup_id, "writeup_id")
        return report

    # --- the obligation's clock -------------------------------------------------------------------

    async def before_waiting(self) -> None:
        """The due time and the reminder for the event's current end, asked once per end."""
        while (ends_at := self.state.ends_at) is not None and self.state.due is None:
            news = self.policy.news_3wd
            due = await self.working_days_after(ends_at, news.within_working_days, None, RuleId.NEWS_3WD)
            remind = await self.working_days_after(
                ends_at,
                self.policy.news_remind.after_working_days,
                self.policy.working_hours.end,
                RuleId.NEWS_REMIND,
            )
            years = tuple(sorted({*due.fallback_years, *remind.fallback_years}))
            set_due = w.SetDue(ends_at=ends_at, due=due.at, remind_at=remind.at, flagged_years=years)
            await self.handle(set_due)  # an end corrected meanwhile: nothing, and it is asked again here

    async def working_days_after(
        self, ends_at: datetime, n: int, day_end: timedelta | None, rule: RuleId
    ) -> DueTime:
        request = WorkingDaysDeadlineRequest(
            rule=rule, ended_at=ends_at, working_days=n, day_end=day_end, policy=self.policy
        )
        return await self.step("calendar", "calendar.working_days_deadline", [request], DueTime, rule)

    def next_due(self) -> datetime | None:
        return w.next_due(self.state)

    def closes_at(self) -> datetime | None:
        due = self.state.due
        return None if due is None else due + self.policy.news_3wd.late_recorded_for

    def over(self) -> bool:
        """Watched for as long as the policy says after the due time: a late write-up is recorded
        until then, and a wrong end can be corrected until then, also after a verdict."""
        closes = self.closes_at()
        return closes is not None and workflow.now() >= closes

    def deadline(self) -> datetime | None:
        return self.state.due if self.state.verdict is None else None

    async def tell(self, event: Any) -> None:
        s = self.state
        if isinstance(event, w.WriteUpReminded):
            missing = ", ".join(f"{platform} ({stage})" for platform, stage in event.missing.items())
            due = s.due.astimezone(self.policy.zone).strftime("%Y-%m-%d %H:%M") if s.due else "unknown"
            message = (
                f"the write-up of {s.name!r} is due {due} ({self.policy.timezone}); not out yet on: {missing}"
            )
            await self.tell_role(event.type, RuleId.NEWS_REMIND, self.writers, message)
        elif isinstance(event, w.WriteUpBreached):
            message = f"the write-up of {s.name!r} was not out by its due time on: {', '.join(event.missing)}"
            await self.tell_role(event.type, RuleId.NEWS_3WD, event.escalated_to, message)
        elif isinstance(event, w.WriteUpMet) and event.after_breach:
            message = f"the write-up of {s.name!r}: the breach is amended, it was out in time"
            await self.tell_role(event.type, RuleId.NEWS_3WD, Role.OPERATIONS_MANAGER, message)

    # --- people's commands and what they see ----------------------------------------------------

    def view(self) -> WriteUpView:
        return WriteUpView(writeup=self.state, decisions=self.decisions)

    @workflow.update
    async def correct_end(self, command: Any) -> WriteUpView:
        """The event ended at another time: its due time is asked for again (R-NEWS-3WD)."""
        await self.decide_for_person(command, w.CorrectEnd.model_validate)
        return self.view()  # the due time follows in a moment, from the calendar (`due` is null until then)

    @correct_end.validator
    def _correct_end(self, command: Any) -> None:
        self.validate(command, w.CorrectEnd.model_validate)

    @workflow.query
    def current(self) -> WriteUpView:
        return self.view()
