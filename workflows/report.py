"""A meeting's report (`report-<kind>-<period>-<when>`): R-WEEKLY, R-MONTHLY, R-SITE-QUARTERLY.

Started by the meeting's schedule shortly before it (the policy's `prepare_before`), for the period
just over, or by a manager (`mediaops report weekly --week ...`) for any period, also one still
running (then it says so: `partial`). It asks each platform account for its figures for the period
and the one before: the snapshot activity keeps the first answer as an event, so a figure is asked
of a platform once, and a platform that fails is recorded as missing for this run, never as zero.
Then it has the report composed from the record as it stands now (its `as_of`), records it whole
with its digest, and tells the operations manager. A `progress` query follows it.
"""

from collections.abc import Sequence
from datetime import date
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.metrics import SnapshotAnswer, SnapshotRequest
    from activities.notify import Notification
    from activities.reports import ComposeRequest, Source
    from domain import meetings as m
    from domain.periods import Period, containing, parse_kind
    from domain.roles import Role
    from domain.rules import RuleId
    from workflows.contracts import ReportProgress, ReportStart
    from workflows.recording import ACTIVITY_TIMEOUT, HEARTBEAT_TIMEOUT, READ_RETRY, platform_queue
    from workflows.shell import Process

SOURCES: type[list[Source]] = list[Source]


@workflow.defn(name="MeetingReport")
class ReportWorkflow(Process[m.ReportProcess]):
    decider = m.REPORTS

    def __init__(self) -> None:
        super().__init__()
        self.progress = ReportProgress(kind="weekly")

    @workflow.run
    async def run(self, start: ReportStart) -> ReportProgress:
        await self.begin(None)
        kind = start.kind
        rule = m.MEETING_RULES[kind]
        period = self.period_of(start)
        self.progress = ReportProgress(
            kind=kind, period=period.key, doing="asking which accounts have figures"
        )
        sources = await self.step("sources", "reports.sources", [], SOURCES, rule)
        days = m.figure_days(period, workflow.now(), self.policy.zone)
        self.progress.steps = 2 * len(sources) + 1
        asked = []
        for source in sources:
            if days is None:
                asked.append(source)  # no day is over: nothing to ask (the report says so)
                continue
            current = await self.snapshot(source, days, "current")
            before = await self.snapshot(source, m.previous_days(period, days), "previous")
            asked.append(source.model_copy(update={"missing": current, "previous_missing": before}))
        as_of = workflow.now()
        report_id = m.report_id(kind, period.key, as_of)
        self.progress.doing = "composing the report from the record"
        request = ComposeRequest(
            report_id=report_id, kind=kind, period=period.key, as_of=as_of, days=days, sources=asked
        )
        report = await self.step("compose", "reports.compose", [request], m.MeetingReport, rule)
        [made] = await self.handle(m.RecordReport(report=report, at=workflow.now()))
        assert isinstance(made, m.ReportMade)  # noqa: S101 - what RecordReport records
        self.progress = self.progress.model_copy(
            update={
                "steps_done": self.progress.steps,
                "doing": "made",
                "report_id": report_id,
                "digest": made.digest,
            }
        )
        await self.notify(
            Notification(
                kind=made.type,
                rule=rule,
                to=Role.OPERATIONS_MANAGER,
                subject=workflow.info().workflow_id,
                message=f"the {kind} report for {period.key} is ready: {report_id} ({len(report.problems)} "
                "problems to discuss)",
            )
        )
        await self.finish()
        return self.progress

    def period_of(self, start: ReportStart) -> Period:
        """The period asked for, or (a schedule's run) the one that ended last before now."""
        kind = m.MEETING_PERIODS[start.kind]
        if start.period is not None:
            return parse_kind(start.period, kind)
        # a little before now: a run that fires as the period turns still reports the one just over
        return containing(kind, workflow.now(), self.policy.zone).previous()

    async def snapshot(self, source: Source, days: tuple[date, date], which: str) -> str | None:
        """The account's stored figures for the days (asked now if none are): None, or why missing."""
        begin, end = days
        self.progress.doing = f"{source.platform} figures, {which} period"
        request = SnapshotRequest(platform=source.platform, account=source.account, begin=begin, end=end)
        try:
            answer = await workflow.execute_activity(
                "metrics.snapshot",
                request,
                result_type=SnapshotAnswer,
                task_queue=platform_queue(source.platform),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                heartbeat_timeout=HEARTBEAT_TIMEOUT,
                retry_policy=READ_RETRY,
            )
            reason: str | None = answer.missing
            code = answer.code
        except ActivityError as exc:
            reason, code = f"the platform did not answer ({type(exc.cause).__name__})", "unreachable"
        self.progress.steps_done += 1
        if reason is None:
            return None
        self.progress.missing.append(f"{source.platform}/{source.account} ({which}): {reason}")
        missing = m.FiguresMissing(
            platform=source.platform,
            account=source.account,
            begin=begin,
            end=end,
            reason=reason,
            code=code,
            at=workflow.now(),
        )
        await self.handle(m.RecordMissing(missing=missing))
        return reason

    def rules_of(self, events: Sequence[Any]) -> tuple[RuleId, ...]:
        return (m.MEETING_RULES[self.progress.kind],)

    @workflow.query
    def current(self) -> ReportProgress:
        return self.progress
