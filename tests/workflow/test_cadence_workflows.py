"""Cadence (R-CADENCE-*, P-CADENCE-CHECK), the register and the meetings' schedules on the
time-skipping dev server.

A cadence period's clock skips to its alert time and its close as soon as it only waits on them,
so a week runs in seconds. The posts it counts are articles' `article.publication_recorded`
events in the real event store, as the article workflow records them; who owns the subject comes
from the register's own workflow, changed by a signed command.
"""

import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from temporalio.client import WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.testing import WorkflowEnvironment

from audit.check import Period as CheckPeriod
from audit.check import check_rules
from domain import articles as a
from domain import cadence as c
from domain import department as d
from domain.outcomes import PublishOutcome
from domain.periods import containing
from domain.platforms import Platform
from domain.policy import Policy
from domain.roles import Role
from eventstore.store import EventStore, NewEvent, RecordedEvent
from mediaops.settings import Settings
from tests.identity_support import in_directory, signed
from workers.schedules import ensure_rulebook_schedules
from workers.worker import build_worker
from workflows.cadence import CadenceWorkflow
from workflows.contracts import CadenceStart, CadenceView, DepartmentStart
from workflows.department import DepartmentWorkflow

MANAGER = a.Actor(id="wang.manager", roles=frozenset({Role.OPERATIONS_MANAGER}))
OWNER = a.Actor(id="li.web", roles=frozenset({Role.CONTENT_SPECIALIST}))
QUEUE = "cadence-test"
BEIJING = ZoneInfo("Asia/Shanghai")
POLICY = Policy()
CLOSE = timedelta(seconds=2)


@pytest.fixture(scope="module")
async def env(
    temporal_timeskip: WorkflowEnvironment, store: EventStore
) -> AsyncIterator[WorkflowEnvironment]:
    async with store.pool.acquire() as conn:
        await in_directory(conn, MANAGER, OWNER)
    async with AsyncExitStack() as stack:
        worker = build_worker(temporal_timeskip.client, Settings(task_queue=QUEUE), POLICY, store)
        await stack.enter_async_context(worker)
        yield temporal_timeskip


async def published(store: EventStore, platform: Platform, at: datetime, category: str = "news") -> str:
    """An article's submission and its publication on `platform` at `at`, as its workflow records them."""
    article_id = uuid.uuid4().hex[:10]
    content = a.Content(title="周报", body="<p>本周动态</p>", category=category, platforms=(platform,))  # type: ignore[arg-type]
    submitted = a.Submitted(
        article_id=article_id,
        author=OWNER.id,
        version=1,
        content=content,
        content_hash=content.digest(),
        at=at - timedelta(hours=1),
    )
    out = a.PublicationRecorded(
        version=1, platform=platform, outcome=PublishOutcome(state="published", url="https://x"), at=at
    )
    await store.append(
        f"article-{article_id}",
        0,
        [NewEvent(uuid.uuid4(), e.type, e.payload(), {"actor": "mediaops"}) for e in (submitted, out)],
    )
    return article_id


def subject(key: str) -> c.Subject:
    return next(s for s in c.subjects(POLICY) if s.key == key)


async def events_of(store: EventStore, stream: str, kind: str) -> list[RecordedEvent]:
    return [e for e in await store.read_stream(stream) if e.type == kind]


def at(event: RecordedEvent) -> datetime:
    return datetime.fromisoformat(event.data["at"])


async def cadence(
    env: WorkflowEnvironment, subject: c.Subject, first: date
) -> WorkflowHandle[CadenceWorkflow, CadenceView]:
    workflow_id = f"{c.stream_of(subject.key, c.Period(subject.kind, first))}-{uuid.uuid4().hex[:6]}"
    return await env.client.start_workflow(
        CadenceWorkflow.run, CadenceStart(subject=subject, first_day=first), id=workflow_id, task_queue=QUEUE
    )


async def test_a_week_with_two_website_posts_is_at_risk_on_sunday_20_00_and_missed_at_24_00(
    env: WorkflowEnvironment, store: EventStore
) -> None:
    week = containing("week", datetime.now(UTC), BEIJING).following()  # next week: wholly ahead of us
    register = await env.client.start_workflow(
        DepartmentWorkflow.run,
        DepartmentStart(),
        id=d.REGISTER_ID,
        task_queue=QUEUE,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    assign = d.AssignOwner(
        actor=MANAGER, subject="website", user=OWNER.id, starts_on=week.first, at=datetime.now(UTC)
    )
    await register.execute_update(DepartmentWorkflow.change, signed(d.REGISTER_ID, assign))
    tuesday = datetime.combine(week.first + timedelta(days=1), datetime.min.time(), BEIJING) + timedelta(
        hours=10
    )
    for day in (0, 2):
        await published(store, Platform.WEBSITE, tuesday + timedelta(days=day))
    await published(store, Platform.WEBSITE, tuesday - timedelta(days=2))  # the week before: not counted

    handle = await cadence(env, subject("website"), week.first)
    result = await handle.result()

    sunday = week.last
    [risk] = await events_of(store, handle.id, "cadence.at_risk")
    assert abs(at(risk) - datetime.combine(sunday, datetime.min.time(), BEIJING).replace(hour=20)) < CLOSE
    assert (risk.data["count"], risk.data["target"], risk.data["owner"]) == (2, 3, OWNER.id)
    [closed] = await events_of(store, handle.id, "cadence.closed")
    assert (
        abs(at(closed) - datetime.combine(sunday + timedelta(days=1), datetime.min.time(), BEIJING)) < CLOSE
    )
    assert (closed.data["verdict"], closed.data["count"], closed.data["target"]) == ("missed", 2, 3)
    assert closed.data["owner"] == OWNER.id
    assert closed.metadata["rule_ids"] == ["R-CADENCE-WEB"]
    assert result.period.status == "missed"

    # the audit judges the period again from the posts it counted, and agrees
    check = CheckPeriod(
        start=week.start(BEIJING), end=week.end(BEIJING), as_of=week.end(BEIJING) + timedelta(days=1)
    )
    async with store.pool.acquire() as conn:
        findings = await check_rules(conn, check, POLICY)
    web = next(r for r in findings.rules if r.rule == "R-CADENCE-WEB")
    assert (web.checked, web.broken) == (1, 1)
    assert any(b.stream_id == handle.id and "2 of 3 posts" in b.detail for b in web.breaches)
    assert not [d for d in findings.disagreements if d.stream_id == handle.id]


async def test_a_day_with_a_wechat_post_is_met(env: WorkflowEnvironment, store: EventStore) -> None:
    day = containing("day", datetime.now(UTC), BEIJING).following()
    noon = datetime.combine(day.first, datetime.min.time(), BEIJING) + timedelta(hours=12)
    article_id = await published(store, Platform.WECHAT, noon)
    handle = await cadence(env, subject("wechat"), day.first)
    result = await handle.result()
    assert result.period.status == "met"
    assert await events_of(store, handle.id, "cadence.at_risk") == []
    [closed] = await events_of(store, handle.id, "cadence.closed")
    assert closed.data["articles"] == [article_id]
    assert (
        abs(at(closed) - datetime.combine(day.last + timedelta(days=1), datetime.min.time(), BEIJING)) < CLOSE
    )


async def test_a_day_off_owes_nothing_when_the_policy_counts_working_days(
    temporal_timeskip: WorkflowEnvironment, store: EventStore
) -> None:
    policy = Policy.model_validate({"R-CADENCE-DAILY": {"days": "working_days"}})
    queue = f"{QUEUE}-workdays"
    worker = build_worker(temporal_timeskip.client, Settings(task_queue=queue), policy, store)
    weibo = next(s for s in c.subjects(policy) if s.key == "weibo")
    async with worker:
        result = await temporal_timeskip.client.execute_workflow(
            CadenceWorkflow.run,
            CadenceStart(subject=weibo, first_day=date(2026, 10, 3)),  # National Day
            id=f"cadence-weibo-2026-10-03-{uuid.uuid4().hex[:6]}",
            task_queue=queue,
        )
    assert result.period.verdict == "not_owed"


async def test_the_monday_14_30_meeting_in_asia_shanghai_is_06_30_utc_and_its_report_made_before(
    env: WorkflowEnvironment,
) -> None:
    await ensure_rulebook_schedules(env.client, QUEUE, POLICY)
    described = await env.client.get_schedule_handle("report-weekly").describe()
    fires = described.info.next_action_times[0].astimezone(UTC)
    assert fires.weekday() == 0  # a Monday in UTC as in Beijing (14:20 is 06:20 UTC)
    meeting = fires + POLICY.weekly.prepare_before
    assert (meeting.hour, meeting.minute) == (6, 30)
    assert (meeting.astimezone(BEIJING).hour, meeting.astimezone(BEIJING).minute) == (14, 30)
    monthly = (await env.client.get_schedule_handle("report-monthly").describe()).info.next_action_times[0]
    assert monthly.astimezone(BEIJING).day == 1
    assert (monthly + POLICY.monthly.prepare_before).astimezone(BEIJING).strftime("%H:%M") == "14:30"
    cadence_day = (await env.client.get_schedule_handle("cadence-day").describe()).info.next_action_times[0]
    assert cadence_day.astimezone(BEIJING).strftime("%H:%M") == "00:01"
