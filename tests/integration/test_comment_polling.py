"""Comments platforms do not push are read on a schedule: each becomes one inquiry, once."""

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime

import pytest
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.platform_calls import PlatformCalls, PublishRequest
from domain.inquiries import Reply, Responder
from domain.outcomes import Post
from domain.platforms import Platform
from domain.policy import Policy, policy_from_mapping
from domain.roles import Role
from eventstore.store import EventStore
from mediaops.settings import Settings
from tests.identity_support import in_directory, signed
from tests.platforms_support import Fakes, running_fakes
from workers.schedules import ensure_comment_polls
from workers.worker import build_worker, platform_workers
from workflows.comment_poll import CommentPollWorkflow
from workflows.contracts import CommentPollRequest
from workflows.inquiry import InquiryWorkflow

QUEUE = f"comments-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
async def world(temporal_dev: WorkflowEnvironment, store: EventStore) -> AsyncIterator[Fakes]:
    async with running_fakes() as fakes, AsyncExitStack() as stack:
        for worker in [
            build_worker(temporal_dev.client, Settings(task_queue=QUEUE), Policy(), store),
            *platform_workers(temporal_dev.client, Policy(), fakes.accounts, store.pool),
        ]:
            await stack.enter_async_context(worker)
        yield fakes


async def test_each_new_comment_becomes_one_inquiry(
    world: Fakes, temporal_dev: WorkflowEnvironment, store: EventStore
) -> None:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, workflow_id="article-commented", workflow_run_id="r")
    post = Post(
        key=f"a-{uuid.uuid4().hex[:6]}/v1", title="年度回顾", body_html=f'<p>x</p><img src="{world.image()}">'
    )
    published = await env.run(
        PlatformCalls(world.accounts, store.pool).publish,
        PublishRequest(platform=Platform.WECHAT, account="demo", post=post),
    )
    msg_data_id = published.platform_ids["msg_data_id"]
    comments = [
        await world.post(
            Platform.WECHAT, "comment", {"msg_data_id": msg_data_id, "openid": f"o{i}", "text": f"请问{i}"}
        )
        for i in range(2)
    ]
    request = CommentPollRequest(platform=Platform.WECHAT, account="demo", policy=Policy())

    async def poll() -> int:
        return await temporal_dev.client.execute_workflow(
            CommentPollWorkflow.run, request, id=f"poll-{uuid.uuid4().hex[:6]}", task_queue=QUEUE
        )

    assert await poll() == 2
    assert await poll() == 0  # the windows overlap; Temporal refuses a second run of each inquiry
    for comment in comments:
        stream = f"inquiry-wechat-{comment['user_comment_id']}"  # type: ignore[index]
        for _ in range(100):
            recorded = await store.read_stream(stream)
            if recorded:
                break
            await asyncio.sleep(0.05)
        assert recorded[0].type == "inquiry.received"
        assert recorded[0].data["kind"] == "comment"
        assert recorded[0].data["thread"] == f"{msg_data_id}/0"


async def test_schedules_are_created_once_per_account(
    world: Fakes, temporal_dev: WorkflowEnvironment
) -> None:
    queue = f"sched-{uuid.uuid4().hex[:6]}"
    first = await ensure_comment_polls(temporal_dev.client, queue, Policy(), world.accounts)
    assert sorted(first) == [
        "poll-comments-baijiahao-demo",
        "poll-comments-website-demo",
        "poll-comments-wechat-demo",
        "poll-comments-weibo-demo",
    ]
    assert await ensure_comment_polls(temporal_dev.client, queue, Policy(), world.accounts) == []
    described = await temporal_dev.client.get_schedule_handle("poll-comments-wechat-demo").describe()
    assert described.schedule.spec.intervals[0].every.total_seconds() == 600
    for schedule_id in first:
        await temporal_dev.client.get_schedule_handle(schedule_id).delete()


async def test_baijiahao_comments_become_inquiries_answered_in_its_console(
    world: Fakes, temporal_dev: WorkflowEnvironment, store: EventStore
) -> None:
    """Baijiahao pushes nothing and has no reply API: comments are polled, answers recorded as given."""
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, workflow_id="article-on-baijiahao", workflow_run_id="r")
    post = Post(
        key=f"a-{uuid.uuid4().hex[:6]}/v1",
        title="2026年秋季招聘正式启动",
        body_html=f'<p>欢迎</p><img src="{world.image()}">',
        source_url="https://www.example.com/news/1",
    )
    submitted = await env.run(
        PlatformCalls(world.accounts, store.pool).publish,
        PublishRequest(platform=Platform.BAIJIAHAO, account="demo", post=post),
    )
    article_id = submitted.platform_ids["article_id"]
    comment = await world.post(
        Platform.BAIJIAHAO,
        "comment",
        {"article_id": article_id, "uid": "bj0001", "content": "还招实习生吗？"},
    )
    request = CommentPollRequest(platform=Platform.BAIJIAHAO, account="demo", policy=Policy())
    polled = await temporal_dev.client.execute_workflow(
        CommentPollWorkflow.run, request, id=f"poll-{uuid.uuid4().hex[:6]}", task_queue=QUEUE
    )
    assert polled == 1
    inquiry = temporal_dev.client.get_workflow_handle_for(
        InquiryWorkflow.run,
        f"inquiry-baijiahao-{comment['reply_id']}",  # type: ignore[index]
    )
    staff = Responder(id="li.content", roles=frozenset({Role.CONTENT_SPECIALIST}))
    async with store.pool.acquire() as conn:
        await in_directory(conn, staff)
    reply = Reply(actor=staff, text="招的，请投递简历。", at=datetime.now(UTC))
    answered = await inquiry.execute_update(InquiryWorkflow.reply, signed(inquiry.id, reply))
    assert (answered.status, answered.inquiry.within_sla) == ("answered", True)
    assert "no reply API" in (answered.inquiry.replies[0].outcome.reason or "")
    assert (await world.state(Platform.BAIJIAHAO))["messages_sent"] == []


async def test_a_poll_reads_from_the_last_success_so_an_outage_loses_nothing(
    world: Fakes, temporal_dev: WorkflowEnvironment, store: EventStore
) -> None:
    """H10: the worker was down for longer than three intervals; the comment written then is read."""
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, workflow_id="article-outage", workflow_run_id="r")
    post = Post(
        key=f"a-{uuid.uuid4().hex[:6]}/v1", title="停机", body_html=f'<p>x</p><img src="{world.image()}">'
    )
    published = await env.run(
        PlatformCalls(world.accounts, store.pool).publish,
        PublishRequest(platform=Platform.WECHAT, account="demo", post=post),
    )
    policy = policy_from_mapping({"R-INQUIRY-12H": {"comment_poll_every": "1s"}})
    request = CommentPollRequest(platform=Platform.WECHAT, account="demo", policy=policy)

    async def poll() -> int:
        return await temporal_dev.client.execute_workflow(
            CommentPollWorkflow.run, request, id=f"poll-{uuid.uuid4().hex[:6]}", task_queue=QUEUE
        )

    await poll()  # the last success before the outage
    msg_data_id = published.platform_ids["msg_data_id"]
    await world.post(
        Platform.WECHAT, "comment", {"msg_data_id": msg_data_id, "openid": "o_down", "text": "有人吗"}
    )
    await asyncio.sleep(4)  # no poll for four intervals: a fixed lookback of three would miss it
    assert await poll() == 1
