"""The inquiry workflow on the time-skipping dev server: its clock moved to exact moments."""

import asyncio
import dataclasses
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.calendar import CalendarActivities, InquiryDeadlineRequest
from domain import inquiries as q
from domain.platforms import Platform
from domain.policy import Policy, policy_from_mapping
from domain.roles import Role
from eventstore.store import EventStore
from mediaops.settings import Settings
from tests.identity_support import SIGNER, in_directory, intake_proof, refusal, signed, user_wrote
from tests.platforms_support import Fakes, running_fakes
from workers.worker import build_worker, platform_workers
from workflows import search_attributes as sa
from workflows.contracts import Carried, InquiryStart, InquiryView
from workflows.inquiry import InquiryWorkflow

QUEUE = "inquiries-test"
DOWN = "http://127.0.0.1:9/cgi-bin/webhook/send?key=k"
"""The chat webhook is down for this module: warnings and breaches are recorded on time anyway (H9)."""
STAFF = q.Responder(id="li.content", roles=frozenset({Role.CONTENT_SPECIALIST}))
AUDITOR = q.Responder(id="audit", roles=frozenset({Role.AUDITOR}))
MANAGER = q.Responder(id="wang.manager", roles=frozenset({Role.OPERATIONS_MANAGER}))


class World:
    def __init__(
        self, env: WorkflowEnvironment, fakes: Fakes, store: EventStore, workers: AsyncExitStack
    ) -> None:
        self.env, self.fakes, self.store, self.workers = env, fakes, store, workers

    async def department(self, policy: Policy) -> str:
        """A worker running under `policy` (a department's policy.toml), on a queue of its own."""
        queue = f"{QUEUE}-{uuid.uuid4().hex[:6]}"
        worker = build_worker(self.env.client, Settings(task_queue=queue), policy, self.store)
        await self.workers.enter_async_context(worker)
        return queue


@pytest.fixture(scope="module")
async def world(temporal_timeskip: WorkflowEnvironment, store: EventStore) -> AsyncIterator[World]:
    async with store.pool.acquire() as conn:
        await in_directory(conn, STAFF, AUDITOR, MANAGER)
    async with running_fakes() as fakes, AsyncExitStack() as stack:
        for worker in [
            build_worker(
                temporal_timeskip.client, Settings(task_queue=QUEUE, notify_webhook=DOWN), Policy(), store
            ),
            *platform_workers(temporal_timeskip.client, Policy(), fakes.accounts, store.pool),
        ]:
            await stack.enter_async_context(worker)
        yield World(temporal_timeskip, fakes, store, stack)


async def start(
    world: World,
    platform: Platform | str = "phone",
    policy: Policy | None = None,
    user: str = "o_user",
    sent_at: datetime | None = None,
) -> WorkflowHandle[InquiryWorkflow, InquiryView]:
    msg = uuid.uuid4().hex[:10]
    now = sent_at or datetime.now(UTC)
    received = q.InquiryReceived(
        platform=platform,
        account="demo",
        message_id=msg,
        user=user,
        text="请问几点开门？",
        sent_at=now,
        detected_at=now,
    )
    queue = QUEUE if policy is None else await world.department(policy)
    with world.env.with_time_skipping_disabled():  # type: ignore[attr-defined]
        return await world.env.client.start_workflow(
            InquiryWorkflow.run,
            InquiryStart(received=received, proof=intake_proof(q.inquiry_id(platform, msg), received)),  # type: ignore[arg-type]
            id=q.inquiry_id(platform, msg),  # type: ignore[arg-type]
            task_queue=queue,
        )


async def types(world: World, handle: WorkflowHandle[InquiryWorkflow, InquiryView]) -> list[str]:
    return [e.type for e in await world.store.read_stream(handle.id)]


async def advance(world: World, handle: WorkflowHandle[InquiryWorkflow, InquiryView], by: timedelta) -> None:
    await world.env.fast_forward(handle, by)  # type: ignore[attr-defined]


async def test_warning_at_10h_then_breach_and_escalation_at_12h(world: World) -> None:
    handle = await start(world)
    await advance(world, handle, timedelta(hours=9, minutes=50))
    assert "inquiry.warned" not in await types(world, handle)
    await advance(world, handle, timedelta(minutes=20))
    assert (await handle.query(InquiryWorkflow.current)).status == "at_risk"
    await advance(world, handle, timedelta(hours=2))
    recorded = await types(world, handle)
    assert recorded[:4] == ["inquiry.received", "inquiry.sla_started", "inquiry.warned", "inquiry.breached"]
    assert (await handle.query(InquiryWorkflow.current)).status == "breached"
    await handle.execute_update(
        InquiryWorkflow.close,
        signed(
            handle.id,
            q.Close(
                actor=MANAGER,
                reason="spam",
                at=datetime.now(UTC),
            ),
        ),
    )


@pytest.mark.parametrize(
    ("after", "within"), [(timedelta(hours=11, minutes=59), True), (timedelta(hours=12, minutes=1), False)]
)
async def test_a_reply_at_1159_counts_and_at_1201_does_not(
    world: World, after: timedelta, within: bool
) -> None:
    handle = await start(world)
    await advance(world, handle, after - timedelta(seconds=30))  # less a margin for the test's own seconds
    view = await handle.execute_update(
        InquiryWorkflow.reply,
        signed(handle.id, q.Reply(actor=STAFF, text="您好，九点开门。", at=datetime.now(UTC))),
    )
    assert view.status == "answered"
    assert view.inquiry.within_sla is within
    await advance(world, handle, Policy().inquiry_12h.reopen_within)  # nobody wrote again: it ends
    result = await handle.result()
    assert result.inquiry.replies[0].latency_s // 60 in (
        int(after.total_seconds()) // 60 - 1,
        int(after.total_seconds()) // 60,
    )


async def until(
    handle: WorkflowHandle[InquiryWorkflow, InquiryView], check: object, *, tries: int = 100
) -> InquiryView:
    """The inquiry's view once `check` holds, asked every 0.1 s (`tries` times at most)."""
    for _ in range(tries):
        view = await handle.query(InquiryWorkflow.current)
        if check(view):  # type: ignore[operator]
            return view
        await asyncio.sleep(0.1)
    raise AssertionError(f"the inquiry never got there: {view.status}, {len(view.inquiry.messages)} messages")


async def test_a_user_who_writes_again_after_the_answer_reopens_it_with_a_new_clock(world: World) -> None:
    handle = await start(world)
    await advance(world, handle, timedelta(hours=1))
    answered = await handle.execute_update(
        InquiryWorkflow.reply,
        signed(handle.id, q.Reply(actor=STAFF, text="您好，九点开门。", at=datetime.now(UTC))),
    )
    assert answered.inquiry.within_sla is True
    assert answered.inquiry.answered_at is not None
    await advance(world, handle, timedelta(hours=2))
    again = answered.inquiry.answered_at + timedelta(hours=2)
    await handle.signal(
        InquiryWorkflow.user_wrote,
        user_wrote(handle.id, q.Message(message_id="m2", text="周日呢？", sent_at=again)),
    )
    await handle.signal(
        InquiryWorkflow.user_wrote,
        user_wrote(handle.id, q.Message(message_id="m2", text="周日呢？", sent_at=again)),
    )
    reopened = await until(handle, lambda v: v.inquiry.reopened == 1 and v.inquiry.deadline)
    assert reopened.status == "open"
    assert reopened.inquiry.deadline == again + timedelta(hours=12)  # a new clock from the new message
    assert [m.message_id for m in reopened.inquiry.messages][1:] == ["m2"]  # the repeat is kept once
    await advance(world, handle, timedelta(hours=10, minutes=5))
    assert (await until(handle, lambda v: v.inquiry.warned)).status == "at_risk"
    second = await handle.execute_update(
        InquiryWorkflow.reply,
        signed(handle.id, q.Reply(actor=STAFF, text="周日也营业。", at=datetime.now(UTC))),
    )
    assert (second.status, second.inquiry.within_sla) == ("answered", True)
    await advance(world, handle, Policy().inquiry_12h.reopen_within)
    result = await handle.result()
    assert [r.within_sla for r in result.inquiry.replies] == [True, True]
    recorded = await types(world, handle)
    assert recorded.count("inquiry.sla_started") == 2
    assert recorded.count("inquiry.reopened") == 1


async def test_under_the_4h_option_an_unanswered_inquiry_is_reported_up(world: World) -> None:
    """R-ESCALATE-4H: reported to the operations manager by the clock, and by a person who judges it so."""
    handle = await start(world, policy=policy_from_mapping({"R-ESCALATE-4H": {"enabled": True}}))
    await advance(world, handle, timedelta(hours=3, minutes=20))
    assert "inquiry.escalated" not in await types(world, handle)
    await advance(world, handle, timedelta(minutes=20))  # reported at 3:30, within the 4 hours
    view = await until(handle, lambda v: v.inquiry.escalated)
    assert view.status == "open"  # reported up, still to be answered
    [escalated] = [e for e in await world.store.read_stream(handle.id) if e.type == "inquiry.escalated"]
    assert (escalated.data["by"], escalated.data["to"], escalated.data["within_rule"]) == (
        "mediaops",
        "operations_manager",
        True,
    )
    by_hand = await start(world)
    reported = await by_hand.execute_update(
        InquiryWorkflow.escalate,
        signed(by_hand.id, q.Escalate(actor=STAFF, reason="质量投诉", at=datetime.now(UTC))),
    )
    assert reported.inquiry.escalated
    with pytest.raises(WorkflowUpdateFailedError):
        await by_hand.execute_update(
            InquiryWorkflow.escalate,
            signed(by_hand.id, q.Escalate(actor=AUDITOR, reason="x", at=datetime.now(UTC))),
        )


async def test_a_wechat_reply_reaches_the_platform_once(world: World) -> None:
    user = f"o_{uuid.uuid4().hex[:8]}"
    await world.fakes.post(
        Platform.WECHAT, "user-message", {"appid": "wxdemo0000000001", "openid": user, "text": "在吗"}
    )
    handle = await start(world, Platform.WECHAT)
    # the workflow's record says user "o_user"; make it the user who wrote to the fake
    await handle.execute_update(
        InquiryWorkflow.assign,
        signed(handle.id, q.Assign(actor=STAFF, assignee="li.content", at=datetime.now(UTC))),
    )
    assert (await handle.query(InquiryWorkflow.current)).inquiry.assignee == "li.content"
    await world.fakes.post(
        Platform.WECHAT, "user-message", {"appid": "wxdemo0000000001", "openid": "o_user", "text": "在吗"}
    )
    view = await handle.execute_update(
        InquiryWorkflow.reply,
        signed(handle.id, q.Reply(actor=STAFF, text="在的，请讲。", at=datetime.now(UTC))),
    )
    assert view.status == "answered"
    sent = [
        m
        for m in (await world.fakes.state(Platform.WECHAT))["messages_sent"]
        if m.get("text") == "在的，请讲。"
    ]  # type: ignore[union-attr]
    assert len(sent) == 1


async def test_a_reply_the_platform_refuses_is_recorded_and_told(world: World) -> None:
    """The fake WeChat never heard from this user: no reply window (45015). The person hears why."""
    handle = await start(world, Platform.WECHAT, user=f"o_{uuid.uuid4().hex[:8]}")
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(
            InquiryWorkflow.reply, signed(handle.id, q.Reply(actor=STAFF, text="您好", at=datetime.now(UTC)))
        )
    assert "45015" in refusal(refused.value).message
    assert refusal(refused.value).rule == "R-INQUIRY-12H"
    assert "inquiry.reply_failed" in await types(world, handle)
    assert (await handle.query(InquiryWorkflow.current)).status == "open"  # still to be answered


async def test_a_reply_whose_answer_was_lost_waits_for_a_person(world: World) -> None:
    """The platform took the reply but the answer never came back: not retried, not counted; a person
    checks and says it arrived, and the inquiry is answered as of the reply."""
    user = f"o_{uuid.uuid4().hex[:8]}"
    await world.fakes.post(
        Platform.WECHAT,
        "user-message",
        {"appid": "wxdemo0000000001", "openid": user, "text": "在吗", "deliver": False},
    )
    handle = await start(world, Platform.WECHAT, user=user)
    fault = {"path": "/cgi-bin/message/custom/send", "kind": "timeout_after_accept"}
    await world.fakes.post(Platform.WECHAT, "faults", fault)
    doubtful = await handle.execute_update(
        InquiryWorkflow.reply, signed(handle.id, q.Reply(actor=STAFF, text="在的。", at=datetime.now(UTC)))
    )
    assert (doubtful.status, doubtful.inquiry.reply_in_doubt) == ("open", True)
    with pytest.raises(WorkflowUpdateFailedError):  # not a second message before someone has looked
        await handle.execute_update(
            InquiryWorkflow.reply,
            signed(handle.id, q.Reply(actor=STAFF, text="在的。", at=datetime.now(UTC))),
        )
    settled = await handle.execute_update(
        InquiryWorkflow.reconcile_reply,
        signed(handle.id, q.ReconcileReply(actor=STAFF, delivered=True, at=datetime.now(UTC))),
    )
    assert (settled.status, settled.inquiry.within_sla) == ("answered", True)
    sent = [m for m in (await world.fakes.state(Platform.WECHAT))["messages_sent"] if m.get("touser") == user]  # type: ignore[union-attr]
    assert len(sent) == 1


async def test_an_auditor_reply_and_an_empty_reply_are_refused(world: World) -> None:
    handle = await start(world)
    with pytest.raises(WorkflowUpdateFailedError):
        await handle.execute_update(
            InquiryWorkflow.reply,
            signed(handle.id, q.Reply(actor=AUDITOR, text="你好", at=datetime.now(UTC))),
        )
    with pytest.raises(WorkflowUpdateFailedError):
        await handle.execute_update(
            InquiryWorkflow.reply, signed(handle.id, q.Reply(actor=STAFF, text="  ", at=datetime.now(UTC)))
        )
    assert (await handle.query(InquiryWorkflow.current)).status == "open"


async def test_the_working_hours_clock_runs_across_a_make_up_saturday(world: World) -> None:
    """On the time-skipping server: from today to Friday a holiday, Saturday a make-up working day
    (调休, announced in the policy as the State Council announces them), Sunday off, Monday at work.
    12 working hours: 9 on the Saturday, 3 on Monday; warned 2 hours before, breached at noon."""
    beijing = ZoneInfo("Asia/Shanghai")
    today = datetime.now(beijing).date()
    saturday = today + timedelta(days=2 + (5 - (today + timedelta(days=2)).weekday()) % 7)
    holidays = [today + timedelta(days=n) for n in range((saturday - today).days)] + [
        saturday + timedelta(days=1)
    ]
    policy = policy_from_mapping(
        {
            "R-INQUIRY-12H": {"clock": "working_hours"},
            "P-WORKING-HOURS": {
                "holidays": [d.isoformat() for d in holidays],
                "workdays": [saturday.isoformat(), (saturday + timedelta(days=2)).isoformat()],
            },
        }
    )
    handle = await start(world, policy=policy)
    view = await until(handle, lambda v: v.inquiry.deadline is not None)
    due = datetime.combine(saturday + timedelta(days=2), time(12), beijing)
    assert view.inquiry.deadline == due
    await advance(world, handle, due - timedelta(hours=2, minutes=10) - datetime.now(UTC))
    assert (await handle.query(InquiryWorkflow.current)).status == "open"  # the weekend did not count
    await advance(world, handle, timedelta(minutes=20))
    assert (await until(handle, lambda v: v.inquiry.warned)).status == "at_risk"
    await advance(world, handle, timedelta(hours=2))
    assert (await until(handle, lambda v: v.inquiry.breached)).status == "breached"


async def test_the_working_hours_option_across_a_make_up_weekend() -> None:
    """Fri 13 Feb 2026 17:00 Beijing: 1 h that day, 9 h on the make-up Saturday, then the holiday."""
    policy = policy_from_mapping({"R-INQUIRY-12H": {"clock": "working_hours"}})
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, workflow_id="inquiry-x", workflow_run_id="r")
    due = await env.run(
        CalendarActivities(policy).inquiry_deadline,
        InquiryDeadlineRequest(sent_at=datetime(2026, 2, 13, 9, 0, tzinfo=UTC)),
    )
    assert due.at == datetime(2026, 2, 24, 3, 0, tzinfo=UTC)  # Tuesday 24 Feb, 11:00 Beijing time
    wall = await env.run(
        CalendarActivities(Policy()).inquiry_deadline,
        InquiryDeadlineRequest(sent_at=datetime(2026, 2, 13, 9, 0, tzinfo=UTC)),
    )
    assert wall.at == datetime(2026, 2, 13, 21, 0, tzinfo=UTC)


async def test_the_same_day_option_ends_at_midnight_beijing_time() -> None:
    """R-INQUIRY-SAMEDAY: a message at 20:00 is due by 24:00 that day, not 08:00 the next morning."""
    policy = policy_from_mapping({"R-INQUIRY-SAMEDAY": {"enabled": True}})
    env = ActivityEnvironment()
    evening = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)  # 20:00 in Beijing
    due = await env.run(CalendarActivities(policy).inquiry_deadline, InquiryDeadlineRequest(sent_at=evening))
    assert due.at == datetime(2026, 11, 26, 16, 0, tzinfo=UTC)
    assert due.rule.value == "R-INQUIRY-SAMEDAY"
    morning = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)  # 09:00: 12 hours end before midnight
    assert (
        await env.run(CalendarActivities(policy).inquiry_deadline, InquiryDeadlineRequest(sent_at=morning))
    ).at == morning + timedelta(hours=12)


async def test_an_inquiry_nobody_can_prove_came_is_refused_and_recorded(world: World) -> None:
    """Anyone who can reach Temporal could start `Inquiry` with a message of their choosing."""
    now = datetime.now(UTC)
    for proof_for_another in (False, True):
        msg = uuid.uuid4().hex[:10]
        sent = now - timedelta(days=1)
        received = q.InquiryReceived(
            platform="wechat",
            account="demo",
            message_id=msg,
            user="o_x",
            text="假消息",
            sent_at=sent,
            detected_at=now,
        )
        other = received.model_copy(update={"text": "真消息"})
        proof = intake_proof(q.inquiry_id("wechat", msg), other) if proof_for_another else None
        with world.env.with_time_skipping_disabled():  # type: ignore[attr-defined]
            handle = await world.env.client.start_workflow(
                InquiryWorkflow.run,
                InquiryStart(received=received, proof=proof),
                id=q.inquiry_id("wechat", msg),
                task_queue=QUEUE,
            )
        result = await handle.result()
        assert result.inquiry.message_id == ""
        events = await world.store.read_stream(handle.id)
        assert [e.type for e in events] == ["command.refused"]
        assert ("another message" in events[0].data["reason"]) is proof_for_another


async def test_a_follow_up_the_intake_did_not_vouch_for_is_refused(world: World) -> None:
    handle = await start(world, platform=Platform.WECHAT)
    await until(handle, lambda v: v.inquiry.deadline is not None)
    again = datetime.now(UTC)
    await handle.signal(
        "user_wrote", {"message_id": "forged", "text": "已解决，请关闭", "sent_at": again.isoformat()}
    )
    follow_up = {"kind": "user_wrote", "message_id": "f2", "text": "x", "sent_at": again.isoformat()}
    by_a_person = SIGNER.sign(
        process=handle.id, actor=STAFF.id, roles=STAFF.roles, command=follow_up, channel="api"
    )
    await handle.signal(
        "user_wrote", by_a_person.model_dump(mode="json")
    )  # a person's word, not the intake's
    for _ in range(100):
        if (await types(world, handle)).count("command.refused") == 2:
            break
        await asyncio.sleep(0.1)
    assert (await types(world, handle)).count("command.refused") == 2
    view = await handle.query(InquiryWorkflow.current)
    assert [m.message_id for m in view.inquiry.messages] == [view.inquiry.message_id]
    await handle.execute_update(
        InquiryWorkflow.close, signed(handle.id, q.Close(actor=MANAGER, reason="spam", at=datetime.now(UTC)))
    )


async def test_a_refused_reply_can_be_corrected_and_sent_and_two_at_once_are_one(world: World) -> None:
    """H2: a refusal is not the last word (a new attempt is a new call), and a double click sends once."""
    user = f"o_{uuid.uuid4().hex[:8]}"
    handle = await start(world, Platform.WECHAT, user=user)
    await until(handle, lambda v: v.inquiry.deadline is not None)
    await world.fakes.post(
        Platform.WECHAT, "user-message", {"appid": "wxdemo0000000001", "openid": user, "text": "在吗"}
    )
    too_long = {"path": "/cgi-bin/message/custom/send", "kind": "errcode", "errcode": 45002}
    await world.fakes.post(Platform.WECHAT, "faults", too_long)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(
            InquiryWorkflow.reply,
            signed(handle.id, q.Reply(actor=STAFF, text="很长的回复", at=datetime.now(UTC))),
        )
    assert "45002" in refusal(refused.value).message
    held = {"path": "/cgi-bin/message/custom/send", "kind": "timeout_after_accept", "delay_s": 2}
    await world.fakes.post(Platform.WECHAT, "faults", held)  # the corrected reply is accepted, slowly
    first = asyncio.ensure_future(
        handle.execute_update(
            InquiryWorkflow.reply,
            signed(handle.id, q.Reply(actor=STAFF, text="短的回复", at=datetime.now(UTC))),
        )
    )
    await asyncio.sleep(0.5)
    with pytest.raises(WorkflowUpdateFailedError) as twice:
        await handle.execute_update(
            InquiryWorkflow.reply,
            signed(handle.id, q.Reply(actor=STAFF, text="短的回复", at=datetime.now(UTC))),
        )
    assert (refusal(twice.value).kind, "another reply" in refusal(twice.value).message) == ("conflict", True)
    answered = await first
    assert answered.inquiry.replies[-1].outcome.state in ("sent", "unknown")
    sent = [m for m in (await world.fakes.state(Platform.WECHAT))["messages_sent"] if m.get("touser") == user]  # type: ignore[union-attr]
    assert [m["text"] for m in sent] == ["短的回复"]


@dataclasses.dataclass(frozen=True)
class LocalActivity:
    activity_type: str
    failed: bool


def local_activities(history: list[HistoryEvent]) -> list[LocalActivity]:
    """The local activities a history records, from their markers (core's own JSON, not encoded)."""
    found = []
    for e in history:
        marker = e.marker_recorded_event_attributes
        if (
            e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
            and marker.marker_name == "core_local_activity"
        ):
            data = json.loads(marker.details["data"].payloads[0].data)
            found.append(
                LocalActivity(activity_type=data["activity_type"], failed=marker.HasField("failure"))
            )
    return found


async def test_an_answered_inquiry_makes_three_trips_through_the_server(world: World) -> None:
    """The short reads (the policy, the identity checks, the calendar) run as local activities in
    the worker, and the message is recorded with its clock in one append: one WeChat inquiry,
    recorded and answered, schedules two appends and its reply, and its record is whole."""
    handle = await start(world, Platform.WECHAT)
    await handle.execute_update(
        InquiryWorkflow.reply,
        signed(handle.id, q.Reply(actor=STAFF, text="您好，请讲。", at=datetime.now(UTC))),
    )
    history = [e async for e in handle.fetch_history_events()]
    scheduled = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    assert scheduled == ["eventstore.append", "platform.reply", "eventstore.append"]
    assert [m.activity_type for m in local_activities(history)] == [
        "policy.in_force",
        "identity.authenticate",
        "calendar.inquiry_deadline",
        "identity.authenticate",
    ]
    recorded = await world.store.read_stream(handle.id)
    assert [e.type for e in recorded] == ["inquiry.received", "inquiry.sla_started", "inquiry.replied"]
    assert [e.metadata["actor"] for e in recorded] == ["wechat:o_user", "mediaops", STAFF.id]
    await handle.terminate("test done")


async def test_a_step_that_keeps_failing_flags_the_inquiry_and_it_waits_visibly(world: World) -> None:
    """A year China's calendar does not know, under a policy that refuses to guess: the deadline
    cannot be computed. The inquiry is not failed nor retried in silence: it records the step and
    the failure's type, is listed by `NeedsAttention`, and asks again later."""
    policy = policy_from_mapping(
        {"R-INQUIRY-12H": {"clock": "working_hours"}, "P-WORKING-HOURS": {"unknown_year": "error"}}
    )
    handle = await start(world, policy=policy, sent_at=datetime(2031, 3, 3, 2, 0, tzinfo=UTC))
    for _ in range(100):
        if "process.needs_attention" in await types(world, handle):
            break
        await asyncio.sleep(0.1)
    [flagged] = [e for e in await world.store.read_stream(handle.id) if e.type == "process.needs_attention"]
    assert (flagged.data["step"], flagged.data["failure"], flagged.data["rule"]) == (
        "calendar",
        "CalendarYearUnknown",
        "R-INQUIRY-12H",
    )
    described = await handle.describe()
    assert described.status == WorkflowExecutionStatus.RUNNING
    assert described.typed_search_attributes.get(sa.NEEDS_ATTENTION) is True
    await advance(world, handle, timedelta(minutes=35))  # asked again after 10, then 20 minutes more
    history = [e async for e in handle.fetch_history_events()]
    failed = [m for m in local_activities(history) if m.failed]
    # one attempt each (a data error is not retried): at once with the message, then before the
    # flag, then ever less often
    assert [m.activity_type for m in failed] == ["calendar.inquiry_deadline"] * 4
    assert not [e for e in history if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED]
    recorded = [e.type for e in await world.store.read_stream(handle.id)]
    assert recorded == ["inquiry.received", "process.needs_attention"]  # the message, whatever the calendar
    await handle.terminate("test done")


async def test_a_chatty_inquiry_continues_as_new_and_keeps_every_message(world: World) -> None:
    """A user who writes on and on: the run's history stays bounded, the record stays whole."""
    handle = await start(world)
    await until(handle, lambda v: v.inquiry.deadline)
    sent = datetime.now(UTC)
    for batch in range(0, 300, 20):
        await asyncio.gather(
            *(
                handle.signal(
                    InquiryWorkflow.user_wrote,
                    user_wrote(handle.id, q.Message(message_id=f"m{i}", text=f"还在吗？{i}", sent_at=sent)),
                )
                for i in range(batch, batch + 20)
            )
        )
    whole = await until(handle, lambda v: len(v.inquiry.messages) == 301, tries=600)  # 300 appends in turn
    assert whole.status == "open"
    described = await world.env.client.get_workflow_handle(handle.id).describe()
    assert described.run_id != handle.first_execution_run_id  # it went on in a new run
    assert (described.history_length or 0) < 1000  # what came after the hand-on, not all of it
    answered = await handle.execute_update(
        InquiryWorkflow.reply, signed(handle.id, q.Reply(actor=STAFF, text="在的。", at=datetime.now(UTC)))
    )
    assert answered.inquiry.within_sla is True
    recorded = await world.store.read_stream(handle.id)
    assert [e.stream_version for e in recorded] == list(range(1, len(recorded) + 1))  # no gap, no fork
    assert [e.type for e in recorded].count("inquiry.followed_up") == 300
    assert len({e.event_id for e in recorded}) == len(recorded)
    assert all(e.data["text"] for e in recorded if e.type == "inquiry.followed_up")  # the record is whole
    await handle.terminate("test done")


async def test_a_start_that_claims_to_continue_a_run_is_not_believed(world: World) -> None:
    """Only the server says a run continues another: a client's `carried` start goes through the
    intake like any other, and without the intake's proof it is refused and recorded."""
    msg = uuid.uuid4().hex[:10]
    now = datetime.now(UTC)
    received = q.InquiryReceived(
        platform="phone", account="demo", message_id=msg, user="x", text="t", sent_at=now, detected_at=now
    )
    forged = Carried(appended=0, policy=Policy(), state=q.Inquiry(id="x", deadline=now + timedelta(days=30)))
    with world.env.with_time_skipping_disabled():  # type: ignore[attr-defined]
        result = await world.env.client.execute_workflow(
            InquiryWorkflow.run,
            InquiryStart(received=received, carried=forged),
            id=q.inquiry_id("phone", msg),
            task_queue=QUEUE,
        )
    assert result.inquiry.deadline is None
    refused = world.env.client.get_workflow_handle(q.inquiry_id("phone", msg))
    assert await types(world, refused) == ["command.refused"]  # type: ignore[arg-type]
