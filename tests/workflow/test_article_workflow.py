"""The article workflow on the time-skipping server, the real event store and the fake platforms."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from temporalio.api.enums.v1 import EventType
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
from tests.identity_support import SIGNER, in_directory, refusal, signed
from tests.platforms_support import Fakes, running_fakes
from workers.worker import build_worker, platform_workers
from workflows.article import ArticleWorkflow
from workflows.contracts import ArticleStart, ArticleView
from workflows.signals import PUBLICATION_FINISHED, PublicationUpdate

OTHER_WRITER = a.Actor(id="sun.content", roles=frozenset({Role.CONTENT_SPECIALIST}))
WRITER = a.Actor(id="li.content", roles=frozenset({Role.CONTENT_SPECIALIST}))
PROMOTER = a.Actor(id="zhao.promo", roles=frozenset({Role.PROMOTION_SPECIALIST}))
MANAGER = a.Actor(id="wang.manager", roles=frozenset({Role.OPERATIONS_MANAGER}))
BOSS = a.Actor(id="chen.gm", roles=frozenset({Role.GENERAL_MANAGER}))
QUEUE = "articles-test"
WECHAT_URL = "https://mp.weixin.qq.com/s/"
DOWN = "http://127.0.0.1:9/cgi-bin/webhook/send?key=k"
"""The chat webhook is down for this whole module: reminders and escalations go on without it (H9)."""


class Env:
    def __init__(self, env: WorkflowEnvironment, fakes: Fakes, store: EventStore) -> None:
        self.env, self.fakes, self.store = env, fakes, store


@pytest.fixture(scope="module")
async def world(temporal_timeskip: WorkflowEnvironment, store: EventStore) -> AsyncIterator[Env]:
    async with store.pool.acquire() as conn:
        await in_directory(conn, WRITER, OTHER_WRITER, PROMOTER, MANAGER, BOSS)
    async with running_fakes() as fakes, AsyncExitStack() as stack:
        policy = Policy()
        settings = Settings(task_queue=QUEUE, notify_webhook=DOWN)
        for worker in [
            build_worker(temporal_timeskip.client, settings, policy, store, accounts=fakes.accounts),
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
        ArticleStart(submit=signed(f"article-{article_id}", submit), accounts=accounts),
        id=f"article-{article_id}",
        task_queue=QUEUE,
    )


async def view(handle: WorkflowHandle[ArticleWorkflow, ArticleView]) -> ArticleView:
    return await handle.query(ArticleWorkflow.state_and_decisions)


async def until(
    handle: WorkflowHandle[ArticleWorkflow, ArticleView], check: object, world: Env, *, tries: int = 300
) -> ArticleView:
    """The article's view once `check` holds, asked every 0.1 s (`tries` times at most)."""
    for _ in range(tries):
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
        ArticleWorkflow.review,
        signed(handle.id, a.Review(actor=MANAGER, version=1, decision="approve", at=now)),
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
            ArticleWorkflow.review,
            signed(handle.id, a.Review(actor=PROMOTER, version=1, decision="approve", at=now)),
        )
    assert (refusal(caught.value).kind, refusal(caught.value).rule) == ("forbidden", "R-REVIEW-ALL")
    with pytest.raises(WorkflowUpdateFailedError) as stale:
        await handle.execute_update(
            ArticleWorkflow.review,
            signed(handle.id, a.Review(actor=MANAGER, version=7, decision="approve", at=now)),
        )
    assert refusal(stale.value).kind == "conflict"
    assert "version 7 is not the current version 1" in refusal(stale.value).message
    await handle.execute_update(
        ArticleWorkflow.withdraw, signed(handle.id, a.Withdraw(actor=WRITER, reason="取消", at=now))
    )
    assert (await handle.result()).status is a.Status.WITHDRAWN


async def test_a_project_post_waits_on_the_general_manager(world: Env) -> None:
    handle = await start(world, involves_company_project=True, platforms=(Platform.WEBSITE,))
    await until(handle, lambda v: v.article.waiting_on is Role.OPERATIONS_MANAGER, world)
    now = datetime.now(UTC)
    await handle.execute_update(
        ArticleWorkflow.review,
        signed(handle.id, a.Review(actor=MANAGER, version=1, decision="approve", at=now)),
    )
    assert (await view(handle)).article.waiting_on is Role.GENERAL_MANAGER
    await handle.execute_update(
        ArticleWorkflow.confirm, signed(handle.id, a.Confirm(actor=BOSS, version=1, at=now))
    )
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
    await handle.execute_update(ArticleWorkflow.withdraw, signed(handle.id, a.Withdraw(actor=WRITER, at=now)))


async def test_a_scheduled_publish_waits_for_its_time(world: Env) -> None:
    publish_at = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
    handle = await start(world, platforms=(Platform.WEBSITE,), publish_at=publish_at)
    await until(handle, lambda v: v.article.waiting_on is Role.OPERATIONS_MANAGER, world)
    now = datetime.now(UTC)
    await handle.execute_update(
        ArticleWorkflow.review,
        signed(handle.id, a.Review(actor=MANAGER, version=1, decision="approve", at=now)),
    )
    assert (await view(handle)).status is a.Status.APPROVED
    result = await handle.result()
    assert result.status is a.Status.PUBLISHED
    [scheduled] = [
        e for e in await world.store.read_stream(handle.id) if e.type == "article.publish_scheduled"
    ]
    assert datetime.fromisoformat(scheduled.data["at"]) == publish_at
    assert await world.env.get_current_time(handle) >= publish_at  # type: ignore[call-arg]


async def test_a_callback_wakes_the_poll_but_the_platform_says_what_was_published(world: Env) -> None:
    """PUBLISHJOBFINISH is forwarded as a signal anyone with Temporal access could send: it is a hint."""
    await world.fakes.post(Platform.WECHAT, "publish-delay", seconds=3600)
    try:
        handle = await start(world, platforms=(Platform.WECHAT,))
        await until(handle, lambda v: v.article.waiting_on is Role.OPERATIONS_MANAGER, world)
        now = datetime.now(UTC)
        await handle.execute_update(
            ArticleWorkflow.review,
            signed(handle.id, a.Review(actor=MANAGER, version=1, decision="approve", at=now)),
        )
        pending = await until(
            handle, lambda v: v.article.publications[Platform.WECHAT].handle is not None, world
        )
        forged = "https://evil.example/not-ours"
        update = PublicationUpdate(
            platform=Platform.WECHAT,
            account="demo",
            handle=pending.article.publications[Platform.WECHAT].handle or "",
            outcome=PublishOutcome(state="published", url=forged),
        )
        await handle.signal(PUBLICATION_FINISHED, update)
        await asyncio.sleep(1)
        assert (await view(handle)).article.publications[Platform.WECHAT].state == "publishing"
        await world.fakes.post(Platform.WECHAT, "advance", seconds=3600)  # now WeChat has published it
        await handle.signal(PUBLICATION_FINISHED, update)
        result = await handle.result()
        url = result.article.publications[Platform.WECHAT].url or ""
        assert url.startswith("https://mp.weixin.qq.com/s/fake_")
        assert forged not in str([e.data for e in await world.store.read_stream(handle.id)])
    finally:
        await world.fakes.post(Platform.WECHAT, "publish-delay", seconds=0)


async def test_polling_finds_the_result_when_no_callback_comes(world: Env) -> None:
    handle = await start(world, platforms=(Platform.WECHAT,))
    await until(handle, lambda v: v.article.waiting_on is Role.OPERATIONS_MANAGER, world)
    now = datetime.now(UTC)
    await handle.execute_update(
        ArticleWorkflow.review,
        signed(handle.id, a.Review(actor=MANAGER, version=1, decision="approve", at=now)),
    )
    result = await handle.result()
    assert (result.article.publications[Platform.WECHAT].url or "").startswith(
        "https://mp.weixin.qq.com/s/fake_"
    )


async def test_a_publication_pending_for_days_is_asked_ever_less_often_then_handed_to_a_person(
    world: Env,
) -> None:
    """M6: asked after 1, 2, 4 ... minutes, then hourly; after two days still pending, a person checks."""
    await world.fakes.post(Platform.WECHAT, "publish-delay", seconds=30 * 86400)
    try:
        handle = await start(world, platforms=(Platform.WECHAT,))
        await until(handle, lambda v: v.article.waiting_on is Role.OPERATIONS_MANAGER, world)
        now = datetime.now(UTC)
        await handle.execute_update(
            ArticleWorkflow.review,
            signed(handle.id, a.Review(actor=MANAGER, version=1, decision="approve", at=now)),
        )
        unconfirmed = await until(
            handle,
            lambda v: v.article.publications[Platform.WECHAT].state == "unconfirmed",
            world,
            tries=1200,  # some 55 skips of the server's clock, each taking it a moment
        )
        reason = unconfirmed.article.publications[Platform.WECHAT].reason or ""
        assert "still calls it pending after 2d" in reason
        history = [e async for e in handle.fetch_history_events()]
        asked = [
            e
            for e in history
            if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
            and e.activity_task_scheduled_event_attributes.activity_type.name == "platform.status"
        ]
        assert 50 <= len(asked) <= 56  # 2 days at one a minute would have been 2,880
        reconciled = await handle.execute_update(
            ArticleWorkflow.reconcile,
            signed(
                handle.id,
                a.Reconcile(actor=PROMOTER, platform=Platform.WECHAT, url=f"{WECHAT_URL}x", at=now),
            ),
        )
        assert reconciled.article.status is a.Status.PUBLISHED
    finally:
        await world.fakes.post(Platform.WECHAT, "publish-delay", seconds=0)


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
        ArticleWorkflow.review,
        signed(handle.id, a.Review(actor=MANAGER, version=1, decision="approve", at=now)),
    )
    unconfirmed = await until(
        handle, lambda v: v.article.publications[Platform.WEBSITE].state == "unconfirmed", world
    )
    assert unconfirmed.status is a.Status.ATTENTION
    await handle.execute_update(
        ArticleWorkflow.reconcile,
        signed(
            handle.id,
            a.Reconcile(actor=WRITER, platform=Platform.WEBSITE, url="https://www.example.com/?p=1", at=now),
        ),
    )
    assert (await handle.result()).status is a.Status.PUBLISHED


async def stored(world: Env, handle: WorkflowHandle[ArticleWorkflow, ArticleView]) -> list[tuple[str, dict]]:  # type: ignore[type-arg]
    return [(e.type, e.data) for e in await world.store.read_stream(handle.id)]


async def until_stored(
    world: Env, handle: WorkflowHandle[ArticleWorkflow, ArticleView], kind: str, n: int = 1
) -> None:
    for _ in range(100):
        if [t for t, _ in await stored(world, handle)].count(kind) >= n:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"no {kind} recorded: {await stored(world, handle)}")


async def test_a_forged_decision_signal_is_refused_and_recorded(world: Env) -> None:
    """C1: anyone who can reach Temporal sends a decision as the manager, and internal commands."""
    handle = await start(world, platforms=(Platform.WEBSITE,))
    await until(handle, lambda v: v.article.waiting_on is Role.OPERATIONS_MANAGER, world)
    forged = {
        "kind": "review",
        "actor": {"id": "someone.forged", "roles": ["operations_manager"]},
        "decision": "approve",
        "version": 1,
        "at": "2026-12-01T16:00:00Z",
    }
    await handle.signal("decision", forged)
    await handle.signal("decision", {"kind": "record_checks", "version": 1, "wordlist_version": "x",
                                     "problems": [], "at": "2026-12-01T16:00:00Z"})  # fmt: skip
    outcome = {"kind": "record_outcome", "platform": "website", "at": "2026-12-01T16:00:00Z",
               "outcome": {"state": "published", "url": "https://evil.example/"}}  # fmt: skip
    genuine = signed(handle.id, a.Review(actor=MANAGER, version=1, decision="approve", at=datetime.now(UTC)))
    await handle.signal("decision", genuine | {"command": outcome})  # a real signature, another command
    await handle.signal("decision", outcome)
    await until_stored(world, handle, "command.refused", 4)
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await handle.execute_update(ArticleWorkflow.review, forged)
    assert (refusal(caught.value).kind, refusal(caught.value).rule) == ("unauthenticated", "R-ACCOUNTABLE")
    events = await stored(world, handle)
    refused = [data for kind, data in events if kind == "command.refused"]
    assert [r["command"] for r in refused] == [
        "review",
        "record_checks",
        "record_outcome",
        "record_outcome",
        "review",
    ]
    assert refused[0]["claimed_actor"] == "someone.forged"
    assert all(r["refusal"] == "unauthenticated" for r in refused)
    current = await view(handle)
    assert current.article.waiting_on is Role.OPERATIONS_MANAGER
    assert not current.article.approvals
    assert current.article.publications[Platform.WEBSITE].state == "pending"
    assert "article.approved" not in [kind for kind, _ in events]
    await handle.execute_update(
        ArticleWorkflow.withdraw, signed(handle.id, a.Withdraw(actor=WRITER, at=datetime.now(UTC)))
    )


async def test_an_ops_decision_signed_for_the_person_works_as_a_signal_and_only_once(world: Env) -> None:
    handle = await start(world, platforms=(Platform.WEBSITE,))
    await until(handle, lambda v: v.article.waiting_on is Role.OPERATIONS_MANAGER, world)
    decision = signed(
        handle.id, a.Review(actor=MANAGER, version=1, decision="approve", at=datetime.now(UTC)), channel="ops"
    )
    await handle.signal("decision", decision)
    result = await handle.result()
    assert result.status is a.Status.PUBLISHED
    [approved] = [data for kind, data in await stored(world, handle) if kind == "article.approved"]
    assert approved["actor"] == MANAGER.id
    [event] = [e for e in await world.store.read_stream(handle.id) if e.type == "article.approved"]
    assert (event.metadata["actor"], event.metadata["channel"]) == (MANAGER.id, "ops")

    other = await start(world, platforms=(Platform.WEBSITE,))
    await until(other, lambda v: v.article.waiting_on is Role.OPERATIONS_MANAGER, world)
    with pytest.raises(WorkflowUpdateFailedError) as elsewhere:  # signed for another process
        await other.execute_update(ArticleWorkflow.review, decision)
    assert "signed for" in refusal(elsewhere.value).message
    again = signed(other.id, a.Review(actor=MANAGER, version=1, decision="request_changes", comment="改",
                                      at=datetime.now(UTC)))  # fmt: skip
    await other.execute_update(ArticleWorkflow.review, again)
    revised = content(world.fakes, platforms=(Platform.WEBSITE,), source="新华社", editor=WRITER.id)
    revise = a.Revise(actor=WRITER, version=1, content=revised, at=datetime.now(UTC))
    await other.execute_update(ArticleWorkflow.revise, signed(other.id, revise))
    await until(other, lambda v: v.article.waiting_on is Role.OPERATIONS_MANAGER, world)
    with pytest.raises(WorkflowUpdateFailedError) as replayed:  # the same signed command, a second time
        await other.execute_update(
            ArticleWorkflow.review, again | {"command": again["command"] | {"version": 2}}
        )
    assert refusal(replayed.value).kind == "unauthenticated"
    await other.execute_update(
        ArticleWorkflow.withdraw, signed(other.id, a.Withdraw(actor=MANAGER, at=datetime.now(UTC)))
    )


async def test_the_very_same_signed_command_sent_twice_at_once_is_taken_once(world: Env) -> None:
    """A nonce is single use within a run too: the identity check is local, and the run holds the
    nonce before it asks, so the second copy is refused as a replay (both passed the validator)."""
    handle = await start(world, platforms=(Platform.WEBSITE,))
    await until(handle, lambda v: v.article.waiting_on is Role.OPERATIONS_MANAGER, world)
    changes = signed(handle.id, a.Review(actor=MANAGER, version=1, decision="request_changes",
                                         comment="改", at=datetime.now(UTC)))  # fmt: skip
    both = await asyncio.gather(
        *(handle.execute_update(ArticleWorkflow.review, changes) for _ in range(2)), return_exceptions=True
    )
    [refused] = [r for r in both if isinstance(r, WorkflowUpdateFailedError)]
    assert "used before" in refusal(refused).message
    assert [k for k, _ in await stored(world, handle)].count("article.changes_requested") == 1
    await handle.execute_update(
        ArticleWorkflow.withdraw, signed(handle.id, a.Withdraw(actor=MANAGER, at=datetime.now(UTC)))
    )


async def test_an_expired_or_unknown_persons_command_is_refused(world: Env) -> None:
    handle = await start(world, platforms=(Platform.WEBSITE,))
    await until(handle, lambda v: v.article.waiting_on is Role.OPERATIONS_MANAGER, world)
    review = a.Review(actor=MANAGER, version=1, decision="approve", at=datetime.now(UTC))
    old = SIGNER.sign(process=handle.id, actor=MANAGER.id, roles=MANAGER.roles, channel="api",
                      command={"kind": "review", "version": 1, "decision": "approve"},
                      now=datetime.now(UTC) - timedelta(hours=1))  # fmt: skip
    with pytest.raises(WorkflowUpdateFailedError) as expired:
        await handle.execute_update(ArticleWorkflow.review, old.model_dump(mode="json"))
    assert "expired" in refusal(expired.value).message
    ghost = a.Actor(id="no.such.person", roles=frozenset({Role.OPERATIONS_MANAGER}))
    with pytest.raises(WorkflowUpdateFailedError) as unknown:
        await handle.execute_update(
            ArticleWorkflow.review, signed(handle.id, review.model_copy(update={"actor": ghost}))
        )
    assert "no active user" in refusal(unknown.value).message
    claims = a.Actor(
        id=PROMOTER.id, roles=frozenset({Role.OPERATIONS_MANAGER})
    )  # the directory says otherwise
    with pytest.raises(WorkflowUpdateFailedError) as demoted:
        await handle.execute_update(
            ArticleWorkflow.review, signed(handle.id, review.model_copy(update={"actor": claims}))
        )
    assert (refusal(demoted.value).kind, refusal(demoted.value).permission) == ("forbidden", "article.review")
    types = [kind for kind, _ in await stored(world, handle)]
    assert types.count("command.refused") == 3
    assert "article.approved" not in types
    await handle.execute_update(
        ArticleWorkflow.withdraw, signed(handle.id, a.Withdraw(actor=WRITER, at=datetime.now(UTC)))
    )


async def test_separation_of_duties(world: Env) -> None:
    """An author cannot approve their own post; one person cannot give both approvals; only the author
    or the manager revises or withdraws a post."""
    both = a.Actor(id="zhou.both", roles=frozenset({Role.OPERATIONS_MANAGER, Role.GENERAL_MANAGER}))
    async with world.store.pool.acquire() as conn:
        await in_directory(conn, both)
    handle = await start(world, platforms=(Platform.WEBSITE,), involves_company_project=True)
    await until(handle, lambda v: v.article.waiting_on is Role.OPERATIONS_MANAGER, world)
    now = datetime.now(UTC)
    with pytest.raises(WorkflowUpdateFailedError) as colleague:
        await handle.execute_update(
            ArticleWorkflow.withdraw, signed(handle.id, a.Withdraw(actor=OTHER_WRITER, at=now))
        )
    assert (refusal(colleague.value).kind, refusal(colleague.value).permission) == (
        "forbidden",
        "article.change_others",
    )
    await handle.execute_update(
        ArticleWorkflow.review, signed(handle.id, a.Review(actor=both, version=1, decision="approve", at=now))
    )
    with pytest.raises(WorkflowUpdateFailedError) as twice:
        await handle.execute_update(
            ArticleWorkflow.confirm, signed(handle.id, a.Confirm(actor=both, version=1, at=now))
        )
    assert (refusal(twice.value).kind, refusal(twice.value).rule) == ("forbidden", "R-REVIEW-PROJECT")
    await handle.execute_update(
        ArticleWorkflow.withdraw, signed(handle.id, a.Withdraw(actor=MANAGER, reason="重写", at=now))
    )

    own = await start_as(world, MANAGER)
    await until(own, lambda v: v.article.waiting_on is Role.OPERATIONS_MANAGER, world)
    with pytest.raises(WorkflowUpdateFailedError) as self_review:
        await own.execute_update(
            ArticleWorkflow.review,
            signed(own.id, a.Review(actor=MANAGER, version=1, decision="approve", at=now)),
        )
    assert (refusal(self_review.value).kind, refusal(self_review.value).rule) == ("forbidden", "R-REVIEW-ALL")
    assert "own post" in refusal(self_review.value).message
    await own.execute_update(ArticleWorkflow.withdraw, signed(own.id, a.Withdraw(actor=MANAGER, at=now)))


async def start_as(world: Env, author: a.Actor) -> WorkflowHandle[ArticleWorkflow, ArticleView]:
    article_id = uuid.uuid4().hex[:10]
    body = content(world.fakes, platforms=(Platform.WEBSITE,))
    submit = a.Submit(article_id=article_id, actor=author, content=body, at=datetime.now(UTC))
    return await world.env.client.start_workflow(
        ArticleWorkflow.run,
        ArticleStart(submit=signed(f"article-{article_id}", submit), accounts={Platform.WEBSITE: "demo"}),
        id=f"article-{article_id}",
        task_queue=QUEUE,
    )


async def test_a_status_call_that_cannot_be_answered_leaves_the_publication_to_a_person(world: Env) -> None:
    """M5: WeChat refuses freepublish/get (40164, the IP whitelist): the article does not fail."""
    await world.fakes.post(Platform.WECHAT, "publish-delay", seconds=3600)
    try:
        handle = await start(world, platforms=(Platform.WECHAT,))
        await until(handle, lambda v: v.article.waiting_on is Role.OPERATIONS_MANAGER, world)
        refused = {"path": "/cgi-bin/freepublish/get", "kind": "errcode", "errcode": 40164}
        await world.fakes.post(Platform.WECHAT, "faults", refused)
        await handle.execute_update(
            ArticleWorkflow.review,
            signed(handle.id, a.Review(actor=MANAGER, version=1, decision="approve", at=datetime.now(UTC))),
        )
        unconfirmed = await until(
            handle, lambda v: v.article.publications[Platform.WECHAT].state == "unconfirmed", world
        )
        assert "reconcile" in (unconfirmed.article.publications[Platform.WECHAT].reason or "")
        url = "https://mp.weixin.qq.com/s/checked-by-hand"
        reconcile = a.Reconcile(actor=WRITER, platform=Platform.WECHAT, url=url, at=datetime.now(UTC))
        await handle.execute_update(ArticleWorkflow.reconcile, signed(handle.id, reconcile))
        result = await handle.result()
        assert (result.status, result.article.publications[Platform.WECHAT].url) == (a.Status.PUBLISHED, url)
    finally:
        await world.fakes.post(Platform.WECHAT, "publish-delay", seconds=0)
