"""The inquiry workflow (R-INQUIRY-12H): one per user message, `inquiry-<platform>-<message id>`.

The inquiry decider inside the process shell (workflows/shell.py). Started by the platform
callbacks and the API under the message's own id (Temporal refuses a second run of it). It records
the inquiry, asks for its deadline once, and then keeps the clock: a warning at the policy's lead
time, a breach at the deadline escalated to the operations manager, the platform's reply window
escalated before it closes. Replies are validated updates sent to the platform at most once; like
every person's command they arrive signed. A message from the same user (the `user_wrote` signal)
joins the open inquiry or reopens the answered one; the workflow ends when the policy's
`reopen_within` has passed after the answer, or when the inquiry is closed.
"""

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel
from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.calendar import DueTime, InquiryDeadlineRequest
    from activities.notify import Notification
    from activities.platform_calls import ReplyRequest
    from domain import inquiries as q
    from domain.commands import SYSTEM, Actor, envelope, person_command
    from domain.errors import DomainError, Unauthenticated
    from domain.events import DomainEvent
    from domain.outcomes import Inbound, ReplyOutcome
    from domain.platforms import REPLIED_BY_HAND, Platform
    from domain.roles import Permission, Role, require
    from domain.rules import RuleId
    from workflows import search_attributes as sa
    from workflows.contracts import Carried, InquiryStart, InquiryView
    from workflows.recording import (
        ACTIVITY_TIMEOUT,
        AT_ONCE,
        HEARTBEAT_TIMEOUT,
        REPLY_RETRY,
        platform_queue,
    )
    from workflows.shell import FAILED_IN_DOUBT, SIGNED_MESSAGES, Process, failure_type, never_sent, refusal


SYSTEM_ACTOR = Actor(id=SYSTEM, roles=frozenset())
CONVERSATIONS = "inquiry-conversations"
"""One patch for the changes of one deploy; runs started before it keep the old behaviour:
- after the answer, the workflow waits `reopen_within` for the user to write again (before: it ended);
- a reply on a platform without a reply API is recorded as given (before: tried there, and failed);
- the search attributes are published once the clock is set, not also as the message is recorded.
"""


TEXTS_CARRIED = 20
"""How many of the latest messages and replies keep their text in what a run hands on."""


def lightened(state: q.Inquiry) -> q.Inquiry:
    """The state a new run goes on from, its older texts left out: what the rules decide on (ids,
    times, outcomes) is all kept, and every text is in the event store and the read model. Without
    this a chatty inquiry's hand-on would outgrow Temporal's 2 MB payload limit."""

    def keep_latest(items: list[Any]) -> list[Any]:
        cut = max(len(items) - TEXTS_CARRIED, 0)
        return [i.model_copy(update={"text": ""}) for i in items[:cut]] + items[cut:]

    return state.model_copy(
        update={"messages": keep_latest(state.messages), "replies": keep_latest(state.replies)}
    )


@workflow.defn(name="Inquiry")
class InquiryWorkflow(Process[q.Inquiry]):
    decider = q.INQUIRIES

    def __init__(self) -> None:
        super().__init__()
        self.follow_ups: list[q.Message] = []
        self.conversations = False
        self.replying = False

    @workflow.run
    async def run(self, start: InquiryStart) -> InquiryView:
        if start.carried is not None and workflow.info().continued_run_id is not None:
            return await self.go_on(start, start.carried)  # only the server says a run continues one
        await self.begin(start.policy)
        self.conversations = self.local or workflow.patched(CONVERSATIONS)  # see `adopt_patches`
        if self.signed and workflow.info().parent is None:  # a comment poll's child is the system's
            try:
                await self.intake(start)
            except ApplicationError:
                await self.finish()
                return self.view()  # no proof that anyone wrote this: refused and recorded
        await self.open(start.received)
        return await self.until_done(start)

    async def open(self, received: q.InquiryReceived) -> None:
        """Record the message and start its clock: in one append when the calendar answers at once
        (`LOCAL_STEPS`); else the message first, and the clock once the calendar answers (the
        step flagged meanwhile), so a user's message is never left unrecorded for a calendar."""
        said_by, rules = f"{received.platform}:{received.user}", (RuleId.INQUIRY_12H,)
        if self.local:
            try:
                due = await self.ask(
                    "calendar.inquiry_deadline",
                    [self.deadline_request(received.sent_at)],
                    DueTime,
                    AT_ONCE,
                )
            except ActivityError:
                pass
            else:
                await self.record_then_handle([received], said_by, rules, self.start_sla(due.at))
                return
        await self.record([received], actor=said_by, rules=rules)
        if not self.conversations:
            self.publish_search_attributes()
        await self.handle(self.start_sla(await self.deadline(received.sent_at)))

    def start_sla(self, deadline: datetime) -> q.StartSla:
        return q.StartSla(deadline=deadline, clock=self.clock)

    async def until_done(self, start: InquiryStart) -> InquiryView:
        while True:
            await self.keep_clock(start)
            if not self.conversations or not await self.follow_up_after_answer():
                await self.finish()
                return self.view()

    async def go_on(self, start: InquiryStart, carried: Carried) -> InquiryView:
        """A run continued from a long one: its state, record and policy as they were, nothing redone."""
        self.carry_on(carried.appended, carried.policy)
        self.conversations = True  # only runs with conversations continue as new
        self.state = carried.state
        self.follow_ups = list(carried.follow_ups)
        self.publish_search_attributes()
        return await self.until_done(start)

    async def continue_as_new(self, start: InquiryStart) -> None:
        """Hand on to a new run once every handler has finished (a reply in flight, say): what
        the next run needs is carried, and what a person sends meanwhile reaches the new run."""
        await workflow.wait_condition(lambda: workflow.all_handlers_finished() and not self.replying)
        carried = Carried(
            appended=self.appended,
            policy=self.policy,
            follow_ups=self.follow_ups,
            state=lightened(self.state),
        )
        workflow.continue_as_new(start.model_copy(update={"carried": carried, "proof": None}))

    @property
    def clock(self) -> Literal["wall", "working_hours"]:
        return self.policy.inquiry_12h.clock

    def deadline_request(self, sent_at: datetime) -> InquiryDeadlineRequest:
        return InquiryDeadlineRequest(sent_at=sent_at, policy=self.policy)

    async def deadline(self, sent_at: datetime) -> datetime:
        request = self.deadline_request(sent_at)
        due = await self.step("calendar", "calendar.inquiry_deadline", [request], DueTime, RuleId.INQUIRY_12H)
        return due.at

    async def keep_clock(self, start: InquiryStart) -> None:
        """Warnings, breach and the reply window, until the inquiry is answered or closed; a chatty
        inquiry whose history grew long goes on in a new run."""
        while self.state.open:
            await self.take_follow_ups()
            if self.conversations and self.history_is_long():
                await self.continue_as_new(start)
            nxt = q.next_due(self.state, self.policy)
            within = None if nxt is None else max(nxt - workflow.now(), timedelta(0))
            try:
                await workflow.wait_condition(self.changed_since(self.changes), timeout=within)
            except TimeoutError:
                for event in await self.handle(q.Tick(at=workflow.now())):
                    await self.tell(event)

    async def follow_up_after_answer(self) -> bool:
        """After the answer, wait the policy's `reopen_within` for the user to write again.

        True when they did (the inquiry is open again, on a new clock); False when the time passed,
        the inquiry was closed, or it ended without an answer.
        """
        answered_at = self.state.answered_at
        if answered_at is not None and self.state.closed is None:
            until = answered_at + self.policy.inquiry_12h.reopen_within
            try:
                await workflow.wait_condition(
                    lambda: bool(self.follow_ups) or self.state.closed is not None,
                    timeout=max(until - workflow.now(), timedelta(0)),
                )
            except TimeoutError:
                return False
        await self.take_follow_ups()  # also one that came as it was being closed: never dropped
        return self.state.open

    async def take_follow_ups(self) -> None:
        while self.follow_ups:
            message = self.follow_ups.pop(0)
            deadline = None if self.state.open else await self.deadline(message.sent_at)
            await self.handle(
                q.UserWrote(
                    message_id=message.message_id,
                    text=message.text,
                    sent_at=message.sent_at,
                    deadline=deadline,
                )
            )

    def changed_since(self, seen: int) -> "Callable[[], bool]":
        return lambda: self.changes != seen or bool(self.follow_ups)

    async def intake(self, start: InquiryStart) -> None:
        """The proof that this message came: the intake's word for a platform's delivery, or the
        signed word of the person who recorded it (and who may record inquiries)."""
        signed = envelope(start.proof)
        try:
            if signed is None:
                raise Unauthenticated(RuleId.INQUIRY_12H, "an inquiry starts from the intake, with its proof")
            proven = await self._authenticate(signed)
            if signed.command != {"kind": "receive", "digest": q.digest(start.received)}:
                raise Unauthenticated(RuleId.INQUIRY_12H, "the proof is for another message")
            if proven.channel != "intake":
                require(proven.actor.roles, Permission.INQUIRY_CREATE)
        except DomainError as exc:
            await self.refused(start.proof, exc)
            raise refusal(exc) from None

    @workflow.signal
    async def user_wrote(self, message: Any) -> None:
        """The same user wrote again (routed here by the intake, which vouches for it); kept in
        order, decided in `run`. An unproven one is refused and recorded."""
        signed = envelope(message)
        if signed is None and not self.signed and not self.refuses_unsigned(SIGNED_MESSAGES):
            self.follow_ups.append(q.Message.model_validate(message))  # a run from before: as it was
            return
        try:
            if signed is None or signed.channel != "intake":
                raise Unauthenticated(RuleId.INQUIRY_12H, "a user's message comes from the intake, signed")
            await self._authenticate(signed)
            fields = {k: v for k, v in signed.command.items() if k != "kind"}
            follow_up = person_command(q.Message.model_validate, fields, SYSTEM_ACTOR, workflow.now())
        except DomainError as exc:
            await self.refused(message, exc)
            return
        self.follow_ups.append(follow_up)

    async def tell(self, event: DomainEvent) -> None:
        messages = {
            q.Warned: (RuleId.INQUIRY_WARN, "will breach its 12-hour deadline soon"),
            q.Breached: (RuleId.INQUIRY_12H, "breached its 12-hour deadline"),
            q.Escalated: (RuleId.ESCALATE_4H, "is reported up as important"),
            q.WindowClosing: (RuleId.REPLY_WINDOW, "the platform's reply window closes soon"),
            q.WindowClosed: (
                RuleId.REPLY_WINDOW,
                "the platform's reply window has closed: answer another way",
            ),
        }
        rule, text = messages[type(event)]
        if isinstance(event, q.Escalated):
            to, text = event.to, f"{text}: {event.reason}"
        else:
            to = Role.OPERATIONS_MANAGER if not isinstance(event, q.Warned) else Role.CONTENT_SPECIALIST
        await self.notify(
            Notification(
                kind=event.type,
                rule=rule,
                to=to,
                subject=workflow.info().workflow_id,
                message=f"inquiry {workflow.info().workflow_id} {text}",
            )
        )

    def rules_of(self, events: Sequence[DomainEvent]) -> tuple[RuleId, ...]:
        return (RuleId.INQUIRY_12H,)

    def after_recording(self, events: Sequence[DomainEvent]) -> None:
        if events:
            self.publish_search_attributes()

    def publish_search_attributes(self) -> None:
        s = self.state
        workflow.upsert_search_attributes(
            [
                sa.INQUIRY_STATUS.value_set(s.status),
                sa.PLATFORM.value_set(str(s.platform or "")),
                sa.ASSIGNEE.value_set(s.assignee or ""),
                sa.SLA_DEADLINE.value_set(s.deadline) if s.deadline else sa.SLA_DEADLINE.value_unset(),
            ]
        )

    def view(self) -> InquiryView:
        return InquiryView(inquiry=self.state, status=self.state.status)

    @property
    def recorded(self) -> bool:
        """The inquiry and its clock are recorded: people's commands wait until then."""
        return self.state.deadline is not None

    async def person(self, message: Any, parse: Callable[[Any], BaseModel]) -> InquiryView:
        await workflow.wait_condition(lambda: self.recorded)
        await self.decide_for_person(message, parse)
        return self.view()

    def validate(self, message: object, parse: Callable[[Any], BaseModel]) -> None:
        if self.recorded or envelope(message) is None:  # else the handler waits, then decides itself
            super().validate(message, parse)

    @workflow.update
    async def assign(self, command: Any) -> InquiryView:
        return await self.person(command, q.Assign.model_validate)

    @assign.validator
    def _assign(self, command: Any) -> None:
        self.validate(command, q.Assign.model_validate)

    @workflow.update
    async def reply(self, message: Any) -> InquiryView:
        """Send a reply on the platform, at most once; replies given by phone, mail or in the console
        of a platform without a reply API (REPLIED_BY_HAND) are recorded as given."""
        await workflow.wait_condition(lambda: self.recorded)
        command, channel = await self.command_of(message, q.Reply.model_validate)
        assert isinstance(command, q.Reply)  # noqa: S101 - the only command this update parses
        try:
            self.decider.decide(command, self.state, self.policy)  # refuse before any platform call
            self.one_reply_at_a_time()
        except DomainError as exc:
            raise await self.refuse(message, exc, channel) from None
        self.replying = True
        try:
            outcome = await self.send_reply(command)
            recorded = q.RecordReply(
                actor=command.actor, text=command.text, outcome=outcome, at=workflow.now()
            )
            try:
                await self.handle(recorded, channel)
            except DomainError as exc:
                raise refusal(exc) from None
        finally:
            self.replying = False
        if outcome.state == "failed":  # recorded; and the person must hear it, not see a quiet "open"
            raise refusal(
                DomainError(
                    RuleId.INQUIRY_12H,
                    f"the platform refused the reply ({outcome.code}): {outcome.reason or 'no reason given'}",
                )
            )
        return self.view()

    def one_reply_at_a_time(self) -> None:
        """Two replies at once (a double click, two people) would both reach the user: one waits."""
        if self.replying:
            raise DomainError(RuleId.INQUIRY_12H, "another reply is being sent: wait for its result")

    async def send_reply(self, command: q.Reply) -> ReplyOutcome:
        """The reply on its platform, at most once per attempt (a refused one may be corrected and sent)."""
        s = self.state
        if s.platform in ("phone", "email") or s.platform is None:
            outcome = ReplyOutcome(state="sent")
        elif Platform(s.platform) in REPLIED_BY_HAND and self.conversations:
            outcome = ReplyOutcome(
                state="sent",
                reason=f"{s.platform} has no reply API: answered in its console, recorded as given",
            )
        else:
            platform = Platform(s.platform)
            assert s.sent_at is not None  # noqa: S101
            inbound = Inbound(
                platform=platform,
                account=s.account,
                message_id=s.message_id,
                user=s.user,
                text=s.text,
                sent_at=s.sent_at,
                kind=s.kind,
                thread=s.thread,
            )
            request = ReplyRequest(
                platform=platform,
                account=s.account,
                key=f"{workflow.info().workflow_id}/{s.message_id}/{len(s.replies) + s.refused_replies}",
                inbound=inbound,
                text=command.text,
            )
            try:
                outcome = await workflow.execute_activity(
                    "platform.reply",
                    request,
                    result_type=ReplyOutcome,
                    task_queue=platform_queue(platform),
                    start_to_close_timeout=ACTIVITY_TIMEOUT,
                    heartbeat_timeout=HEARTBEAT_TIMEOUT,
                    retry_policy=REPLY_RETRY,
                )
            except ActivityError as exc:
                if never_sent(exc) or not workflow.patched(FAILED_IN_DOUBT):  # the claim was released
                    outcome = ReplyOutcome(
                        state="failed", code=failure_type(exc), reason=f"{platform} could not be reached"
                    )
                else:  # it may have gone out: a person checks, and nothing is sent again meanwhile
                    outcome = ReplyOutcome(
                        state="unknown",
                        code=failure_type(exc),
                        reason=f"the reply may have reached the user ({failure_type(exc)}): check {platform}",
                    )
        return outcome

    @reply.validator
    def _reply(self, message: Any) -> None:
        try:
            self.one_reply_at_a_time()
        except DomainError as exc:
            raise refusal(exc) from None
        self.validate(message, q.Reply.model_validate)

    @workflow.update
    async def reconcile_reply(self, command: Any) -> InquiryView:
        """A reply whose outcome was unknown: a person says whether it reached the user."""
        return await self.person(command, q.ReconcileReply.model_validate)

    @reconcile_reply.validator
    def _reconcile_reply(self, command: Any) -> None:
        self.validate(command, q.ReconcileReply.model_validate)

    @workflow.update
    async def escalate(self, command: Any) -> InquiryView:
        """Report the inquiry up as an important event (R-ESCALATE-4H), and tell whom the policy names."""
        await workflow.wait_condition(lambda: self.recorded)
        for event in await self.decide_for_person(command, q.Escalate.model_validate):
            await self.tell(event)
        return self.view()

    @escalate.validator
    def _escalate(self, command: Any) -> None:
        self.validate(command, q.Escalate.model_validate)

    @workflow.update
    async def close(self, command: Any) -> InquiryView:
        return await self.person(command, q.Close.model_validate)

    @close.validator
    def _close(self, command: Any) -> None:
        self.validate(command, q.Close.model_validate)

    @workflow.query
    def current(self) -> InquiryView:
        return self.view()
