"""A cadence period (`cadence-<subject>-<period>`): R-CADENCE-* or R-FIXED-MONTHLY, the cadence decider.

Started by the day's cadence run (workflows/cadence_day.py) for each subject whose period is
open. It asks whether the period owes posts at all (a daily subject under `working_days` on a day
off does not) and who owns the subject, then sleeps to P-CADENCE-CHECK's alert time (20:00 of the
period's last day): it reads the posts published in the period from the record and, when the
period would close short, records it at risk and tells the owner. At the close (24:00) it reads
again and records the period met or missed with the count and the target. Nothing it decides
comes from outside: it takes no signals or updates.
"""

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.cadence import OwedRequest, OwnerAnswer, OwnerRequest, PostsRequest
    from activities.notify import Notification
    from domain import cadence as c
    from domain.roles import Role
    from domain.rules import RuleId
    from workflows import search_attributes as sa
    from workflows.contracts import CadenceStart, CadenceView
    from workflows.shell import Process

POSTS: type[list[c.Post]] = list[c.Post]


@workflow.defn(name="Cadence")
class CadenceWorkflow(Process[c.CadencePeriod]):
    decider = c.CADENCE

    @workflow.run
    async def run(self, start: CadenceStart) -> CadenceView:
        await self.begin(None)
        subject = start.subject
        owed = await self.step(
            "calendar",
            "cadence.owed",
            [OwedRequest(subject=subject, day=start.first_day)],
            bool,
            subject.rule,
        )
        owner = await self.owner(start)
        await self.handle(
            c.Open(subject=subject, first_day=start.first_day, owner=owner, owed=owed, at=workflow.now())
        )
        while (due := c.next_due(self.state)) is not None:
            await workflow.sleep(max(due - workflow.now(), timedelta(0)))
            await self.count()
            for event in await self.handle(c.Tick(owner=await self.owner(start), at=workflow.now())):
                await self.tell(event)
        await self.finish()
        return CadenceView(period=self.state)

    async def owner(self, start: CadenceStart) -> str | None:
        """Who owns the subject on the period's first day (the register, as it stands now)."""
        request = OwnerRequest(subject=start.subject.key, day=start.first_day)
        answer = await self.step("owner", "cadence.owner", [request], OwnerAnswer, RuleId.KPI)
        return answer.user

    async def count(self) -> None:
        """Read the posts published in the period so far and count what is new."""
        s = self.state
        assert s.subject is not None  # noqa: S101 - opened
        assert s.starts_at is not None  # noqa: S101
        assert s.closes_at is not None  # noqa: S101
        request = PostsRequest(platform=s.subject.platform, starts_at=s.starts_at, ends_at=s.closes_at)
        posts = await self.step("posts", "cadence.posts", [request], POSTS, s.subject.rule)
        await self.handle(c.Count(posts=posts, at=workflow.now()))

    async def tell(self, event: Any) -> None:
        s = self.state
        assert s.subject is not None  # noqa: S101 - opened
        label = f"{s.subject.label} {s.period}"
        if isinstance(event, c.PeriodAtRisk):
            closes = s.closes_at.astimezone(self.policy.zone) if s.closes_at else None
            message = (
                f"{label}: {event.count} of {event.target} posts so far ({s.subject.rule}); "
                f"the period closes at {closes:%Y-%m-%d %H:%M} ({self.policy.timezone})"
            )
            await self.notify(
                Notification(
                    kind=event.type,
                    rule=RuleId.CADENCE_CHECK,
                    to=Role.OPERATIONS_MANAGER,
                    subject=workflow.info().workflow_id,
                    message=message,
                    user=event.owner,
                )
            )
        elif isinstance(event, c.PeriodClosed) and event.verdict == "missed":
            message = f"{label}: missed, {event.count} of {event.target} posts ({s.subject.rule})"
            await self.notify(
                Notification(
                    kind=event.type,
                    rule=s.subject.rule,
                    to=Role.OPERATIONS_MANAGER,
                    subject=workflow.info().workflow_id,
                    message=message,
                    user=event.owner,
                )
            )

    def rules_of(self, events: Sequence[Any]) -> tuple[RuleId, ...]:
        subject = self.state.subject
        rule = subject.rule if subject else RuleId.CADENCE_CHECK
        if any(isinstance(e, c.PeriodAtRisk) for e in events):
            return (rule, RuleId.CADENCE_CHECK)
        return (rule,)

    def after_recording(self, events: Sequence[Any]) -> None:
        s = self.state
        if not events or s.subject is None:
            return
        due = c.next_due(s)
        workflow.upsert_search_attributes(
            [
                sa.PROCESS_STATUS.value_set(s.status),
                sa.ASSIGNEE.value_set(s.owner or ""),
                sa.PLATFORMS.value_set([s.subject.platform.value]),
                sa.NEXT_DEADLINE.value_set(due) if due else sa.NEXT_DEADLINE.value_unset(),
            ]
        )

    @workflow.query
    def current(self) -> CadenceView:
        return CadenceView(period=self.state)
