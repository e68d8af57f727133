"""The article workflow (`article-<id>`): the article decider inside the process shell.

It reads like the rulebook: the content is checked; for each required approval it waits for the
decision, reminding and escalating on the policy's working-hours clock; at the scheduled time it
publishes on every platform, each on its own queue, at most once; a publication still pending is
polled on a durable timer raced against the platform's callback; an unconfirmed one waits for a
person. Every decision is appended to the event store before the workflow moves on.

People's decisions arrive signed (workflows/shell.py): as updates from the API (validated first: a
wrong role, a stale version or a step not waiting for you is refused at once, citing the rule) or
as the `decision` signal, for ops in the Temporal UI or CLI with a command signed for them by the
API (README: Ops).
"""

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, TypeAdapter
from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from activities.calendar import DueTime, WorkingHoursRequest
    from activities.content_checks import CheckRequest, CheckResult
    from activities.notify import Notification
    from activities.platform_calls import PublishRequest, StatusRequest
    from domain import articles as a
    from domain.durations import format_duration
    from domain.errors import DomainError, Invalid
    from domain.events import DomainEvent
    from domain.outcomes import Post, PublishOutcome
    from domain.platforms import Platform
    from domain.roles import Role
    from domain.rules import RuleId
    from workflows import search_attributes as sa
    from workflows.contracts import ArticleStart, ArticleView
    from workflows.recording import (
        ACTIVITY_TIMEOUT,
        HEARTBEAT_TIMEOUT,
        PLATFORM_RETRY,
        STATUS_RETRY,
        platform_queue,
    )
    from workflows.shell import FAILED_IN_DOUBT, Process, failure_type, never_sent
    from workflows.signals import LINKED_ARTICLE_MOVED, PUBLICATION_FINISHED, PublicationUpdate

TERMINAL = {a.Status.PUBLISHED, a.Status.REJECTED, a.Status.WITHDRAWN}
UNCONFIRMED_STATUS = "unconfirmed-status"
"""A status call that cannot be answered makes its publication unconfirmed (before: the run failed)."""
POLL_BACKOFF = "poll-backoff"
"""A pending publication is asked about ever less often, and handed to a person after the policy's
bound (before: every `status_poll_every`, for as long as the platform said pending)."""
LEGACY_COMMAND: TypeAdapter[a.Command] = TypeAdapter(a.Command)
PERSON_COMMAND: TypeAdapter[a.PersonCommand] = TypeAdapter(a.PersonCommand)
ACCOUNTS: TypeAdapter[dict[Platform, str]] = TypeAdapter(dict[Platform, str])


@workflow.defn(name="Article")
class ArticleWorkflow(Process[a.Article]):
    decider = a.ARTICLES

    def __init__(self) -> None:
        super().__init__()
        self.accounts: dict[Platform, str] = {}
        self.callbacks: dict[Platform, PublishOutcome] = {}
        self.next_deadline: datetime | None = None
        self.moved = False
        """Something was recorded that the linked promotion or write-up has not been woken for."""
        self.waking = False

    # --- the rulebook, step by step -----------------------------------------------------------

    @workflow.run
    async def run(self, start: ArticleStart) -> ArticleView:
        await self.begin(start.policy)
        self.accounts = start.accounts
        try:
            await self.decide_for_person(start.submit, self.submission)
        except ApplicationError:
            return self.view()  # an unproven submission: refused and recorded, nothing to review
        linked = self.linked_to()
        if linked is not None:
            asyncio.create_task(self.wake(linked))  # noqa: RUF006 - it ends with the run, after its last wake-up
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
        await workflow.wait_condition(lambda: not self.moved and not self.waking)
        await self.finish()
        return self.view()

    async def check(self) -> None:
        """R-LAWFUL and the platforms' requirements, on the version as it was when the check began."""
        assert self.state.content is not None  # noqa: S101 - submitted
        version = self.state.version
        request = CheckRequest(content=self.state.content, author=self.state.author, accounts=self.accounts)
        result = await self.step("checks", "articles.check", [request], CheckResult, RuleId.LAWFUL)
        try:
            await self.handle(
                a.RecordChecks(
                    version=version,
                    wordlist_version=result.wordlist_version,
                    problems=result.problems,
                    at=workflow.now(),
                )
            )
        except DomainError:
            return  # revised while it was checked: the new version is checked next, not this result

    async def approval(self, role: Role) -> None:
        """Wait for `role`'s decision; remind, then escalate, on working hours (P-APPROVAL-REMIND)."""
        asked_at = workflow.now()
        for command, after in a.approval_steps(self.policy):
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
        await self.notify(
            Notification(
                kind=kind,
                rule=a.approval_rule(role, self.policy),
                to=to,
                subject=self.state.id,
                message=message,
            )
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
        account = self.accounts.get(platform)
        if account is None:  # a revision from before accounts were signed with it added the platform
            missing = PublishOutcome(
                state="failed", code="no_account", reason=f"no {platform} account was named"
            )
            await self.handle(a.RecordOutcome(platform=platform, outcome=missing, at=workflow.now()))
            return
        request = PublishRequest(platform=platform, account=account, post=post)
        try:
            outcome = await workflow.execute_activity(
                "platform.publish",
                request,
                result_type=PublishOutcome,
                task_queue=platform_queue(platform),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                heartbeat_timeout=HEARTBEAT_TIMEOUT,
                retry_policy=PLATFORM_RETRY,
            )
        except ActivityError as exc:
            cause = exc.cause if isinstance(exc.cause, ApplicationError) else None
            outcome = PublishOutcome(
                state="failed", code=cause.type if cause else None, reason=str(exc.cause or exc)
            )
            if not never_sent(exc) and workflow.patched(FAILED_IN_DOUBT):
                doubt = f"{platform}: the call may have gone out ({failure_type(exc)}): check it there"
                outcome = outcome.model_copy(update={"state": "unknown", "reason": doubt})
        await self.handle(a.RecordOutcome(platform=platform, outcome=outcome, at=workflow.now()))
        accounts, since = self.policy.accounts, workflow.now()
        backoff = outcome.state == "pending" and workflow.patched(POLL_BACKOFF)
        every = accounts.status_poll_every
        while outcome.state == "pending" and not outcome.manual and outcome.handle:
            got = await self.wait(lambda: platform in self.callbacks, every)
            if backoff:
                every = min(every * 2, max(accounts.status_poll_at_most, accounts.status_poll_every))
            if got and not self.signed:  # a run from before: the callback was taken at its word
                outcome = self.callbacks.pop(platform)
            else:  # a callback only wakes the poll: the platform itself says what became of the post
                self.callbacks.pop(platform, None)
                outcome = await self.status_of(platform, account, outcome.handle)
            if backoff and outcome.state == "pending" and workflow.now() - since >= accounts.pending_at_most:
                waited = format_duration(accounts.pending_at_most)
                outcome = PublishOutcome(
                    state="unknown",
                    handle=outcome.handle,
                    reason=f"{platform} still calls it pending after {waited}: check it there and reconcile",
                )
            if outcome.state != "pending":
                await self.handle(a.RecordOutcome(platform=platform, outcome=outcome, at=workflow.now()))

    async def status_of(self, platform: Platform, account: str, handle: str) -> PublishOutcome:
        """What the platform says of a pending publication; if it cannot say, a person finds out (M5).

        A status call that keeps failing (the IP whitelist changed, the platform refuses) used to
        fail the whole article and cancel its other platforms: now that publication is unconfirmed.
        """
        try:
            said: PublishOutcome = await workflow.execute_activity(
                "platform.status",
                StatusRequest(platform=platform, account=account, handle=handle),
                result_type=PublishOutcome,
                task_queue=platform_queue(platform),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=STATUS_RETRY,
            )
            return said
        except ActivityError as exc:
            if not workflow.patched(UNCONFIRMED_STATUS):
                raise  # a run from before failed here, as its history says
            cause = exc.cause if isinstance(exc.cause, ApplicationError) else None
            return PublishOutcome(
                state="unknown",
                handle=handle,
                code=cause.type if cause else None,
                reason=f"{platform} could not be asked what became of the post: check it there and reconcile",
            )

    # --- what the shell records ---------------------------------------------------------------

    def rules_of(self, events: Sequence[DomainEvent]) -> tuple[RuleId, ...]:
        rules = {RuleId.REVIEW_ALL}
        for event in events:
            if isinstance(event, a.ReviewRequested):
                rules.add(event.rule)
            elif isinstance(event, a.ChecksFailed):
                rules |= {p.rule for p in event.problems}
            elif isinstance(event, a.Approved):
                rules.add(a.approval_rule(event.role, self.policy))
        return tuple(sorted(rules))

    def after_recording(self, events: Sequence[DomainEvent]) -> None:
        self.publish_search_attributes()
        if events and self.linked_to() is not None:
            self.moved = True

    def linked_to(self) -> str | None:
        """The promotion this article announces, or the event it writes up (its workflow id).

        Only runs submitted with a link (since that was possible) have one, so older histories
        replay without the wake-ups: no patch is needed for them.
        """
        if self.state.promotion_id:
            return f"promotion-{self.state.promotion_id}"
        if self.state.writeup_id:
            return f"writeup-{self.state.writeup_id}"
        return None

    async def wake(self, linked: str) -> None:
        """Wake the linked obligation whenever this article recorded something; it reads the facts
        from the event store (a wake-up carries none). One not started yet, or over, is not found:
        it reads the record when it starts, and needs nothing once it is over."""
        while True:
            await workflow.wait_condition(lambda: self.moved)
            self.moved, self.waking = False, True
            try:
                await workflow.get_external_workflow_handle(linked).signal(
                    LINKED_ARTICLE_MOVED, self.state.id
                )
            except FailureError as exc:
                workflow.logger.info("%s not woken: %s", linked, exc)
            finally:
                self.waking = False

    async def working_hours_after(self, start: datetime, duration: timedelta) -> datetime:
        request = WorkingHoursRequest(
            rule=RuleId.APPROVAL_REMIND, start=start, duration=duration, policy=self.policy
        )
        due = await self.step(
            "calendar", "calendar.working_hours_after", [request], DueTime, RuleId.APPROVAL_REMIND
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

    async def person(self, message: Any, parse: Callable[[Any], BaseModel]) -> ArticleView:
        await self.decide_for_person(message, parse)
        return self.view()

    def submission(self, fields: Any) -> a.Submit:
        """The author's submission, for this workflow's article only (its id is the workflow's), and
        the accounts it publishes on as the API chose them (signed with it: a start input's are not)."""
        submit = a.Submit.model_validate(fields)
        if self.signed and f"article-{submit.article_id}" != workflow.info().workflow_id:
            raise Invalid(RuleId.ACCOUNTABLE, "the submission is for another article", field="article_id")
        self.adopt_accounts(fields)
        return submit

    def revision(self, fields: Any) -> a.Revise:
        """A new version, with the accounts its platforms publish on (a platform it adds needs one)."""
        revise = a.Revise.model_validate(fields)
        self.adopt_accounts(fields)
        return revise

    def adopt_accounts(self, fields: Any) -> None:
        if isinstance(fields, dict) and "accounts" in fields:
            self.accounts = {**self.accounts, **ACCOUNTS.validate_python(fields["accounts"])}

    @workflow.update
    async def revise(self, command: Any) -> ArticleView:
        """A new version (the author's, or the manager's): checked and approved again."""
        return await self.person(command, self.revision)

    @revise.validator
    def _revise(self, command: Any) -> None:
        self.validate(command, a.Revise.model_validate)  # the accounts are taken once it is proven

    @workflow.update
    async def review(self, command: Any) -> ArticleView:
        """R-REVIEW-ALL: the operations manager approves, asks for changes, or rejects."""
        return await self.person(command, a.Review.model_validate)

    @review.validator
    def _review(self, command: Any) -> None:
        self.validate(command, a.Review.model_validate)

    @workflow.update
    async def confirm(self, command: Any) -> ArticleView:
        """R-REVIEW-PROJECT: the general manager confirms."""
        return await self.person(command, a.Confirm.model_validate)

    @confirm.validator
    def _confirm(self, command: Any) -> None:
        self.validate(command, a.Confirm.model_validate)

    @workflow.update
    async def withdraw(self, command: Any) -> ArticleView:
        return await self.person(command, a.Withdraw.model_validate)

    @withdraw.validator
    def _withdraw(self, command: Any) -> None:
        self.validate(command, a.Withdraw.model_validate)

    @workflow.update
    async def reconcile(self, command: Any) -> ArticleView:
        """A person says what became of a publication that is unconfirmed or manual."""
        return await self.person(command, a.Reconcile.model_validate)

    @reconcile.validator
    def _reconcile(self, command: Any) -> None:
        self.validate(command, a.Reconcile.model_validate)

    @workflow.update
    async def schedule(self, command: Any) -> ArticleView:
        return await self.person(command, a.Schedule.model_validate)

    @schedule.validator
    def _schedule(self, command: Any) -> None:
        self.validate(command, a.Schedule.model_validate)

    @workflow.signal(name="decision")
    async def decision(self, command: Any) -> None:
        """Any person's command as a signal, for ops in the Temporal UI or CLI; a refusal is recorded."""
        try:
            await self.decide_for_person(
                command, PERSON_COMMAND.validate_python, legacy=LEGACY_COMMAND.validate_python, signal=True
            )
        except ApplicationError as exc:
            workflow.logger.warning("decision refused: %s", exc)

    @workflow.signal(name=PUBLICATION_FINISHED)
    def publication_finished(self, update: PublicationUpdate) -> None:
        """The platform's push says a publication finished: the platform is asked at once, not believed."""
        self.callbacks[update.platform] = update.outcome

    @workflow.query
    def state_and_decisions(self) -> ArticleView:
        return self.view()
