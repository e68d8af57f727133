"""Promotions (R-PROMO-3D) and write-ups (R-NEWS-3WD) on the time-skipping dev server.

Each obligation's clock skips to its reminders and its deadline as soon as it only waits on them,
so a promotion 10 days ahead runs in seconds; its announcement articles are real article
workflows, reviewed and published on the fake platforms, read back from the real event store.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from domain import articles as a
from domain import promotions as p
from domain import writeups as w
from domain.platforms import Platform
from domain.policy import Policy
from domain.roles import Role
from eventstore.store import EventStore, RecordedEvent
from mediaops.settings import Settings
from tests.identity_support import in_directory, signed
from tests.platforms_support import Fakes, running_fakes
from workers.worker import build_worker, platform_workers
from workflows import search_attributes as sa
from workflows.article import ArticleWorkflow
from workflows.contracts import ArticleStart, PromotionStart, PromotionView, WriteUpStart, WriteUpView
from workflows.promotion import PromotionWorkflow
from workflows.writeup import WriteUpWorkflow

PROMOTER = a.Actor(id="zhao.promo", roles=frozenset({Role.PROMOTION_SPECIALIST}))
WRITER = a.Actor(id="li.content", roles=frozenset({Role.CONTENT_SPECIALIST}))
MANAGER = a.Actor(id="wang.manager", roles=frozenset({Role.OPERATIONS_MANAGER}))
QUEUE = "obligations-test"
BEIJING = ZoneInfo("Asia/Shanghai")
BOTH = (Platform.WEBSITE, Platform.WECHAT)
CLOSE = timedelta(seconds=2)
"""How near its time a timer's event must be (the server fires a skipped timer at its instant)."""


class World:
    def __init__(self, env: WorkflowEnvironment, fakes: Fakes, store: EventStore) -> None:
        self.env, self.fakes, self.store = env, fakes, store


@pytest.fixture(scope="module")
async def world(temporal_timeskip: WorkflowEnvironment, store: EventStore) -> AsyncIterator[World]:
    async with store.pool.acquire() as conn:
        await in_directory(conn, PROMOTER, WRITER, MANAGER)
    async with running_fakes() as fakes, AsyncExitStack() as stack:
        policy, settings = Policy(), Settings(task_queue=QUEUE)
        for worker in [
            build_worker(temporal_timeskip.client, settings, policy, store, accounts=fakes.accounts),
            *platform_workers(temporal_timeskip.client, policy, fakes.accounts, store.pool),
        ]:
            await stack.enter_async_context(worker)
        yield World(temporal_timeskip, fakes, store)


async def published_article(world: World, platforms: tuple[Platform, ...], **link: str) -> a.Article:
    """An article linked to an obligation, reviewed and published on `platforms`."""
    article_id = uuid.uuid4().hex[:10]
    body = a.Content(
        title="双十二大促预告",
        body=f'<p>十二月十二日起全场八折。</p><img src="{world.fakes.image()}">',
        category="promotion",
        platforms=platforms,
        source="市场部",
    )
    submit = a.Submit(article_id=article_id, actor=WRITER, content=body, at=datetime.now(UTC), **link)
    handle = await world.env.client.start_workflow(
        ArticleWorkflow.run,
        ArticleStart(submit=signed(f"article-{article_id}", submit), accounts={x: "demo" for x in platforms}),
        id=f"article-{article_id}",
        task_queue=QUEUE,
    )
    for _ in range(300):
        if (await handle.query(ArticleWorkflow.state_and_decisions)).article.waiting_on:
            break
        await asyncio.sleep(0.1)
    review = a.Review(actor=MANAGER, version=1, decision="approve", at=datetime.now(UTC))
    await handle.execute_update(ArticleWorkflow.review, signed(handle.id, review))
    result = await handle.result()
    assert result.status is a.Status.PUBLISHED
    return result.article


async def plan(
    world: World, key: str, starts_at: datetime, platforms: tuple[Platform, ...] = BOTH
) -> WorkflowHandle[PromotionWorkflow, PromotionView]:
    command = p.Plan(
        actor=PROMOTER, promotion_id=key, name="双十二大促", starts_at=starts_at,
        ends_at=starts_at + timedelta(days=2), major=True, platforms=platforms, at=datetime.now(UTC),
    )  # fmt: skip
    return await world.env.client.start_workflow(
        PromotionWorkflow.run,
        PromotionStart(plan=signed(f"promotion-{key}", command)),
        id=f"promotion-{key}",
        task_queue=QUEUE,
    )


async def recorded(world: World, stream: str, kind: str) -> list[RecordedEvent]:
    return [e for e in await world.store.read_stream(stream) if e.type == kind]


def at(event: RecordedEvent) -> datetime:
    return datetime.fromisoformat(event.data["at"])


async def test_the_7_and_5_day_reminders_and_the_deadline_fire_at_their_times(world: World) -> None:
    key = uuid.uuid4().hex[:10]
    starts_at = datetime.now(UTC).replace(microsecond=0) + timedelta(days=10)
    handle = await plan(world, key, starts_at)
    result = await handle.result()  # the workflow watches until the promotion ends, 12 days on

    assert result.promotion.verdict == "breached"
    reminders = await recorded(world, handle.id, "promotion.reminded")
    assert [r.data["before_start_s"] for r in reminders] == [7 * 86400, 5 * 86400]
    for reminder, days in zip(reminders, (7, 5), strict=True):
        assert abs(at(reminder) - (starts_at - timedelta(days=days))) < CLOSE
        assert reminder.data["missing"] == {"website": "no_article", "wechat": "no_article"}
        assert reminder.data["owner"] == PROMOTER.id
    [breach] = await recorded(world, handle.id, "promotion.breached")
    assert abs(at(breach) - (starts_at - timedelta(days=3))) < CLOSE
    assert breach.data["missing"] == ["website", "wechat"]
    assert breach.data["escalated_to"] == Role.OPERATIONS_MANAGER.value
    assert breach.metadata["rule_ids"] == ["R-PROMO-3D"]


async def test_met_when_every_required_platform_published_in_time(world: World) -> None:
    key = uuid.uuid4().hex[:10]
    article = await published_article(world, BOTH, promotion_id=key)  # before the promotion exists
    starts_at = datetime.now(UTC) + timedelta(days=10)
    handle = await plan(world, key, starts_at)
    result = await handle.result()

    promotion = result.promotion
    assert (promotion.verdict, promotion.compliance, promotion.status) == ("met", "met", "met")
    for platform in BOTH:
        announcement = promotion.platforms[platform]
        assert (announcement.state, announcement.article_id) == ("announced", article.id)
        assert announcement.announced_at is not None
        assert announcement.announced_at < promotion.announce_by  # type: ignore[operator]
    assert await recorded(world, handle.id, "promotion.reminded") == []  # nothing was missing
    [met] = await recorded(world, handle.id, "promotion.met")
    assert abs(at(met) - (starts_at - timedelta(days=3))) < CLOSE


async def test_breached_naming_the_platform_it_was_not_announced_on(world: World) -> None:
    key = uuid.uuid4().hex[:10]
    await published_article(world, (Platform.WEBSITE,), promotion_id=key)
    handle = await plan(world, key, datetime.now(UTC) + timedelta(days=10))
    result = await handle.result()

    assert result.promotion.verdict == "breached"
    assert result.promotion.platforms[Platform.WEBSITE].state == "announced"
    assert result.promotion.platforms[Platform.WECHAT].state == "missing"
    reminders = await recorded(world, handle.id, "promotion.reminded")
    assert [r.data["missing"] for r in reminders] == [{"wechat": "no_article"}] * 2
    [breach] = await recorded(world, handle.id, "promotion.breached")
    assert breach.data["missing"] == ["wechat"]


async def test_ops_find_a_promotion_by_the_shared_search_attributes(world: World) -> None:
    key = uuid.uuid4().hex[:10]
    handle = await plan(world, key, datetime.now(UTC) + timedelta(days=10))
    await handle.result()
    query = f"WorkflowType = 'Promotion' AND ProcessStatus = 'breached' AND WorkflowId = '{handle.id}'"
    for _ in range(100):  # visibility is eventually consistent
        found = [x async for x in world.env.client.list_workflows(query)]
        if found:
            break
        await asyncio.sleep(0.1)
    assert [x.id for x in found] == [handle.id]
    attributes = found[0].typed_search_attributes
    assert attributes.get(sa.PLATFORMS) == ["website", "wechat"]
    assert attributes.get(sa.ASSIGNEE) == PROMOTER.id
    assert attributes.get(sa.NEXT_DEADLINE) is None  # judged: no deadline is left


# --- write-ups (R-NEWS-3WD) -----------------------------------------------------------------------


async def report(
    world: World, ends_at: datetime, platforms: tuple[Platform, ...] = BOTH, key: str | None = None
) -> WorkflowHandle[WriteUpWorkflow, WriteUpView]:
    key = key or uuid.uuid4().hex[:10]
    command = w.Report(actor=WRITER, writeup_id=key, name="秋季新品发布会", ends_at=ends_at,
                       platforms=platforms, at=datetime.now(UTC))  # fmt: skip
    return await world.env.client.start_workflow(
        WriteUpWorkflow.run,
        WriteUpStart(report=signed(f"writeup-{key}", command)),
        id=f"writeup-{key}",
        task_queue=QUEUE,
    )


def beijing(*args: Any) -> datetime:
    return datetime(*args, tzinfo=BEIJING)


async def test_the_write_up_is_reminded_and_judged_on_the_2026_calendar(world: World) -> None:
    # Friday 4 December 2026, 18:00 Beijing: the 1st working day after is Monday the 7th, the
    # 3rd is Wednesday the 9th, so it is due at 24:00 that day.
    handle = await report(world, beijing(2026, 12, 4, 18))
    result = await handle.result()
    writeup = result.writeup
    assert writeup.due == beijing(2026, 12, 10, 0)
    assert writeup.remind_at == beijing(2026, 12, 7, 18)  # the close of the first working day
    assert not writeup.due_flagged
    [reminder] = await recorded(world, handle.id, "writeup.reminded")
    assert abs(at(reminder) - beijing(2026, 12, 7, 18)) < CLOSE
    assert reminder.data["to"] == WRITER.id
    [breach] = await recorded(world, handle.id, "writeup.breached")
    assert abs(at(breach) - beijing(2026, 12, 10, 0)) < CLOSE
    assert breach.data["missing"] == ["website", "wechat"]


async def test_an_event_before_the_national_day_holidays_is_due_after_them_and_a_late_one_is_late(
    world: World,
) -> None:
    key = uuid.uuid4().hex[:10]
    article = await published_article(world, BOTH, writeup_id=key)
    handle = await report(world, beijing(2026, 9, 30, 20), key=key)
    result = await handle.result()  # over at once: judged, and everything is out (late)
    writeup = result.writeup
    assert writeup.due == beijing(2026, 10, 11, 0)  # 1–7 October off; the 9th and 10th work
    assert writeup.verdict == "breached"
    for platform in BOTH:
        announcement = writeup.platforms[platform]
        assert (announcement.state, announcement.article_id) == ("late", article.id)
        assert announcement.late_by_s > 50 * 86400


async def test_a_year_the_calendar_does_not_know_is_flagged_on_the_due_time(world: World) -> None:
    handle = await report(world, beijing(2026, 12, 30, 12))
    for _ in range(300):
        writeup = (await handle.query(WriteUpWorkflow.current)).writeup
        if writeup.due is not None:
            break
        await asyncio.sleep(0.1)
    assert writeup.due_flagged
    assert writeup.flagged_years == (2027,)
    assert writeup.due == beijing(2027, 1, 5, 0)  # 31 Dec, then a guessed Mon–Fri 2027: 1 and 4 Jan
    await handle.terminate("the test saw what it needed")


async def test_a_wake_up_signal_with_any_arguments_fails_no_workflow_task(world: World) -> None:
    """Anyone can signal from the Temporal UI or CLI: none, one or two arguments only wake it."""
    with world.env.with_time_skipping_disabled():  # type: ignore[attr-defined]
        handle = await report(world, datetime.now(UTC))
    await handle.signal("linked_article_moved")
    await handle.signal("linked_article_moved", args=["a", {"forged": True}])
    await handle.signal("linked_article_moved", "article-x")
    for _ in range(100):
        if (await handle.query(WriteUpWorkflow.current)).writeup.due is not None:
            break
        await asyncio.sleep(0.1)
    history = await handle.fetch_history()
    failed = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED]
    assert failed == []
    assert (
        len([e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED])
        == 3
    )
    await handle.terminate("the test saw what it needed")
