"""At most once: publishing and replying through the activities, with lost answers and retries."""

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.platform_calls import (
    PlatformCalls,
    PublishRequest,
    ReplyRequest,
    StatusRequest,
    publication_waiter,
)
from activities.platforms.base import Inbound, Post
from domain.platforms import Platform
from eventstore.store import EventStore
from tests.platforms_support import Fakes, running_fakes

W = Platform.WECHAT


@pytest.fixture(scope="module")
async def fakes() -> AsyncIterator[Fakes]:
    async with running_fakes() as running:
        yield running


@pytest.fixture
def calls(fakes: Fakes, store: EventStore) -> PlatformCalls:
    return PlatformCalls(fakes.accounts, store.pool)


def env(workflow_id: str = "article-1") -> ActivityEnvironment:
    environment = ActivityEnvironment()
    environment.info = dataclasses.replace(environment.info, workflow_id=workflow_id, workflow_run_id="run-1")
    return environment


def request(fakes: Fakes, platform: Platform = W) -> PublishRequest:
    key = f"article-{uuid.uuid4().hex[:8]}/v1"
    body = f'<p>活动</p><img src="{fakes.image()}">'
    post = Post(key=key, title="秋季活动预告", body_html=body, source_url="https://www.example.com/a")
    return PublishRequest(platform=platform, account="demo", post=post)


async def published(fakes: Fakes, platform: Platform = W) -> int:
    return len((await fakes.state(platform))["published"])  # type: ignore[arg-type]


async def test_a_lost_answer_is_unknown_and_a_retry_publishes_nothing_more(
    fakes: Fakes, calls: PlatformCalls
) -> None:
    """Must show 2: the fake accepted the submit, the answer timed out; the fake counts one post."""
    before = await published(fakes)
    await fakes.post(W, "faults", {"path": "/cgi-bin/freepublish/submit", "kind": "timeout_after_accept"})
    req = request(fakes)
    first = await env().run(calls.publish, req)
    assert first.state == "unknown"
    retried = await env().run(calls.publish, req)  # Temporal runs the activity again
    assert retried.state == "unknown"
    assert await published(fakes) == before + 1


async def test_a_repeated_publish_returns_the_recorded_outcome(fakes: Fakes, calls: PlatformCalls) -> None:
    before = await published(fakes)
    req = request(fakes)
    first = await env().run(calls.publish, req)
    again = await env().run(calls.publish, req)
    assert first.state == "pending"
    assert again == first
    assert await published(fakes) == before + 1


async def test_an_interrupted_call_is_unknown_without_calling_again(
    fakes: Fakes, calls: PlatformCalls, db: asyncpg.Connection
) -> None:
    req = request(fakes)
    key = f"publish:{req.platform}/{req.account}:{req.post.key}"
    await db.execute(
        "INSERT INTO platform_calls (key, platform, account, operation) "
        "VALUES ($1, 'wechat', 'demo', 'publish')",
        key,
    )  # a worker claimed it and died
    before = await published(fakes)
    outcome = await env().run(calls.publish, req)
    assert outcome.state == "unknown"
    assert "interrupted" in (outcome.reason or "")
    assert await published(fakes) == before


async def test_a_quota_error_releases_the_claim_and_asks_to_retry_later(
    fakes: Fakes, calls: PlatformCalls
) -> None:
    req = request(fakes)
    await fakes.post(W, "faults", {"path": "/cgi-bin/draft/add", "kind": "errcode", "errcode": 45011})
    with pytest.raises(ApplicationError) as caught:
        await env().run(calls.publish, req)
    assert not caught.value.non_retryable
    assert caught.value.next_retry_delay == timedelta(seconds=60)
    assert (await env().run(calls.publish, req)).state == "pending"  # the retry owns the call again


async def test_a_refusal_is_a_recorded_failure(fakes: Fakes, calls: PlatformCalls) -> None:
    req = request(fakes)
    await fakes.post(
        W, "faults", {"path": "/cgi-bin/freepublish/submit", "kind": "errcode", "errcode": 48001}
    )
    failed = await env().run(calls.publish, req)
    assert (failed.state, failed.code) == ("failed", "48001")
    assert await env().run(calls.publish, req) == failed


async def test_status_errors_keep_their_class(fakes: Fakes, calls: PlatformCalls) -> None:
    await fakes.post(W, "faults", {"path": "/cgi-bin/freepublish/get", "kind": "errcode", "errcode": 40164})
    with pytest.raises(ApplicationError) as caught:
        await env().run(calls.status, StatusRequest(platform=W, account="demo", handle="1"))
    assert caught.value.non_retryable
    assert caught.value.type == "Platform:40164"


async def test_a_reply_is_sent_at_most_once(fakes: Fakes, calls: PlatformCalls) -> None:
    user = f"o_{uuid.uuid4().hex[:8]}"
    await fakes.post(W, "user-message", {"appid": "wxdemo0000000001", "openid": user, "text": "你好"})
    inbound = Inbound(
        platform=W, account="demo", message_id="77", user=user, text="你好", sent_at=datetime.now(UTC)
    )
    req = ReplyRequest(
        platform=W, account="demo", key=f"inquiry-wechat-77/{user}", inbound=inbound, text="您好！"
    )
    assert (await env().run(calls.reply, req)).state == "sent"
    assert (await env().run(calls.reply, req)).state == "sent"
    sent = [m for m in (await fakes.state(W))["messages_sent"] if m.get("touser") == user]  # type: ignore[union-attr]
    assert len(sent) == 1


async def test_the_workflow_waiting_on_a_publication_is_found_by_its_handle(
    fakes: Fakes, calls: PlatformCalls, store: EventStore
) -> None:
    outcome = await env("article-42").run(calls.publish, request(fakes))
    assert await publication_waiter(store.pool, W, outcome.handle or "") == "article-42"
    assert await publication_waiter(store.pool, W, "no-such-handle") is None


@pytest.mark.parametrize(
    ("fault", "posted"),
    [
        ({"kind": "html_after_accept", "status": 502}, 1),  # a gateway's 502 after WeChat did the work
        ({"kind": "html_after_accept", "status": 200}, 1),  # a portal's page in place of the answer
        ({"kind": "html", "status": 502}, 0),  # the same 502 before: the client cannot tell them apart
        ({"kind": "http_500"}, 0),
    ],
    ids=["502-after", "page-after", "502-before", "500-before"],
)
async def test_a_publishing_call_in_doubt_is_never_made_again(
    fakes: Fakes, calls: PlatformCalls, fault: dict[str, object], posted: int
) -> None:
    """H1: a 5xx or a page answering the publishing call leaves it in doubt: unknown, for a person."""
    before = await published(fakes)
    await fakes.post(W, "faults", {"path": "/cgi-bin/freepublish/submit", **fault})
    req = request(fakes)
    first = await env().run(calls.publish, req)
    assert first.state == "unknown"
    assert "/cgi-bin/freepublish/submit" in (first.reason or "")
    again = await env().run(calls.publish, req)  # Temporal runs the activity again: nothing is sent
    assert again.state == "unknown"
    assert await published(fakes) == before + posted


async def test_a_reply_in_doubt_is_unknown_and_never_sent_twice(fakes: Fakes, calls: PlatformCalls) -> None:
    user = f"o_{uuid.uuid4().hex[:8]}"
    await fakes.post(W, "user-message", {"appid": "wxdemo0000000001", "openid": user, "text": "在吗"})
    await fakes.post(
        W, "faults", {"path": "/cgi-bin/message/custom/send", "kind": "html_after_accept", "status": 504}
    )
    inbound = Inbound(
        platform=W, account="demo", message_id="78", user=user, text="在吗", sent_at=datetime.now(UTC)
    )
    req = ReplyRequest(
        platform=W, account="demo", key=f"inquiry-wechat-78/{user}", inbound=inbound, text="在的"
    )
    assert (await env().run(calls.reply, req)).state == "unknown"
    assert (await env().run(calls.reply, req)).state == "unknown"
    sent = [m for m in (await fakes.state(W))["messages_sent"] if m.get("touser") == user]  # type: ignore[union-attr]
    assert len(sent) == 1


async def test_a_call_cut_short_keeps_its_claim(fakes: Fakes, calls: PlatformCalls) -> None:
    """A cancellation (a timeout, a worker stopping) mid-call must not free the call for a retry."""
    before = await published(fakes)
    await fakes.post(
        W, "faults", {"path": "/cgi-bin/freepublish/submit", "kind": "timeout_after_accept", "delay_s": 3}
    )
    req = request(fakes)
    running = env()
    attempt = asyncio.ensure_future(running.run(calls.publish, req))
    for _ in range(100):  # until WeChat has accepted the submit (its answer is held back)
        if await published(fakes) > before:
            break
        await asyncio.sleep(0.05)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await attempt
    retried = await env().run(calls.publish, req)
    assert retried.state == "unknown"
    assert await published(fakes) == before + 1
