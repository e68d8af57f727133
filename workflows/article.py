"""The article workflow (`article-<id>`): a thin shell around the article decider.

It reads like the rulebook: the content is checked; for each required approval it waits for the
decision, reminding and escalating on the policy's working-hours clock; at the scheduled time it
publishes on every platform, each on its own queue, at most once; a publication still pending is
polled on a durable timer raced against the platform's callback; an unconfirmed one waits for a
person. Every decision is appended to the event store before the workflow moves on.

Decisions arrive as updates (validated first: a wrong role, a stale version or a step not waiting
for you is refused at once, citing the rule) or as signals (for ops in the Temporal UI or CLI).
"""

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.calendar import DueTime, WorkingHoursRequest
    from activities.content_checks import CheckRequest, CheckResult
    from activities.notify import Notification
    from activities.platform_calls import PublishRequest, StatusRequest
    from domain import articles as a
    from domain.events import DomainEvent, EventMetadata
    from domain.outcomes import Post, PublishOutcome
    from domain.platforms import Platform
    from domain.policy import Policy
    from domain.roles import Role
    from domain.rules import RuleId
    from workflows import search_attributes as sa
    from workflows.contracts import ArticleStart, ArticleView, Decision
    from workflows.recording import ACTIVITY_TIMEOUT, PLATFORM_RETRY, append_events, platform_queue, refusals
    from workflows.signals import PUBLICATION_FINISHED, PublicationUpdate

TERMINAL = {a.Status.PUBLISHED, a.Status.REJECTED, a.Status.WITHDRAWN}


@workflow.defn(name="Article")
class ArticleWorkflow:
    def __init__(self) -> None:
        self.state = a.initial_state()
        self.policy = Policy()
        self.accounts: dict[Platform, str] = {}
        self.decisions: list[Decision] = []
        self.appended = 0
        self.lock = asyncio.Lock()
        self.callbacks: dict[Platform, PublishOutcome] = {}
        self.next_deadline: datetime | None = None

    # --- the rulebook, step by step -----------------------------------------------------------

    @workflow.run
    async def run(self, start: ArticleStart) -> ArticleView:
        self.policy, self.accounts = start.policy, start.accounts
        await self.handle(start.submit)
        while self.state.status not in TERMINAL:
            status = self.state.status
            if not self.state.checked:
                await self.check()
            elif status in (a.Status.CHECKS_FAILED, a.Status.CHANGES_REQUESTED):
                await self.until_changed()  # back with the author: revise or withdraw
            elif self.state.waiting_on is not None:
                await self.approval(self.state.waiting_on)
            elif status is a.Status.APPROVED:
                await self.publish()
            elif all(p.state in ("published", "failed") for p in self.state.publications.values()):
                break  # every platform has its final word; failures are for a person to follow up
            else:
                await self.until_changed()  # an unconfirmed or manual publication waits for a person
        return self.view()

    async def check(self) -> None:
        assert self.state.content is not None  # noqa: S101 - submitted
        result = await workflow.execute_activity(
            "articles.check",
            CheckRequest(content=self.state.content, author=self.state.author),
            result_type=CheckResult,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
        )
        await self.handle(
            a.RecordChecks(
                version=self.state.version,
                wordlist_version=result.wordlist_version,
                problems=result.problems,
                at=workflow.now(),
            )
        )

    async def approval(self, role: Role) -> None:
        """Wait for `role`'s decision; remind, then escalate, on working hours (P-APPROVAL-REMIND)."""
        remind = self.policy.approval_remind
        asked_at = workflow.now()
        working_day = self.policy.working_hours.end - self.policy.working_hours.start
        for command, after in (
            (a.Remind, remind.remind_after_working_hours),
            (a.Escalate, working_day * remind.escalate_after_working_days),
        ):
            due = await self.working_hours_after(asked_at, after)
            self.next_deadline = due
            self.publish_search_attributes()
            if await self.until_changed(due - workflow.now()):
                return
            await self.handle(command(role=role, at=workflow.now()))
            await self.tell(command, role)
        self.next_deadline = None
        self.publish_search_attributes()
        await self.until_changed()

    async def tell(self, command: type[a.Remind] | type[a.Escalate], role: Role) -> None:
        to = role if command is a.Remind else a.escalation_target(role, self.policy)
        kind = "reminder" if command is a.Remind else "escalation"
        message = f"article {self.state.id} v{self.state.version} waits for the {role.value}'s decision"
        await workflow.execute_activity(
            "notify.send",
            Notification(
                kind=kind,
                rule=a.approval_rule(role, self.policy),
                to=to,
                subject=self.state.id,
                message=message,
            ),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
        )

    async def publish(self) -> None:
        publish_at = self.state.publish_at
        if publish_at is not None and publish_at > workflow.now():
            self.next_deadline = publish_at
            self.publish_search_attributes()
            if await self.until_changed(publish_at - workflow.now()):
                return  # revised, rescheduled or withdrawn while waiting: the loop looks again
        self.next_deadline = None
        await self.handle(a.StartPublishing(at=workflow.now()))
        await asyncio.gather(*(self.publish_on(p) for p in list(self.state.publications)))

    async def publish_on(self, platform: Platform) -> None:
        """One platform: at most once; poll a pending result, racing the platform's callback."""
        content, version = self.state.content, self.state.version
        assert content is not None  # noqa: S101
        post = Post(
            key=f"{self.state.id}/v{version}/{platform}",
            title=content.title,
            body_html=content.body,
            author=self.state.author,
            source_url=content.source if content.source.startswith("http") else "",
        )
        request = PublishRequest(platform=platform, account=self.accounts[platform], post=post)
        try:
            outcome = await workflow.execute_activity(
                "platform.publish",
                request,
                result_type=PublishOutcome,
                task_queue=platform_queue(platform),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=PLATFORM_RETRY,
            )
        except ActivityError as exc:
            cause = exc.cause if isinstance(exc.cause, ApplicationError) else None
            outcome = PublishOutcome(
                state="failed", code=cause.type if cause else None, reason=str(exc.cause or exc)
            )
        await self.handle(a.RecordOutcome(platform=platform, outcome=outcome, at=workflow.now()))
        while outcome.state == "pending" and not outcome.manual and outcome.handle:
            got = await self.wait(lambda: platform in self.callbacks, self.policy.accounts.status_poll_every)
            if got:
                outcome = self.callbacks.pop(platform)
            else:
                outcome = await workflow.execute_activity(
                    "platform.status",
                    StatusRequest(platform=platform, account=self.accounts[platform], handle=outcome.handle),
                    result_type=PublishOutcome,
                    task_queue=platform_queue(platform),
                    start_to_close_timeout=ACTIVITY_TIMEOUT,
                )
            if outcome.state != "pending":
                await self.handle(a.RecordOutcome(platform=platform, outcome=outcome, at=workflow.now()))

    # --- the shell: decide, record, evolve -----------------------------------------------------

    async def handle(self, command: BaseModel) -> list[DomainEvent]:
        """decide → append to the event store (expected version) → evolve. Serialised by a lock."""
        async with self.lock:
            events = a.decide(command, self.state, self.policy)
            if events:
                actor = getattr(command, "actor", None)
                metadata = EventMetadata(
                    actor=actor.id if actor else "mediaops",
                    role=sorted(actor.roles)[0] if actor else None,
                    rule_ids=tuple(sorted({RuleId.REVIEW_ALL, *self.rules_of(events)})),
                )
                self.appended = await append_events(events, self.appended, metadata)
                for event in events:
                    self.state = a.evolve(self.state, event)
            self.publish_search_attributes()
            return events

    def rules_of(self, events: list[DomainEvent]) -> set[RuleId]:
        rules = set()
        for event in events:
            if isinstance(event, a.ReviewRequested):
                rules.add(event.rule)
            elif isinstance(event, a.ChecksFailed):
                rules |= {p.rule for p in event.problems}
            elif isinstance(event, a.Approved):
                rules.add(a.approval_rule(event.role, self.policy))
        return rules

    async def working_hours_after(self, start: datetime, duration: timedelta) -> datetime:
        due: DueTime = await workflow.execute_activity(
            "calendar.working_hours_after",
            WorkingHoursRequest(
                rule=RuleId.APPROVAL_REMIND, start=start, duration=duration, policy=self.policy
            ),
            result_type=DueTime,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
        )
        return due.at

    async def wait(self, condition: Callable[[], bool], within: timedelta | None) -> bool:
        try:
            await workflow.wait_condition(condition, timeout=within)
        except TimeoutError:
            return False
        return True

    async def until_changed(self, within: timedelta | None = None) -> bool:
        """Wait until a person's command changes the state (True), or `within` passes (False)."""
        seen = (self.state.version, self.state.status, self.state.waiting_on, len(self.decisions))
        if within is not None and within <= timedelta(0):
            return False
        return await self.wait(
            lambda: (
                (self.state.version, self.state.status, self.state.waiting_on, len(self.decisions)) != seen
            ),
            within,
        )

    def publish_search_attributes(self) -> None:
        content = self.state.content
        workflow.upsert_search_attributes(
            [
                sa.ARTICLE_STATUS.value_set(self.state.status.value),
                sa.WAITING_ON_ROLE.value_set(self.state.waiting_on.value if self.state.waiting_on else ""),
                sa.AUTHOR.value_set(self.state.author),
                sa.PLATFORMS.value_set([p.value for p in content.platforms] if content else []),
                sa.NEXT_DEADLINE.value_set(self.next_deadline)
                if self.next_deadline
                else sa.NEXT_DEADLINE.value_unset(),
            ]
        )

    def view(self) -> ArticleView:
        return ArticleView(article=self.state, status=self.state.status, decisions=self.decisions)

    # --- messages from people and platforms ----------------------------------------------------

    async def decide_for_person(self, command: BaseModel) -> ArticleView:
        actor = getattr(command, "actor", None)
        try:
            with refusals():
                await self.handle(command)
        except ApplicationError as exc:
            self.decisions.append(
                Decision(
                    command=type(command).__name__,
                    actor=actor.id if actor else None,
                    accepted=False,
                    detail=str(exc),
                )
            )
            raise
        self.decisions.append(
            Decision(command=type(command).__name__, actor=actor.id if actor else None, accepted=True)
        )
        return self.view()

    def validate(self, command: BaseModel) -> None:
        """Refuse at once what the rules refuse: the decider on the current state, nothing recorded."""
        a.decide(command, self.state, self.policy)

    @workflow.update
    async def revise(self, command: a.Revise) -> ArticleView:
        return await self.decide_for_person(command)

    @revise.validator
    def _revise(self, command: a.Revise) -> None:
        self.validate(command)

    @workflow.update
    async def review(self, command: a.Review) -> ArticleView:
        return await self.decide_for_person(command)

    @review.validator
    def _review(self, command: a.Review) -> None:
        self.validate(command)

    @workflow.update
    async def confirm(self, command: a.Confirm) -> ArticleView:
        return await self.decide_for_person(command)

    @confirm.validator
    def _confirm(self, command: a.Confirm) -> None:
        self.validate(command)

    @workflow.update
    async def withdraw(self, command: a.Withdraw) -> ArticleView:
        return await self.decide_for_person(command)

    @withdraw.validator
    def _withdraw(self, command: a.Withdraw) -> None:
        self.validate(command)

    @workflow.update
    async def reconcile(self, command: a.Reconcile) -> ArticleView:
        return await self.decide_for_person(command)

    @reconcile.validator
    def _reconcile(self, command: a.Reconcile) -> None:
        self.validate(command)

    @workflow.update
    async def schedule(self, command: a.Schedule) -> ArticleView:
        return await self.decide_for_person(command)

    @schedule.validator
    def _schedule(self, command: a.Schedule) -> None:
        self.validate(command)

    @workflow.signal(name="decision")
    async def decision(self, command: a.Command) -> None:
        """The same decisions as signals, for ops in the Temporal UI or CLI; a refusal is recorded."""
        try:
            await self.decide_for_person(command)
        except ApplicationError as exc:
            workflow.logger.warning("decision refused: %s", exc)

    @workflow.signal(name=PUBLICATION_FINISHED)
    def publication_finished(self, update: PublicationUpdate) -> None:
        self.callbacks[update.platform] = update.outcome

    @workflow.query
    def state_and_decisions(self) -> ArticleView:
        return self.view()
