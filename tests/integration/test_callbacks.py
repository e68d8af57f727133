"""Platform callbacks over HTTP: the fakes push, signed, to a running API; workflows receive them."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest
import uvicorn
from temporalio import workflow
from temporalio.testing import WorkflowEnvironment

with workflow.unsafe.imports_passed_through():
    from activities.platform_calls import PublishRequest
    from activities.platforms.wechat_crypto import signature, to_xml
    from api.app import create_app
    from deploy.processes import free_port
    from domain.outcomes import Post, PublishOutcome
    from domain.platforms import Platform
    from domain.policy import Policy
    from eventstore.store import EventStore
    from mediaops.settings import Settings
    from tests.platforms_support import Fakes, running_fakes
    from workers.worker import build_worker, platform_workers
    from workflows.recording import platform_queue
    from workflows.signals import PUBLICATION_FINISHED, PublicationUpdate

W = Platform.WECHAT
APPID = "wxdemo0000000001"


@workflow.defn(sandboxed=False)
class PublishAndWait:
    """Publishes on the platform's queue, then waits for the platform's push (as articles will)."""

    def __init__(self) -> None:
        self.update: PublicationUpdate | None = None

    @workflow.signal(name=PUBLICATION_FINISHED)
    def finished(self, update: PublicationUpdate) -> None:
        self.update = update

    @workflow.run
    async def run(self, request: PublishRequest) -> PublishOutcome:
        await workflow.execute_activity(
            "platform.publish",
            request,
            result_type=PublishOutcome,
            task_queue=platform_queue(request.platform),
            start_to_close_timeout=timedelta(seconds=30),
        )
        await workflow.wait_condition(lambda: self.update is not None, timeout=timedelta(seconds=30))
        assert self.update is not None
        return self.update.outcome


class Stack:
    def __init__(self, api: str, fakes: Fakes, env: WorkflowEnvironment, queue: str) -> None:
        self.api, self.fakes, self.env, self.queue = api, fakes, env, queue


@pytest.fixture(scope="module")
async def stack(database: str, temporal_dev: WorkflowEnvironment, store: EventStore) -> AsyncIterator[Stack]:
    port = free_port()
    api = f"http://127.0.0.1:{port}"
    async with running_fakes(callback_base=api) as fakes, AsyncExitStack() as workers:
        target = temporal_dev.client.service_client.config.target_host
        queue = f"callbacks-{uuid.uuid4().hex[:6]}"
        settings = Settings(database_url=database, temporal_address=target, task_queue=queue)
        server = uvicorn.Server(
            uvicorn.Config(create_app(settings, fakes.accounts), host="127.0.0.1", port=port, log_config=None)
        )
        serving = asyncio.create_task(server.serve())
        policy = Policy()
        for worker in [
            build_worker(temporal_dev.client, settings, policy, store, extra_workflows=[PublishAndWait]),
            *platform_workers(temporal_dev.client, policy, fakes.accounts, store.pool),
        ]:
            await workers.enter_async_context(worker)
        while not server.started:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        yield Stack(api, fakes, temporal_dev, queue)
        server.should_exit = True
        await serving


def signed_query(token: str = "demo-wechat-token", when: int | None = None) -> dict[str, str]:
    timestamp, nonce = str(when or int(time.time())), uuid.uuid4().hex[:8]
    return {"signature": signature(token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce}


async def inquiry_runs(stack: Stack, msg_id: str) -> int:
    count = 0
    async for _ in stack.env.client.list_workflows(f"WorkflowId = 'inquiry-wechat-{msg_id}'"):
        count += 1
    return count


async def events_of(store: EventStore, stream: str) -> list[str]:
    for _ in range(400):  # up to 20 s on a loaded machine; usually the first few tries
        recorded = await store.read_stream(stream)
        if recorded:
            return [e.type for e in recorded]
        await asyncio.sleep(0.05)
    return []


async def test_server_url_verification(stack: Stack) -> None:
    async with httpx.AsyncClient() as http:
        ok = await http.get(f"{stack.api}/webhooks/wechat/demo", params={**signed_query(), "echostr": "e123"})
        assert (ok.status_code, ok.text) == (200, "e123")
        bad = await http.get(
            f"{stack.api}/webhooks/wechat/demo", params={**signed_query("wrong"), "echostr": "e"}
        )
        assert bad.status_code == 403
        unknown = await http.get(f"{stack.api}/webhooks/wechat/nobody", params=signed_query())
        assert unknown.status_code == 404


@pytest.mark.parametrize("safe", [False, True])
async def test_a_pushed_message_becomes_one_inquiry(stack: Stack, store: EventStore, safe: bool) -> None:
    msg_id = str(uuid.uuid4().int % 10**15)
    if safe:
        answer = await stack.fakes.post(
            W, "user-message", {"appid": APPID, "openid": "o_user", "text": "你好", "msg_id": msg_id}
        )
    else:
        xml = to_xml(
            {
                "ToUserName": APPID,
                "FromUserName": "o_user",
                "CreateTime": int(time.time()),
                "MsgType": "text",
                "Content": "你好",
                "MsgId": int(msg_id),
            }
        )
        async with httpx.AsyncClient() as http:
            response = await http.post(
                f"{stack.api}/webhooks/wechat/demo", params=signed_query(), content=xml
            )
        answer = {"status": response.status_code, "body": response.text}
    assert answer["status"] == 200  # type: ignore[index]
    assert answer["body"] == "success"  # type: ignore[index]
    assert (await events_of(store, f"inquiry-wechat-{msg_id}"))[:1] == ["inquiry.received"]
    # WeChat delivers again (it retries when unsure): acknowledged, nothing new starts
    again = await stack.fakes.post(
        W, "user-message", {"appid": APPID, "openid": "o_user", "text": "你好", "msg_id": msg_id}
    )
    assert again["body"] == "success"  # type: ignore[index]
    assert await inquiry_runs(stack, msg_id) == 1
    assert (await events_of(store, f"inquiry-wechat-{msg_id}")).count("inquiry.received") == 1


async def test_unsigned_stale_or_foreign_callbacks_start_nothing(stack: Stack, store: EventStore) -> None:
    msg_id = str(uuid.uuid4().int % 10**15)
    xml = to_xml(
        {
            "ToUserName": APPID,
            "FromUserName": "o",
            "CreateTime": 1,
            "MsgType": "text",
            "Content": "x",
            "MsgId": int(msg_id),
        }
    )
    async with httpx.AsyncClient() as http:
        unsigned = await http.post(f"{stack.api}/webhooks/wechat/demo", content=xml)
        stale = await http.post(
            f"{stack.api}/webhooks/wechat/demo",
            params=signed_query(when=int(time.time()) - 3600),
            content=xml,
        )
        bomb = await http.post(
            f"{stack.api}/webhooks/wechat/demo",
            params=signed_query(),
            content='<!DOCTYPE x [<!ENTITY a "b">]><xml><A>&a;</A></xml>',
        )
    assert (unsigned.status_code, stale.status_code, bomb.status_code) == (403, 403, 400)
    assert "replayed" in stale.json()["detail"]
    await asyncio.sleep(0.3)
    assert await inquiry_runs(stack, msg_id) == 0
    assert await store.read_stream(f"inquiry-wechat-{msg_id}") == []


async def test_publishjobfinish_reaches_the_waiting_workflow(stack: Stack) -> None:
    """The fake pushes PUBLISHJOBFINISH (encrypted) to the API, which signals the publisher."""
    post = Post(
        key=f"article-{uuid.uuid4().hex[:6]}/v1",
        title="年度大事记",
        body_html=f'<p>回顾</p><img src="{stack.fakes.image()}">',
    )
    outcome = await stack.env.client.execute_workflow(
        PublishAndWait.run,
        PublishRequest(platform=W, account="demo", post=post),
        id=f"article-{uuid.uuid4().hex[:8]}",
        task_queue=stack.queue,
        result_type=PublishOutcome,
    )
    assert outcome.state == "published"
    assert (outcome.url or "").startswith("https://mp.weixin.qq.com/s/")
    pushes = (await stack.fakes.state(W))["pushes"]
    assert any(p["event"] == "PUBLISHJOBFINISH" and p["body"] == "success" for p in pushes)  # type: ignore[union-attr]


async def test_a_weibo_fan_message_push_becomes_an_inquiry(stack: Stack, store: EventStore) -> None:
    secret = stack.fakes.account(Platform.WEIBO).secret.get_secret_value()
    sent = datetime.now(ZoneInfo("Asia/Shanghai")).replace(microsecond=0)
    created = sent.strftime("%a %b %d %H:%M:%S %z %Y")
    sender = f"u{uuid.uuid4().hex[:8]}"
    body = {
        "type": "text",
        "receiver_id": 1000001,
        "sender_id": sender,
        "created_at": created,
        "text": "在吗？",
    }
    async with httpx.AsyncClient() as http:
        ok = await http.post(f"{stack.api}/webhooks/weibo/demo", params=signed_query(secret), json=body)
        forged = await http.post(f"{stack.api}/webhooks/weibo/demo", params=signed_query("guess"), json=body)
    assert (ok.status_code, ok.text, forged.status_code) == (200, "success", 403)
    stream = f"inquiry-weibo-{sender}-{int(sent.timestamp())}"
    assert (await events_of(store, stream))[:1] == ["inquiry.received"]


async def test_no_credential_reaches_a_history_or_an_event(stack: Stack, store: EventStore) -> None:
    """R-SECRETS: workflows and events name accounts; secrets stay in the worker and the API."""
    secrets = set()
    for account in stack.fakes.accounts.all():
        secrets |= {
            account.secret.get_secret_value(),
            account.token.get_secret_value(),
            account.password.get_secret_value(),
        }
        secrets |= {k.get_secret_value() for k in account.aes_keys}
    secrets.discard("")
    histories = []
    async for execution in stack.env.client.list_workflows():
        history = await stack.env.client.get_workflow_handle(
            execution.id, run_id=execution.run_id
        ).fetch_history()
        histories.append(history.to_json())
    assert histories
    events = [
        str(r["data"]) + str(r["metadata"])
        for r in await store.pool.fetch("SELECT data, metadata FROM events")
    ]
    assert events
    for text in [*histories, *events]:
        for secret in secrets:
            assert secret not in text


@pytest.mark.parametrize(
    ("story", "answered_ago"),
    [("its workflow has ended", timedelta(hours=1)), ("the answer is too old", timedelta(days=2))],
)
async def test_a_user_with_no_inquiry_to_reopen_starts_a_new_one(
    stack: Stack, store: EventStore, db: asyncpg.Connection, story: str, answered_ago: timedelta
) -> None:
    """The record names the user's earlier inquiry, but it cannot take the message: nothing is lost."""
    user = f"o_{uuid.uuid4().hex[:8]}"
    earlier = f"inquiry-wechat-gone-{uuid.uuid4().hex[:6]}"  # no such workflow any more
    answered = datetime.now(ZoneInfo("UTC")) - answered_ago
    await db.execute(
        """INSERT INTO inquiries (id, platform, account, "user", status, answered_at, state)
           VALUES ($1, 'wechat', 'demo', $2, 'answered', $3, '{}')""",
        earlier,
        user,
        answered,
    )
    msg_id = str(uuid.uuid4().int % 10**15)
    pushed = await stack.fakes.post(
        W, "user-message", {"appid": APPID, "openid": user, "text": "还在吗？", "msg_id": msg_id}
    )
    assert pushed["body"] == "success", story  # type: ignore[index]
    assert (await events_of(store, f"inquiry-wechat-{msg_id}"))[:1] == ["inquiry.received"], story
    assert await store.read_stream(earlier) == []
