"""The inquiry decider: the 12-hour clock, warnings, breaches, reply windows, replies, closing."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain import inquiries as q
from domain.errors import DomainError, PermissionDenied
from domain.outcomes import ReplyOutcome
from domain.platforms import Platform
from domain.policy import Policy, policy_from_mapping
from domain.roles import Role

SENT = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)
STAFF = q.Responder(id="li.content", roles=frozenset({Role.CONTENT_SPECIALIST}))
MANAGER = q.Responder(id="wang.manager", roles=frozenset({Role.OPERATIONS_MANAGER}))
AUDITOR = q.Responder(id="audit", roles=frozenset({Role.AUDITOR}))
POLICY = Policy()


def run(state: q.Inquiry, command: object) -> q.Inquiry:
    for event in q.decide_inquiry(command, state, POLICY):  # type: ignore[arg-type]
        state = q.evolve_inquiry(state, event)
    return state


def received(platform: Platform | str = Platform.WECHAT) -> q.Inquiry:
    event = q.InquiryReceived(
        platform=platform,
        account="demo",
        message_id="1",
        user="o1",
        text="请问几点开门？",
        sent_at=SENT,
        detected_at=SENT,
    )
    state = q.evolve_inquiry(q.initial_inquiry(), event)
    return run(state, q.StartSla(deadline=SENT + timedelta(hours=12)))


def sent(at: datetime) -> q.RecordReply:
    return q.RecordReply(actor=STAFF, text="您好，九点开门。", outcome=ReplyOutcome(state="sent"), at=at)


def test_the_clock_warns_at_10h_and_breaches_at_12h() -> None:
    state = received()
    assert state.warn_at == SENT + timedelta(hours=10)
    assert q.next_due(state, POLICY) == SENT + timedelta(hours=10)
    assert run(state, q.Tick(at=SENT + timedelta(hours=9, minutes=59))).status == "open"
    warned = run(state, q.Tick(at=SENT + timedelta(hours=10)))
    assert warned.status == "at_risk"
    assert q.next_due(warned, POLICY) == SENT + timedelta(hours=12)
    events = q.decide_inquiry(q.Tick(at=SENT + timedelta(hours=12)), warned, POLICY)
    [breach] = [e for e in events if isinstance(e, q.Breached)]
    assert breach.escalated_to is Role.OPERATIONS_MANAGER
    assert run(warned, q.Tick(at=SENT + timedelta(hours=12))).status == "breached"


@pytest.mark.parametrize(
    ("after", "within"), [(timedelta(hours=11, minutes=59), True), (timedelta(hours=12, minutes=1), False)]
)
def test_a_reply_at_1159_is_within_and_at_1201_is_not(after: timedelta, within: bool) -> None:
    answered = run(received(), sent(SENT + after))
    assert answered.status == "answered"
    assert answered.within_sla is within
    assert answered.replies[0].latency_s == int(after.total_seconds())


def test_the_wechat_window_escalates_6h_before_it_closes_then_closes() -> None:
    state = received()
    closes = SENT + timedelta(hours=48)
    assert state.window_closes == closes
    late = run(run(state, q.Tick(at=SENT + timedelta(hours=12))), q.Tick(at=closes - timedelta(hours=6)))
    assert late.window_escalated
    closed = run(late, q.Tick(at=closes))
    assert closed.window_closed
    with pytest.raises(DomainError, match="reply window has closed"):
        q.decide_inquiry(q.Reply(actor=STAFF, text="抱歉回复晚了", at=closes), closed, POLICY)


def test_weibo_has_72_hours_and_phone_none() -> None:
    assert received(Platform.WEIBO).window_closes == SENT + timedelta(hours=72)
    assert received("phone").window_closes is None


@pytest.mark.parametrize(
    ("actor", "text", "error"),
    [
        (AUDITOR, "你好", PermissionDenied),
        (STAFF, "   ", DomainError),
        (STAFF, "字" * 3000, DomainError),
    ],
)
def test_replies_are_refused_clearly(actor: q.Responder, text: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        q.decide_inquiry(q.Reply(actor=actor, text=text, at=SENT), received(), POLICY)


def test_a_failed_or_unknown_reply_does_not_answer() -> None:
    failed = run(
        received(),
        q.RecordReply(
            actor=STAFF,
            text="x",
            outcome=ReplyOutcome(state="failed", code="45015", reason="closed"),
            at=SENT,
        ),
    )
    assert failed.open
    doubtful = run(
        received(), q.RecordReply(actor=STAFF, text="x", outcome=ReplyOutcome(state="unknown"), at=SENT)
    )
    assert doubtful.open
    with pytest.raises(DomainError, match="outcome is unknown"):
        q.decide_inquiry(q.Reply(actor=STAFF, text="again", at=SENT), doubtful, POLICY)


def test_closing_without_a_reply_is_the_managers_alone() -> None:
    with pytest.raises(PermissionDenied):
        q.decide_inquiry(q.Close(actor=STAFF, reason="spam", at=SENT), received(), POLICY)
    assert run(received(), q.Close(actor=MANAGER, reason="spam", at=SENT)).status == "closed"
    answered = run(received(), sent(SENT + timedelta(hours=1)))
    assert run(answered, q.Close(actor=STAFF, reason="answered", at=SENT)).closed == "answered"


def test_a_reopened_inquiry_starts_a_new_clock() -> None:
    answered = run(received(), sent(SENT + timedelta(hours=1)))
    again = SENT + timedelta(days=1)
    reopened = run(
        answered,
        q.UserWrote(message_id="2", text="还有问题", sent_at=again, deadline=again + timedelta(hours=12)),
    )
    assert reopened.status == "open"
    assert reopened.reopened == 1
    assert reopened.deadline == again + timedelta(hours=12)
    assert reopened.warn_at == again + timedelta(hours=10)
    assert reopened.window_closes == again + timedelta(hours=48)  # the user's new message reopens it
    assert reopened.answered_at is None
    assert reopened.received_at == SENT  # the record keeps when the inquiry first came
    assert [m.message_id for m in reopened.messages] == ["1", "2"]
    late = run(reopened, sent(again + timedelta(hours=13)))
    assert late.within_sla is False  # judged against the new clock, not the first answer


def test_writing_again_before_the_answer_joins_the_inquiry_and_keeps_its_clock() -> None:
    state = received()
    [event] = q.decide_inquiry(
        q.UserWrote(message_id="2", text="在吗？", sent_at=SENT + timedelta(hours=3)), state, POLICY
    )
    assert isinstance(event, q.FollowedUp)
    joined = q.evolve_inquiry(state, event)
    assert joined.deadline == SENT + timedelta(hours=12)
    assert [m.text for m in joined.messages] == ["请问几点开门？", "在吗？"]
    assert joined.reopened == 0


def test_a_message_already_kept_is_nothing_new() -> None:
    state = received()
    repeated = q.UserWrote(message_id="1", text="请问几点开门？", sent_at=SENT)
    assert q.decide_inquiry(repeated, state, POLICY) == []
    answered = run(state, sent(SENT + timedelta(hours=1)))
    assert q.decide_inquiry(repeated, answered, POLICY) == []


def test_reopening_needs_the_new_deadline() -> None:
    answered = run(received(), sent(SENT + timedelta(hours=1)))
    with pytest.raises(ValueError, match="deadline"):
        q.decide_inquiry(q.UserWrote(message_id="2", text="x", sent_at=SENT), answered, POLICY)


ESCALATING = policy_from_mapping({"R-ESCALATE-4H": {"enabled": True}})


def test_under_the_4h_option_an_unanswered_inquiry_is_reported_up_within_4h() -> None:
    state = received()
    report_at = SENT + timedelta(hours=3, minutes=30)
    assert q.next_due(state, POLICY) == SENT + timedelta(hours=10)  # the option is off by default
    assert q.next_due(state, ESCALATING) == report_at
    assert q.decide_inquiry(q.Tick(at=report_at - timedelta(minutes=1)), state, ESCALATING) == []
    [event] = q.decide_inquiry(q.Tick(at=report_at + timedelta(seconds=2)), state, ESCALATING)
    assert isinstance(event, q.Escalated)
    assert (event.to, event.by, event.within_rule) == (Role.OPERATIONS_MANAGER, "mediaops", True)
    reported = q.evolve_inquiry(state, event)
    assert q.next_due(reported, ESCALATING) == SENT + timedelta(hours=10)  # reported once
    answered = run(state, sent(SENT + timedelta(hours=1)))
    assert q.decide_inquiry(q.Tick(at=SENT + timedelta(hours=4)), answered, ESCALATING) == []


def test_a_person_reports_an_important_inquiry_up_and_the_record_says_if_in_time() -> None:
    state = received()
    early = q.decide_inquiry(
        q.Escalate(actor=STAFF, reason="质量投诉", at=SENT + timedelta(hours=1)), state, POLICY
    )
    assert [(e.within_rule, e.by, e.reason) for e in early] == [(True, "li.content", "质量投诉")]  # type: ignore[attr-defined]
    [late] = q.decide_inquiry(
        q.Escalate(actor=STAFF, reason="质量投诉", at=SENT + timedelta(hours=5)), state, POLICY
    )
    assert late.within_rule is False  # type: ignore[attr-defined]
    with pytest.raises(PermissionDenied):
        q.decide_inquiry(q.Escalate(actor=AUDITOR, reason="x", at=SENT), state, POLICY)
    with pytest.raises(DomainError, match="why"):
        q.decide_inquiry(q.Escalate(actor=STAFF, reason=" ", at=SENT), state, POLICY)
    answered = run(state, sent(SENT + timedelta(hours=1)))
    with pytest.raises(DomainError, match="answered"):
        q.decide_inquiry(q.Escalate(actor=STAFF, reason="x", at=SENT), answered, POLICY)


def test_a_reply_of_unknown_outcome_is_settled_by_a_person() -> None:
    replied_at = SENT + timedelta(hours=2)
    doubtful = run(
        received(),
        q.RecordReply(actor=STAFF, text="x", outcome=ReplyOutcome(state="unknown"), at=replied_at),
    )
    delivered = run(doubtful, q.ReconcileReply(actor=STAFF, delivered=True, at=SENT + timedelta(hours=14)))
    assert (delivered.status, delivered.answered_at, delivered.within_sla) == ("answered", replied_at, True)
    lost = run(doubtful, q.ReconcileReply(actor=STAFF, delivered=False, at=SENT + timedelta(hours=3)))
    assert lost.status == "open"
    assert (
        q.decide_inquiry(q.Reply(actor=STAFF, text="再发一次", at=SENT), lost, POLICY) == []
    )  # may reply again
    with pytest.raises(DomainError, match="unknown outcome"):
        q.decide_inquiry(q.ReconcileReply(actor=STAFF, delivered=True, at=SENT), lost, POLICY)
    with pytest.raises(PermissionDenied):
        q.decide_inquiry(q.ReconcileReply(actor=AUDITOR, delivered=True, at=SENT), doubtful, POLICY)


@pytest.mark.parametrize(
    ("ago", "backfilled", "refused"),
    [
        (timedelta(0), False, False),
        (-timedelta(minutes=4), False, False),  # a clock a little ahead of ours
        (-timedelta(minutes=6), False, True),  # the future
        (timedelta(days=6, hours=23), False, False),
        (timedelta(days=7, minutes=1), False, True),  # older than the bound, not said to be back-filled
        (timedelta(days=400), True, False),
    ],
)
def test_a_recorded_time_of_receipt_is_bounded(ago: timedelta, backfilled: bool, refused: bool) -> None:
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    if refused:
        with pytest.raises(DomainError) as caught:
            q.check_received_at(now - ago, now, POLICY, backfilled=backfilled)
        assert (caught.value.field, caught.value.kind) == ("received_at", "invalid")
    else:
        q.check_received_at(now - ago, now, POLICY, backfilled=backfilled)


def test_a_clock_started_past_its_deadline_breaches_once_and_then_waits() -> None:
    """A back-filled inquiry: its first tick is past the deadline, so the warning never comes.

    next_due went on naming the missed warning, a moment always past at which a Tick changed
    nothing: the workflow's clock loop spun without yielding, and Temporal failed its task on
    every try (found by issue 10's fuzzer, through POST /inquiries with `backfilled`).
    """
    breached = run(received(), q.Tick(at=SENT + timedelta(hours=13)))
    assert (breached.status, breached.warned) == ("breached", False)
    assert q.next_due(breached, POLICY) == SENT + timedelta(hours=42)  # the WeChat window's escalation


@given(
    hours=st.lists(st.floats(min_value=0, max_value=100, allow_nan=False), min_size=1, max_size=6),
    platform=st.sampled_from([Platform.WECHAT, Platform.WEIBO, "phone"]),
    policy=st.sampled_from([POLICY, ESCALATING]),
)
def test_after_a_tick_nothing_is_due_at_or_before_it(
    hours: list[float], platform: Platform | str, policy: Policy
) -> None:
    """What next_due names, a Tick acts on: else the clock loop waits 0 s on it, again and again."""
    state = received(platform)
    for at in sorted(SENT + timedelta(hours=h) for h in hours):
        for event in q.decide_inquiry(q.Tick(at=at), state, policy):
            state = q.evolve_inquiry(state, event)
        due = q.next_due(state, policy)
        assert due is None or due > at, (state, at)
