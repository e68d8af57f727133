"""The article workflow on the time-skipping server, the real event store and the fake platforms."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from domain import articles as a
from domain.calendar import WorkingCalendar
from domain.outcomes import PublishOutcome
from domain.platforms import Platform
from domain.policy import Policy
from domain.roles import Role
from eventstore.store import EventStore
from mediaops.settings import Settings
from tests.platforms_support import Fakes, running_fakes
from workers.worker import build_worker, platform_workers
from workflows.article import ArticleWorkflow
from workflows.contracts import ArticleStart, ArticleView
from workflows.signals import PUBLICATION_FINISHED, PublicationUpdate

WRITER = a.Actor(id="li.content", roles=frozenset({Role.CONTENT_SPECIALIST}))
PROMOTER = a.Actor(id="zhao.promo", roles=frozenset({Role.PROMOTION_SPECIALIST}))
MANAGER = a.Actor(id="wang.manager", roles=frozenset({Role.OPERATIONS_MANAGER}))
BOSS = a.Actor(id="chen.gm", roles=frozenset({Role.GENERAL_MANAGER}))
QUEUE = "articles-test"


class Env:
    def __init__(self, env: WorkflowEnvironment, fakes: Fakes, store: EventStore) -> None:
        self.env, self.fakes, self.store = env, fakes, store


@pytest.fixture(scope="module")
async def world(temporal_timeskip: WorkflowEnvironment, store: EventStore) -> AsyncIterator[Env]:
    async with running_fakes() as fakes, AsyncExitStack() as stack:
        policy = Policy()
        settings = Settings(task_queue=QUEUE)
        for worker in [
            build_worker(temporal_timeskip.client, settings, policy, store),
            *platform_workers(temporal_timeskip.client, policy, fakes.accounts, store.pool),
        ]:
            await stack.enter_async_context(worker)
        yield Env(temporal_timeskip, fakes, store)


def content(fakes: Fakes, **changes: object) -> a.Content:
    fields: dict[str, object] = {
        "title": "秋季新品发布会回顾",
        "body": f'<p>发布会圆满举行。</p><img src="{fakes.image()}">',
        "category": "company_news",
        "platforms": (Platform.WEBSITE, Platform.WECHAT),
        "source": "市场部",
    }
    return a.Content(**{**fields, **changes})


async def start(world: Env, **changes: object) -> WorkflowHandle[ArticleWorkflow, ArticleView]:
    article_id = uuid.uuid4().hex[:10]
    body = content(world.fakes, **changes)
    submit = a.Submit(article_id=article_id, actor=WRITER, content=body, at=datetime.now(UTC))
    accounts = {p: "demo" for p in body.platforms}
    return await world.env.client.start_workflow(
        ArticleWorkflow.run,
        ArticleStart(submit=submit, policy=Policy(), accounts=accounts),
        id=f"article-{article_id}",
        task_queue=QUEUE,
    )


async def view(handle: WorkflowHandle[ArticleWorkflow, ArticleView]) -> ArticleView:
    return await handle.query(ArticleWorkflow.state_and_decisions)


async def until(
    handle: WorkflowHandle[ArticleWorkflow, ArticleView], check: object, world: Env
) -> ArticleView:
    for _ in range(300):
        current = await view(handle)
        if check(current):  # type: ignore[operator]
            return current
        await asyncio.sleep(0.1)
    raise AssertionError(f"never reached: {current}")


async def stored_types(world: Env, handle: WorkflowHandle[ArticleWorkflow, ArticleView]) -> list[str]:
    return [e.type for e in await world.store.read_stream(handle.id)]


async def test_an_ordinary_post_is_reviewed_then_published_everywhere(world: Env) -> None:
    handle = await start(world)
    waiting = await until(handle, lambda v: v.article.waiting_on is Role.OPERATIONS_MANAGER, world)
    assert waiting.status is a.Status.IN_REVIEW
    now = datetime.now(UTC)
    await handle.execute_update(
        ArticleWorkflow.review, a.Review(actor=MANAGER, version=1, decision="approve", at=now)
    )
    result = await handle.result()
    assert result.status is a.Status.PUBLISHED
    assert {p: pub.state for p, pub in result.article.publications.items()} == {
        Platform.WEBSITE: "published",
        Platform.WECHAT: "published",
    }
    types = await stored_types(world, handle)
    assert types[:5] == [
        "article.submitted",
        "article.checks_passed",
        "article.review_requested",
        "article.approved",
        "article.publish_started",
    ]
    assert types.count("article.publication_recorded") >= 2


async def test_a_wrong_role_or_a_stale_version_is_refused_at_once(world: Env) -> None:
    handle = await start(world)
    await until(handle, lambda v: v.article.waiting_on is Role.OPERATIONS_MANAGER, world)
    now = datetime.now(UTC)
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await handle.execute_update(
            ArticleWorkflow.review, a.Review(actor=PROMOTER, version=1, decision="approve", at=now)
        )
    assert "R-REVIEW-ALL" in str(caught.value.cause)
    with pytest.raises(WorkflowUpdateFailedError) as stale:
        await handle.execute_update(
            ArticleWorkflow.review, a.Review(actor=MANAGER, version=7, decision="approve", at=now)
        )
    assert "version 7 is not the current version 1" in str(stale.value.cause)
    await handle.execute_update(ArticleWorkflow.withdraw, a.Withdraw(actor=WRITER, reason="取消", at=now))
    assert (await handle.result()).status is a.Status.WITHDRAWN


async def test_a_project_post_waits_on_the_general_manager(world: Env) -> None:
    handle = await start(world, involves_company_project=True, platforms=(Platform.WEBSITE,))
    await until(handle, lambda v: v.article.waiting_on is Role.OPERATIONS_MANAGER, world)
    now = datetime.now(UTC)
    await handle.execute_update(
        ArticleWorkflow.review, a.Review(actor=MANAGER, version=1, decision="approve", at=now)
    )
    assert (await view(handle)).article.waiting_on is Role.GENERAL_MANAGER
    await handle.execute_update(ArticleWorkflow.confirm, a.Confirm(actor=BOSS, version=1, at=now))
    assert (await handle.result()).status is a.Status.PUBLISHED


async def test_reminder_and_escalation_fire_at_the_policys_times(world: Env) -> None:
    handle = await start(world, platforms=(Platform.WEBSITE,))
    await until(handle, lambda v: v.article.waiting_on is Role.OPERATIONS_MANAGER, world)
    asked = (await handle.describe()).start_time
    events: dict[str, object] = {}
    for _ in range(100):  # the workflow's clock skips through both timers on its own
        events = {e.type: e for e in await world.store.read_stream(handle.id)}
        if "article.escalated" in events:
            break
        await asyncio.sleep(0.1)
    policy, calendar, zone = Policy(), WorkingCalendar(allow_fallback=True), ZoneInfo("Asia/Shanghai")
    hours = policy.working_hours
    remind_at = calendar.add_working_hours(asked, timedelta(hours=4), hours.start, hours.end, zone)
    escalate_at = calendar.add_working_hours(asked, hours.end - hours.start, hours.start, hours.end, zone)
    reminded = datetime.fromisoformat(events["article.reminded"].data["at"])  # type: ignore[attr-defined]
    escalated = events["article.escalated"].data  # type: ignore[attr-defined]
    assert abs(reminded - remind_at) < timedelta(minutes=1)
    assert abs(datetime.fromisoformat(escalated["at"]) - escalate_at) < timedelta(minutes=1)
    assert reminded < datetime.fromisoformat(escalated["at"])
    assert escalated["to"] == "general_manager"
    now = datetime.now(UTC)
    await handle.execute_update(ArticleWorkflow.withdraw, a.Withdraw(actor=WRITER, at=now))


async def test_a_scheduled_publish_waits_for_its_time(world: Env) -> None:
    publish_at = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
    handle = await start(world, platforms=(Platform.WEBSITE,), publish_at=publish_at)
    await until(handle, lambda v: v.article.waiting_on is Role.OPERATIONS_MANAGER, world)
    now = datetime.now(UTC)
    await handle.execute_update(
        ArticleWorkflow.review, a.Review(actor=MANAGER, version=1, decision="approve", at=now)
    )
    assert (await view(handle)).status is a.Status.APPROVED
    result = await handle.result()
    assert result.status is a.Status.PUBLISHED
    [scheduled] = [
        e for e in await world.store.read_stream(handle.id) if e.type == "article.publish_scheduled"
    ]
    assert datetime.fromisoformat(scheduled.data["at"]) == publish_at
    assert await world.env.get_current_time(handle) >= publish_at  # type: ignore[call-arg]


async def test_the_callback_wins_the_race_against_polling(world: Env) -> None:
    await world.fakes.post(Platform.WECHAT, "publish-delay", seconds=3600)
    try:
        handle = await start(world, platforms=(Platform.WECHAT,))
        await until(handle, lambda v: v.article.waiting_on is Role.OPERATIONS_MANAGER, world)
        now = datetime.now(UTC)
        await handle.execute_update(
            ArticleWorkflow.review, a.Review(actor=MANAGER, version=1, decision="approve", at=now)
        )
        pending = await until(
            handle, lambda v: v.article.publications[Platform.WECHAT].handle is not None, world
        )
        publish_id = pending.article.publications[Platform.WECHAT].handle or ""
        url = "https://mp.weixin.qq.com/s/from-the-callback"
        await handle.signal(
            PUBLICATION_FINISHED,
            PublicationUpdate(
                platform=Platform.WECHAT,
                account="demo",
                handle=publish_id,
                outcome=PublishOutcome(state="published", url=url),
            ),
        )
        result = await handle.result()
        assert result.article.publications[Platform.WECHAT].url == url
    finally:
        await world.fakes.post(Platform.WECHAT, "publish-delay", seconds=0)


async def test_polling_finds_the_result_when_no_callback_comes(world: Env) -> None:
    handle = await start(world, platforms=(Platform.WECHAT,))
    await until(handle, lambda v: v.article.waiting_on is Role.OPERATIONS_MANAGER, world)
    now = datetime.now(UTC)
    await handle.execute_update(
        ArticleWorkflow.review, a.Review(actor=MANAGER, version=1, decision="approve", at=now)
    )
    result = await handle.result()
    assert (result.article.publications[Platform.WECHAT].url or "").startswith(
        "https://mp.weixin.qq.com/s/fake_"
    )


async def test_an_unknown_outcome_waits_for_a_person(world: Env) -> None:
    await world.fakes.post(
        Platform.WEBSITE,
        "faults",
        {"path": "/wp-json/wp/v2/posts", "method": "POST", "kind": "timeout_after_accept"},
    )
    handle = await start(world, platforms=(Platform.WEBSITE,))
    await until(handle, lambda v: v.article.waiting_on is Role.OPERATIONS_MANAGER, world)
    now = datetime.now(UTC)
    await handle.execute_update(
        ArticleWorkflow.review, a.Review(actor=MANAGER, version=1, decision="approve", at=now)
    )
    unconfirmed = await until(
        handle, lambda v: v.article.publications[Platform.WEBSITE].state == "unconfirmed", world
    )
    assert unconfirmed.status is a.Status.ATTENTION
    await handle.execute_update(
        ArticleWorkflow.reconcile,
        a.Reconcile(actor=WRITER, platform=Platform.WEBSITE, url="https://www.example.com/?p=1", at=now),
    )
    assert (await handle.result()).status is a.Status.PUBLISHED
