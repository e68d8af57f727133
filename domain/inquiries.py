"""Inquiries (R-INQUIRY-12H): every user message on a company platform, answered within 12 hours.

Each inquiry is one process, identified from the platform's own message id, so the same message
delivered twice is the same inquiry. Its clock starts at the platform's message time (not when we
noticed it): a warning at the policy's lead time before the deadline (P-INQUIRY-WARN), a breach at
the deadline with escalation to the operations manager, and the platform's own reply window
(P-REPLY-WINDOW: WeChat 48 h, Weibo 72 h) escalated before it closes. Closing without a reply is the
manager's alone. A user who writes again joins the open inquiry, or reopens an answered one with a
new clock.

`decide`/`evolve` are pure: the deadline arrives on the command (the workflow asks an activity,
because working-hours deadlines depend on China's calendar).
"""

import hashlib
import json
from datetime import datetime, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from domain.commands import Actor
from domain.counting import reply_problems
from domain.decider import Decider
from domain.durations import Instant
from domain.errors import DomainError, Invalid
from domain.events import REGISTRY, DomainEvent
from domain.outcomes import ReplyOutcome
from domain.platforms import Platform
from domain.policy import Policy
from domain.roles import Permission, Role, require
from domain.rules import RuleId
from domain.text import Text

Channel = Platform | Literal["phone", "email"]
"""Where the user wrote: a platform, or by phone or mail (recorded by staff, answered outside)."""


def digest(message: BaseModel) -> str:
    """What an intake proof is signed over: the message exactly as the platform delivered it."""
    text = json.dumps(message.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def inquiry_id(platform: Channel, message_id: str) -> str:
    """The inquiry's workflow id and event stream: `inquiry-<platform>-<platform message id>`."""
    return f"inquiry-{platform}-{message_id}"


def check_received_at(received_at: datetime, now: datetime, policy: Policy, *, backfilled: bool) -> None:
    """A time of receipt a person records is not in the future (clock skew aside), and one older than
    the policy's bound is taken only as an explicit back-filled record: its 12 hours are long gone."""
    if received_at > now + policy.accountable.clock_skew:
        raise Invalid(
            RuleId.INQUIRY_12H, "the inquiry cannot have been received in the future", field="received_at"
        )
    bound = policy.inquiry_12h.backfill_after
    if received_at < now - bound and not backfilled:
        raise Invalid(
            RuleId.INQUIRY_12H,
            f"received more than {bound.days} days ago: record it as back-filled (backfilled: true)",
            field="received_at",
        )


InquiryStatus = Literal["open", "at_risk", "breached", "answered", "closed"]
STILL_OWED: tuple[InquiryStatus, ...] = ("open", "at_risk", "breached")
"""The statuses of an inquiry still owed an answer (R-INQUIRY-12H): the SLA board's and the metrics'."""


@REGISTRY.register
class InquiryReceived(DomainEvent):
    """A user wrote to us: the platform's time and the time we detected it are both kept."""

    type: Literal["inquiry.received"] = "inquiry.received"
    platform: Channel
    account: str
    message_id: str
    user: str
    text: str
    kind: Literal["message", "comment"] = "message"
    thread: str | None = None
    sent_at: Instant
    detected_at: Instant


@REGISTRY.register
class SlaStarted(DomainEvent):
    """The response clock: due by `deadline` (R-INQUIRY-12H); the platform's own window closes later."""

    type: Literal["inquiry.sla_started"] = "inquiry.sla_started"
    deadline: Instant
    warn_at: Instant
    window_closes: Instant | None
    clock: Literal["wall", "working_hours"]


@REGISTRY.register
class Assigned(DomainEvent):
    type: Literal["inquiry.assigned"] = "inquiry.assigned"
    assignee: str
    by: str
    at: Instant


@REGISTRY.register
class Warned(DomainEvent):
    """P-INQUIRY-WARN: still unanswered this close to the deadline."""

    type: Literal["inquiry.warned"] = "inquiry.warned"
    at: Instant


@REGISTRY.register
class Breached(DomainEvent):
    """R-INQUIRY-12H was not kept: the deadline passed unanswered; escalated."""

    type: Literal["inquiry.breached"] = "inquiry.breached"
    at: Instant
    escalated_to: Role


@REGISTRY.register
class Escalated(DomainEvent):
    """R-ESCALATE-4H: reported up, by a person who judged it important or, under the policy option,
    by the clock because it was still unanswered `report_unanswered_after` after it came."""

    type: Literal["inquiry.escalated"] = "inquiry.escalated"
    at: Instant
    to: Role
    by: str
    reason: str
    within_rule: bool
    """Reported no later than R-ESCALATE-4H's `within` after the clock started."""


@REGISTRY.register
class WindowClosing(DomainEvent):
    """P-REPLY-WINDOW: the platform will soon refuse a reply; escalated."""

    type: Literal["inquiry.window_closing"] = "inquiry.window_closing"
    at: Instant
    closes: Instant
    escalated_to: Role


@REGISTRY.register
class WindowClosed(DomainEvent):
    """The platform no longer takes a reply: the answer must go another way (phone, mail)."""

    type: Literal["inquiry.window_closed"] = "inquiry.window_closed"
    at: Instant


@REGISTRY.register
class Replied(DomainEvent):
    type: Literal["inquiry.replied"] = "inquiry.replied"
    responder: str
    text: str
    at: Instant
    latency_s: int
    within_sla: bool
    outcome: ReplyOutcome


@REGISTRY.register
class ReplyFailed(DomainEvent):
    type: Literal["inquiry.reply_failed"] = "inquiry.reply_failed"
    responder: str
    at: Instant
    code: str | None
    reason: str


@REGISTRY.register
class ReplyReconciled(DomainEvent):
    """A person checked a reply whose outcome was unknown: it reached the user, or it did not."""

    type: Literal["inquiry.reply_reconciled"] = "inquiry.reply_reconciled"
    delivered: bool
    by: str
    at: Instant


@REGISTRY.register
class Closed(DomainEvent):
    type: Literal["inquiry.closed"] = "inquiry.closed"
    reason: Literal["answered", "spam", "duplicate"]
    by: str
    at: Instant


@REGISTRY.register
class FollowedUp(DomainEvent):
    """The user wrote again before the answer: kept with the inquiry, the clock unchanged."""

    type: Literal["inquiry.followed_up"] = "inquiry.followed_up"
    message_id: str
    text: str
    sent_at: Instant


@REGISTRY.register
class Reopened(DomainEvent):
    """The user wrote again: a new response clock from this message."""

    type: Literal["inquiry.reopened"] = "inquiry.reopened"
    message_id: str
    text: str
    sent_at: Instant


InquiryEvent = Annotated[
    InquiryReceived
    | SlaStarted
    | Assigned
    | Warned
    | Breached
    | Escalated
    | WindowClosing
    | WindowClosed
    | Replied
    | ReplyFailed
    | ReplyReconciled
    | Closed
    | FollowedUp
    | Reopened,
    Field(discriminator="type"),
]


class Message(BaseModel):
    """One thing the user wrote: the first message, or a later one in the same conversation."""

    message_id: str
    text: str
    sent_at: Instant


class Inquiry(BaseModel):
    id: str = ""
    platform: Channel | None = None
    account: str = ""
    user: str = ""
    text: str = ""
    kind: Literal["message", "comment"] = "message"
    thread: str | None = None
    message_id: str = ""
    sent_at: Instant | None = None
    detected_at: Instant | None = None
    deadline: Instant | None = None
    warn_at: Instant | None = None
    window_closes: Instant | None = None
    window_closed: bool = False
    warned: bool = False
    breached: bool = False
    escalated: bool = False
    """Reported up (R-ESCALATE-4H) since the clock last started."""
    window_escalated: bool = False
    assignee: str | None = None
    replies: list[Replied] = Field(default_factory=list)
    reply_in_doubt: bool = False
    refused_replies: int = 0
    """Replies the platform refused: each later attempt is a new call (a new at-most-once key)."""
    closed: str | None = None
    answered_at: Instant | None = None
    within_sla: bool | None = None
    messages: list[Message] = Field(default_factory=list)
    reopened: int = 0
    """How many times the user wrote again after an answer (each a new clock)."""

    @property
    def status(self) -> "InquiryStatus":
        if self.closed and self.closed != "answered":
            return "closed"
        if self.answered_at is not None:
            return "answered"
        if self.breached:
            return "breached"
        return "at_risk" if self.warned else "open"

    @property
    def received_at(self) -> datetime | None:
        """When the inquiry came: its first message (a reopened one's clock starts later)."""
        return self.messages[0].sent_at if self.messages else self.sent_at

    @property
    def open(self) -> bool:
        return self.answered_at is None and self.closed is None


def _message(event: "InquiryReceived | FollowedUp | Reopened") -> Message:
    return Message(message_id=event.message_id, text=event.text, sent_at=event.sent_at)


def initial_inquiry() -> Inquiry:
    return Inquiry()


def evolve_inquiry(state: Inquiry, event: DomainEvent) -> Inquiry:
    s = state.model_copy(deep=True)
    match event:
        case InquiryReceived():
            s.platform, s.account, s.user, s.text = event.platform, event.account, event.user, event.text
            s.kind, s.thread, s.message_id = event.kind, event.thread, event.message_id
            s.sent_at, s.detected_at = event.sent_at, event.detected_at
            s.messages.append(_message(event))
        case SlaStarted():
            s.deadline, s.warn_at, s.window_closes = event.deadline, event.warn_at, event.window_closes
            s.warned = s.breached = s.window_escalated = s.window_closed = s.escalated = False
        case Assigned():
            s.assignee = event.assignee
        case Warned():
            s.warned = True
        case Breached():
            s.breached = True
        case Escalated():
            s.escalated = True
        case WindowClosing():
            s.window_escalated = True
        case WindowClosed():
            s.window_closed = True
        case Replied():
            s.replies.append(event)
            s.reply_in_doubt = event.outcome.state == "unknown"
            if event.outcome.state == "sent" and s.answered_at is None:
                s.answered_at, s.within_sla = event.at, event.within_sla
        case ReplyFailed():
            s.reply_in_doubt = False
            s.refused_replies += 1
        case ReplyReconciled():
            s.reply_in_doubt = False
            doubtful = s.replies[-1] if s.replies else None
            if event.delivered and doubtful is not None and s.answered_at is None:
                s.answered_at, s.within_sla = doubtful.at, doubtful.within_sla  # the user had it then
        case Closed():
            s.closed = event.reason
        case FollowedUp():
            s.messages.append(_message(event))
        case Reopened():
            s.messages.append(_message(event))
            s.text, s.message_id, s.sent_at = event.text, event.message_id, event.sent_at
            s.answered_at, s.within_sla, s.closed, s.reply_in_doubt = None, None, None, False
            s.reopened += 1
    return s


Responder = Actor
"""Whoever acts on an inquiry: the same person record as everywhere (kept as a name for readers)."""


class StartSla(BaseModel):
    kind: Literal["start_sla"] = "start_sla"
    deadline: Instant
    clock: Literal["wall", "working_hours"] = "wall"


class Assign(BaseModel):
    kind: Literal["assign"] = "assign"
    actor: Responder
    assignee: Text
    at: Instant


class Tick(BaseModel):
    """A timer fired: the workflow's clock says what is due now."""

    kind: Literal["tick"] = "tick"
    at: Instant


class Reply(BaseModel):
    kind: Literal["reply"] = "reply"
    actor: Responder
    text: Text
    at: Instant


class RecordReply(BaseModel):
    """What the platform said about a reply (sent, failed, unknown)."""

    kind: Literal["record_reply"] = "record_reply"
    actor: Responder
    text: str
    outcome: ReplyOutcome
    at: Instant


class Escalate(BaseModel):
    """A person reports the inquiry up as an important event (R-ESCALATE-4H)."""

    kind: Literal["escalate"] = "escalate"
    actor: Responder
    reason: Text
    at: Instant


class ReconcileReply(BaseModel):
    """A person says what became of a reply whose outcome is unknown (they checked the platform)."""

    kind: Literal["reconcile_reply"] = "reconcile_reply"
    actor: Responder
    delivered: bool
    at: Instant


class Close(BaseModel):
    kind: Literal["close"] = "close"
    actor: Responder
    reason: Literal["answered", "spam", "duplicate"]
    at: Instant


PersonCommand = Annotated[Assign | Reply | ReconcileReply | Escalate | Close, Field(discriminator="kind")]
"""What a person may ask of an inquiry (the clock, platforms' answers and follow-ups are the workflow's)."""


class UserWrote(BaseModel):
    """Another message from the same user in the same conversation.

    Before the answer it joins the inquiry; after it, it reopens the inquiry with a new clock, due
    by `deadline` (which the workflow asks the calendar for only then). A message already kept is
    nothing new: deliveries repeat.
    """

    kind: Literal["user_wrote"] = "user_wrote"
    message_id: str
    text: str
    sent_at: Instant
    deadline: Instant | None = None


def reply_window(platform: Channel | None, policy: Policy) -> timedelta | None:
    if platform is None or (isinstance(platform, str) and platform in ("phone", "email")):
        return None
    return policy.reply_window.windows.get(Platform(platform))


def _check_reply(command: Reply, state: Inquiry, policy: Policy) -> None:
    require(command.actor.roles, Permission.INQUIRY_REPLY)
    if not state.open:
        raise DomainError(RuleId.INQUIRY_12H, f"the inquiry is {state.status}")
    if state.reply_in_doubt:
        raise DomainError(RuleId.INQUIRY_12H, "the last reply's outcome is unknown; check the platform first")
    if state.window_closed:
        raise DomainError(
            RuleId.REPLY_WINDOW, f"{state.platform}'s reply window has closed: answer the user another way"
        )
    if state.platform not in (None, "phone", "email"):
        problems = reply_problems(Platform(state.platform), command.text)
    else:
        problems = [] if command.text.strip() else ["a reply must not be empty"]
    if problems:
        raise Invalid(RuleId.INQUIRY_12H, "; ".join(problems), field="text")


def decide_inquiry(command: BaseModel, state: Inquiry, policy: Policy) -> list[DomainEvent]:
    match command:
        case StartSla():
            warn_at = command.deadline - policy.inquiry_warn.lead
            window = reply_window(state.platform, policy)
            closes = state.sent_at + window if window and state.sent_at else None
            return [
                SlaStarted(
                    deadline=command.deadline, warn_at=warn_at, window_closes=closes, clock=command.clock
                )
            ]
        case Assign():
            require(command.actor.roles, Permission.INQUIRY_ASSIGN)
            if not state.open:
                raise DomainError(RuleId.INQUIRY_12H, f"the inquiry is {state.status}")
            return [Assigned(assignee=command.assignee, by=command.actor.id, at=command.at)]
        case Tick():
            return _due(state, command.at, policy)
        case Reply():
            _check_reply(command, state, policy)
            return []
        case RecordReply():
            if command.outcome.state == "failed":
                return [
                    ReplyFailed(
                        responder=command.actor.id,
                        at=command.at,
                        code=command.outcome.code,
                        reason=command.outcome.reason or "the platform refused the reply",
                    )
                ]
            assert state.sent_at is not None  # noqa: S101 - received before any reply
            assert state.deadline is not None  # noqa: S101
            return [
                Replied(
                    responder=command.actor.id,
                    text=command.text,
                    at=command.at,
                    latency_s=int((command.at - state.sent_at).total_seconds()),
                    within_sla=command.at <= state.deadline,
                    outcome=command.outcome,
                )
            ]
        case ReconcileReply():
            require(command.actor.roles, Permission.INQUIRY_REPLY)
            if not state.reply_in_doubt:
                raise DomainError(RuleId.INQUIRY_12H, "no reply of this inquiry has an unknown outcome")
            return [ReplyReconciled(delivered=command.delivered, by=command.actor.id, at=command.at)]
        case Escalate():
            require(command.actor.roles, Permission.INQUIRY_ESCALATE)
            if not state.open:
                raise DomainError(RuleId.ESCALATE_4H, f"the inquiry is {state.status}")
            if not command.reason.strip():
                raise Invalid(RuleId.ESCALATE_4H, "say why it is important", field="reason")
            return [_escalated(state, command.at, policy, by=command.actor.id, reason=command.reason)]
        case Close():
            if state.closed:
                raise DomainError(RuleId.INQUIRY_12H, "the inquiry is closed already")
            require(command.actor.roles, Permission.INQUIRY_REPLY)
            if state.answered_at is None or command.reason != "answered":
                require(command.actor.roles, Permission.INQUIRY_CLOSE)  # without a reply: the manager's alone
            return [Closed(reason=command.reason, by=command.actor.id, at=command.at)]
        case UserWrote():
            if any(m.message_id == command.message_id for m in state.messages):
                return []
            if state.open:
                return [FollowedUp(message_id=command.message_id, text=command.text, sent_at=command.sent_at)]
            if command.deadline is None:
                raise ValueError("reopening needs the new deadline")
            reopened = Reopened(message_id=command.message_id, text=command.text, sent_at=command.sent_at)
            clock = policy.inquiry_12h.clock
            return [
                reopened,
                *decide_inquiry(
                    StartSla(deadline=command.deadline, clock=clock), evolve_inquiry(state, reopened), policy
                ),
            ]
    raise TypeError(f"unknown command {type(command).__name__}")


def _escalated(state: Inquiry, at: datetime, policy: Policy, by: str, reason: str) -> Escalated:
    rule = policy.escalate_4h
    started = state.sent_at or at
    return Escalated(at=at, to=rule.to, by=by, reason=reason, within_rule=at - started <= rule.within)


def _escalate_at(state: Inquiry, policy: Policy) -> datetime | None:
    """Under the R-ESCALATE-4H option, when an unanswered inquiry is reported up by the clock."""
    if not policy.escalate_4h.enabled or not state.open or state.escalated or state.sent_at is None:
        return None
    return state.sent_at + policy.escalate_4h.report_unanswered_after


def _due(state: Inquiry, now: datetime, policy: Policy) -> list[DomainEvent]:
    events: list[DomainEvent] = []
    escalate_at = _escalate_at(state, policy)
    if escalate_at is not None and now >= escalate_at:
        events.append(_escalated(state, now, policy, by="mediaops", reason="still unanswered"))
    if state.open and state.deadline is not None:
        if not state.warned and state.warn_at is not None and now >= state.warn_at and now < state.deadline:
            events.append(Warned(at=now))
        if not state.breached and now >= state.deadline:
            events.append(Breached(at=now, escalated_to=Role.OPERATIONS_MANAGER))
    if state.open and state.window_closes is not None:
        escalate_at = state.window_closes - policy.reply_window.escalate_before
        if not state.window_escalated and escalate_at <= now < state.window_closes:
            events.append(
                WindowClosing(at=now, closes=state.window_closes, escalated_to=Role.OPERATIONS_MANAGER)
            )
    if state.window_closes is not None and not state.window_closed and now >= state.window_closes:
        events.append(WindowClosed(at=now))
    return events


def next_due(state: Inquiry, policy: Policy) -> datetime | None:
    """When the next timer must fire (the earliest thing still to happen)."""
    moments = []
    escalate_at = _escalate_at(state, policy)
    if escalate_at is not None:
        moments.append(escalate_at)
    if state.open and state.deadline is not None:
        # No warning once breached: `_due` never gives one then (a clock started past its
        # deadline skips it), and naming it would be a moment, always past, at which nothing
        # happens: the workflow's clock loop would spin on it without yielding.
        if not state.warned and not state.breached and state.warn_at is not None:
            moments.append(state.warn_at)
        if not state.breached:
            moments.append(state.deadline)
    if state.window_closes is not None and not state.window_closed:
        if state.open and not state.window_escalated:
            moments.append(state.window_closes - policy.reply_window.escalate_before)
        moments.append(state.window_closes)
    return min(moments) if moments else None


INQUIRIES: Decider[Inquiry] = Decider(initial=initial_inquiry, decide=decide_inquiry, evolve=evolve_inquiry)
