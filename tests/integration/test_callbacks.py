"""Platform callbacks over HTTP: the fakes push, signed, to a running API; workflows receive them.

Only what the platform signed, fresh, once, for this account and well formed starts anything.
"""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr
from temporalio import workflow
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

with workflow.unsafe.imports_passed_through():
    from activities.platform_calls import PublishRequest
    from activities.platforms.accounts import Account, Accounts, AccountsError
    from activities.platforms.wechat_crypto import WeChatCipher, signature, to_xml
    from api.app import create_app
    from deploy.processes import free_port
    from domain.outcomes import Post, PublishOutcome
    from domain.platforms import Platform
    from domain.policy import Policy
    from eventstore.store import EventStore
    from mediaops.settings import Settings
    from tests.platforms_support import AES_KEY, Fakes, running_fakes
    from workers.worker import build_worker, platform_workers
    from workflows.recording import platform_queue
    from workflows.signals import PUBLICATION_FINISHED, PublicationUpdate

W = Platform.WECHAT
APPID = "wxdemo0000000001"
ORIGINAL_ID = "gh_de0000000001"  # the demo WeChat account's: safe mode (it has an AES key)
TOKEN = "demo-wechat-token"
PLAIN = Account(
    platform=W,
    name="plain",
    base_url="http://127.0.0.1:9/wechat",  # the API never calls out for an account
    appid="wxplain000000001",
    original_id="gh_0a0a0a0a0a0a",
    token=SecretStr("plain-wechat-token"),
)
"""A WeChat account in plain mode (no AES key), known to the API only."""
PLAIN_TOKEN = PLAIN.token.get_secret_value()


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
    def __init__(
        self, api: str, fakes: Fakes, env: WorkflowEnvironment, queue: str, database: str, accounts: Accounts
    ) -> None:
        self.api, self.fakes, self.env, self.queue = api, fakes, env, queue
        self.database, self.accounts = database, accounts


@asynccontextmanager
async def serving(app: FastAPI, port: int | None = None) -> AsyncIterator[str]:
    """The app on loopback over real HTTP, as a second (or first) API process would be."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    serve = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serve


@pytest.fixture(scope="module")
async def stack(database: str, temporal_dev: WorkflowEnvironment, store: EventStore) -> AsyncIterator[Stack]:
    port = free_port()
    async with running_fakes(callback_base=f"http://127.0.0.1:{port}") as fakes, AsyncExitStack() as running:
        target = temporal_dev.client.service_client.config.target_host
        queue = f"callbacks-{uuid.uuid4().hex[:6]}"
        settings = Settings(database_url=database, temporal_address=target, task_queue=queue)
        accounts = Accounts([*fakes.accounts.all(), PLAIN])
        api = await running.enter_async_context(serving(create_app(settings, accounts), port))
        policy = Policy()
        for worker in [
            build_worker(temporal_dev.client, settings, policy, store, extra_workflows=[PublishAndWait]),
            *platform_workers(temporal_dev.client, policy, fakes.accounts, store.pool),
        ]:
            await running.enter_async_context(worker)
        yield Stack(api, fakes, temporal_dev, queue, database, accounts)


def signed_query(key: str = TOKEN, when: int | None = None) -> dict[str, str]:
    timestamp, nonce = str(when or int(time.time())), uuid.uuid4().hex[:8]
    return {"signature": signature(key, timestamp, nonce), "timestamp": timestamp, "nonce": nonce}


def new_msg_id() -> str:
    return str(uuid.uuid4().int % 10**15)


def text_message(
    msg_id: str,
    to: str = PLAIN.original_id,
    user: str = "o_user",
    changed: dict[str, str | int] | None = None,
) -> str:
    message: dict[str, str | int] = {
        "ToUserName": to,
        "FromUserName": user,
        "CreateTime": int(time.time()),
        "MsgType": "text",
        "Content": "你好",
        "MsgId": int(msg_id),
    }
    return to_xml({**message, **(changed or {})})


def safe_mode(inner_xml: str, appid: str = APPID) -> tuple[dict[str, str], str]:
    """The query and envelope WeChat sends in safe mode, for the demo account's token and key."""
    query = signed_query()
    encrypted = WeChatCipher([AES_KEY], appid).encrypt(inner_xml.encode())
    query |= {
        "encrypt_type": "aes",
        "msg_signature": signature(TOKEN, query["timestamp"], query["nonce"], encrypted),
    }
    return query, to_xml({"ToUserName": ORIGINAL_ID, "Encrypt": encrypted})


async def post(url: str, query: dict[str, str], body: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.post(url, params=query, content=body.encode())


async def inquiry_runs(stack: Stack, msg_id: str) -> int:
    count = 0
    async for _ in stack.env.client.list_workflows(f"WorkflowId = 'inquiry-wechat-{msg_id}'"):
        count += 1
    return count


async def started(stack: Stack, workflow_id: str) -> bool:
    """Whether the workflow exists (asked of the server itself, not its eventually consistent list)."""
    try:
        await stack.env.client.get_workflow_handle(workflow_id).describe()
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


async def started_nothing(stack: Stack, store: EventStore, msg_id: str) -> bool:
    stream = f"inquiry-wechat-{msg_id}"
    return not await started(stack, stream) and await store.read_stream(stream) == []


async def events_of(store: EventStore, stream: str) -> list[str]:
    for _ in range(400):  # up to 20 s on a loaded machine; usually the first few tries
        recorded = await store.read_stream(stream)
        if recorded:
            return [e.type for e in recorded]
        await asyncio.sleep(0.05)
    return []


async def test_server_url_verification(stack: Stack) -> None:
    url = f"{stack.api}/webhooks/wechat/demo"
    async with httpx.AsyncClient() as http:
        query = {**signed_query(), "echostr": "e123"}
        ok = await http.get(url, params=query)
        assert (ok.status_code, ok.text) == (200, "e123")
        again = await http.get(url, params=query)
        assert (again.status_code, "replayed" in again.json()["detail"]) == (403, True)
        stale = await http.get(url, params={**signed_query(when=int(time.time()) - 120), "echostr": "e"})
        assert stale.status_code == 403
        bad = await http.get(url, params={**signed_query("wrong"), "echostr": "e"})
        unknown = await http.get(f"{stack.api}/webhooks/wechat/nobody", params=signed_query())
    # a wrong key and an unknown account cannot be told apart: the URL does not list accounts
    assert (bad.status_code, unknown.status_code) == (404, 404)
    assert bad.json() == unknown.json()


@pytest.mark.parametrize("safe", [False, True])
async def test_a_pushed_message_becomes_one_inquiry(stack: Stack, store: EventStore, safe: bool) -> None:
    msg_id = new_msg_id()

    async def deliver() -> None:
        if safe:  # the fake pushes as WeChat does: encrypted, to the original id
            answer = await stack.fakes.post(
                W, "user-message", {"appid": APPID, "openid": "o_user", "text": "你好", "msg_id": msg_id}
            )
            assert answer["body"] == "success"  # type: ignore[index]
        else:
            response = await post(
                f"{stack.api}/webhooks/wechat/plain", signed_query(PLAIN_TOKEN), text_message(msg_id)
            )
            assert (response.status_code, response.text) == (200, "success")

    await deliver()
    assert (await events_of(store, f"inquiry-wechat-{msg_id}"))[:1] == ["inquiry.received"]
    await deliver()  # WeChat delivers again (it retries when unsure): acknowledged, nothing new starts
    assert await inquiry_runs(stack, msg_id) == 1
    assert (await events_of(store, f"inquiry-wechat-{msg_id}")).count("inquiry.received") == 1


async def test_unsigned_stale_or_hostile_callbacks_start_nothing(stack: Stack, store: EventStore) -> None:
    msg_id = new_msg_id()
    url = f"{stack.api}/webhooks/wechat/plain"
    xml = text_message(msg_id)
    unsigned = await post(url, {}, xml)
    stale = await post(url, signed_query(PLAIN_TOKEN, when=int(time.time()) - 3600), xml)
    future = await post(url, signed_query(PLAIN_TOKEN, when=int(time.time()) + 120), xml)
    bomb = await post(url, signed_query(PLAIN_TOKEN), '<!DOCTYPE x [<!ENTITY a "b">]><xml><A>&a;</A></xml>')
    assert [r.status_code for r in (unsigned, stale, future, bomb)] == [404, 403, 403, 400]
    assert "replayed" in stale.json()["detail"]
    assert await started_nothing(stack, store, msg_id)


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ('platform = "wechat"\nname = "shop"\nappid = "wx1"\noriginal_id = "gh_0123456789ab"', "token"),
        (
            'platform = "wechat"\nname = "shop"\ntoken = "   "\noriginal_id = "gh_0123456789ab"',
            "token",
        ),
        ('platform = "miniprogram"\nname = "shop"\nappid = "wx1"\ntoken = "t0ken"', "original_id"),
        (
            'platform = "wechat"\nname = "shop"\nappid = "wx1"\ntoken = "t0ken"\noriginal_id = "wx1"',
            "original_id",
        ),
        ('platform = "weibo"\nname = "shop"\nappid = "1001"\ntoken = "oauth-t0ken"', "secret"),
    ],
)
def test_a_pushing_account_without_its_callback_key_does_not_load(
    tmp_path: Path, entry: str, field: str
) -> None:
    path = tmp_path / "accounts.toml"
    path.write_text(f'[[account]]\n{entry}\nbase_url = "https://example.invalid"\n', encoding="utf-8")
    with pytest.raises(AccountsError) as refused:
        Accounts.load(path)
    message = str(refused.value)
    platform = entry.split('"')[1]
    assert f"({platform}/shop)" in message
    assert field in message
    assert "t0ken" not in message  # the other credentials are not repeated in the error
    fixed = {
        "token": 'token = "t0ken"\noriginal_id = "gh_0123456789ab"',
        "original_id": 'token = "t0ken"\noriginal_id = "gh_0123456789ab"',
        "secret": 'secret = "app-secret"',
    }[field]
    kept = "\n".join(line for line in entry.splitlines() if not line.startswith(("token", "original_id")))
    path.write_text(f'[[account]]\n{kept}\n{fixed}\nbase_url = "https://example.invalid"\n', encoding="utf-8")
    assert [a.name for a in Accounts.load(path).all()] == ["shop"]


async def test_a_callback_for_an_account_without_a_key_is_not_found(stack: Stack) -> None:
    """An empty key is never hashed: a signature over it is anyone's. Platforms that do not push have
    no callback key, and a publishing credential (Baijiahao's app token) is not one."""
    bjh_token = stack.accounts.get(Platform.BAIJIAHAO, "demo").token.get_secret_value()
    attempts = [
        ("website", ""),
        ("zhihu", ""),
        ("baijiahao", ""),
        ("baijiahao", bjh_token),
        ("wechat", ""),
        ("weibo", ""),
    ]
    async with httpx.AsyncClient() as http:
        unknown = await http.post(f"{stack.api}/webhooks/wechat/nobody", params=signed_query(""))
        for platform, key in attempts:
            url = f"{stack.api}/webhooks/{platform}/demo"
            for answer in [
                await http.get(url, params={**signed_query(key), "echostr": "e"}),
                await http.post(url, params=signed_query(key), content=b"<xml></xml>"),
            ]:
                assert (answer.status_code, answer.json()) == (404, unknown.json()), platform
    assert "nobody" not in unknown.text


async def test_safe_mode_cannot_be_downgraded_to_plain(stack: Stack, store: EventStore) -> None:
    """The demo account has an AES key: a plain message, however well signed, is refused."""
    msg_id = new_msg_id()
    plain = await post(
        f"{stack.api}/webhooks/wechat/demo", signed_query(), text_message(msg_id, to=ORIGINAL_ID)
    )
    assert plain.status_code == 403
    assert "safe mode" in plain.json()["detail"]
    raw = await post(
        f"{stack.api}/webhooks/wechat/demo",
        {**signed_query(), "encrypt_type": "raw"},
        text_message(msg_id, to=ORIGINAL_ID),
    )
    assert raw.status_code == 403
    assert await started_nothing(stack, store, msg_id)


async def test_a_timestamp_and_nonce_are_taken_once(stack: Stack, store: EventStore) -> None:
    """A leaked query string cannot carry another body while it is fresh."""
    url = f"{stack.api}/webhooks/wechat/plain"
    first, forged = new_msg_id(), new_msg_id()
    query = signed_query(PLAIN_TOKEN)
    assert (await post(url, query, text_message(first))).status_code == 200
    replayed = await post(url, query, text_message(forged, user="o_forger"))
    assert replayed.status_code == 403
    assert "replayed" in replayed.json()["detail"]
    assert await started_nothing(stack, store, forged)
    # the pair was refused, not the message: with a pair of its own it is taken
    assert (await post(url, signed_query(PLAIN_TOKEN), text_message(forged))).status_code == 200
    assert (await events_of(store, f"inquiry-wechat-{forged}"))[:1] == ["inquiry.received"]


async def test_a_message_acknowledged_while_temporal_is_down_still_becomes_its_inquiry(
    stack: Stack, store: EventStore
) -> None:
    """M12: a second API process, whose Temporal is down, keeps the message in the inbox and says
    "success" (WeChat will not deliver it again); the first process's inbox drain hands it over.
    The pair is shared by both processes: a replay to either is refused."""
    broken = Settings(
        database_url=stack.database, temporal_address=f"127.0.0.1:{free_port()}", task_queue=stack.queue
    )
    msg_id = new_msg_id()
    query, body = signed_query(PLAIN_TOKEN), text_message(msg_id, user=f"o_{uuid.uuid4().hex[:8]}")
    conn = await asyncpg.connect(stack.database)
    try:  # a row no drain can read, kept before: it must not hold up the others
        await conn.execute(
            """INSERT INTO inbox (platform, account, dedupe_key, received, kept_at)
               VALUES ('wechat', 'plain', $1, '{"not": "a delivery"}', now() - interval '1 minute')""",
            f"bad-{msg_id}",
        )
    finally:
        await conn.close()
    async with serving(create_app(broken, stack.accounts)) as other:
        acknowledged = await post(f"{other}/webhooks/wechat/plain", query, body)
        assert (acknowledged.status_code, acknowledged.text) == (200, "success")
        conn = await asyncpg.connect(stack.database)
        try:
            kept = await conn.fetchrow(
                "SELECT attempts, last_failure, taken_at FROM inbox WHERE dedupe_key = $1", msg_id
            )
            assert kept is not None
            assert (kept["attempts"], kept["taken_at"]) == (1, None)
            assert kept["last_failure"] == "Unreachable"  # the class only, never the text
            for replay_to in (other, stack.api):
                replayed = await post(f"{replay_to}/webhooks/wechat/plain", query, body)
                assert replayed.status_code == 403
            assert (await events_of(store, f"inquiry-wechat-{msg_id}"))[:1] == ["inquiry.received"]
            taken = await conn.fetchrow(
                "SELECT taken_at, workflow_id FROM inbox WHERE dedupe_key = $1", msg_id
            )
        finally:
            await conn.close()
    assert taken is not None
    assert taken["taken_at"] is not None
    assert taken["workflow_id"] == f"inquiry-wechat-{msg_id}"


async def test_a_message_must_be_addressed_to_the_accounts_original_id(
    stack: Stack, store: EventStore
) -> None:
    """WeChat puts the original id (gh_...) in ToUserName, never the appid; in safe mode the appid is
    inside the encrypted message, and must be the account's too."""
    plain_url = f"{stack.api}/webhooks/wechat/plain"
    to_appid, to_other, to_nobody = new_msg_id(), new_msg_id(), new_msg_id()
    assert (
        await post(plain_url, signed_query(PLAIN_TOKEN), text_message(to_appid, to=PLAIN.appid))
    ).status_code == 403
    assert (
        await post(plain_url, signed_query(PLAIN_TOKEN), text_message(to_other, to=ORIGINAL_ID))
    ).status_code == 403
    missing = to_xml(
        {"FromUserName": "o_user", "CreateTime": int(time.time()), "MsgType": "text", "MsgId": int(to_nobody)}
    )
    assert (await post(plain_url, signed_query(PLAIN_TOKEN), missing)).status_code == 403
    safe_url = f"{stack.api}/webhooks/wechat/demo"
    safe_to_appid, foreign_appid, accepted = new_msg_id(), new_msg_id(), new_msg_id()
    assert (await post(safe_url, *safe_mode(text_message(safe_to_appid, to=APPID)))).status_code == 403
    foreign = await post(
        safe_url, *safe_mode(text_message(foreign_appid, to=ORIGINAL_ID), appid="wxsomeoneelse01")
    )
    assert foreign.status_code == 400
    for msg_id in (to_appid, to_other, to_nobody, safe_to_appid, foreign_appid):
        assert await started_nothing(stack, store, msg_id)
    ok = await post(safe_url, *safe_mode(text_message(accepted, to=ORIGINAL_ID)))
    assert (ok.status_code, ok.text) == (200, "success")
    assert (await events_of(store, f"inquiry-wechat-{accepted}"))[:1] == ["inquiry.received"]


def _publish_job_finish(info: str) -> str:
    header = to_xml(
        {
            "ToUserName": PLAIN.original_id,
            "FromUserName": "mphelper",
            "CreateTime": int(time.time()),
            "MsgType": "event",
            "Event": "PUBLISHJOBFINISH",
        }
    )
    return header.removesuffix("</xml>") + info + "</xml>"


@pytest.mark.parametrize(
    ("story", "fields", "event"),
    [
        ("CreateTime is not a number", {"CreateTime": "yesterday"}, None),
        ("CreateTime is 1970", {"CreateTime": 1}, None),
        ("CreateTime is far ahead", {"CreateTime": 99_999_999_999}, None),
        ("the sender is not an OpenID", {"FromUserName": "o_user' OR '1'='1"}, None),
        ("PublishEventInfo is a string", {}, "<PublishEventInfo>done</PublishEventInfo>"),
        (
            "the article items are strings",
            {},
            "<PublishEventInfo><publish_id>42</publish_id><publish_status>0</publish_status>"
            "<article_detail><count>1</count><item>https://evil</item></article_detail></PublishEventInfo>",
        ),
        (
            "publish_status is not a number",
            {},
            "<PublishEventInfo><publish_id>42</publish_id><publish_status>ok</publish_status></PublishEventInfo>",
        ),
    ],
)
async def test_a_signed_but_malformed_message_is_refused_and_starts_nothing(
    stack: Stack, store: EventStore, story: str, fields: dict[str, str | int], event: str | None
) -> None:
    msg_id = new_msg_id()
    body = _publish_job_finish(event) if event is not None else text_message(msg_id, changed=fields)
    refused = await post(f"{stack.api}/webhooks/wechat/plain", signed_query(PLAIN_TOKEN), body)
    assert refused.status_code == 400, story
    assert refused.json()["detail"].startswith("malformed callback"), story
    assert await started_nothing(stack, store, msg_id), story


async def test_a_message_without_createtime_is_refused_not_dated_1970(
    stack: Stack, store: EventStore
) -> None:
    msg_id = new_msg_id()
    body = to_xml(
        {
            "ToUserName": PLAIN.original_id,
            "FromUserName": "o_user",
            "MsgType": "text",
            "Content": "x",
            "MsgId": int(msg_id),
        }
    )
    refused = await post(f"{stack.api}/webhooks/wechat/plain", signed_query(PLAIN_TOKEN), body)
    assert (refused.status_code, refused.json()["detail"]) == (400, "malformed callback: CreateTime")
    assert await started_nothing(stack, store, msg_id)


def weibo_message(sender: str, sent: datetime, text: str = "在吗？") -> dict[str, object]:
    return {
        "type": "text",
        "receiver_id": 1000001,
        "sender_id": sender,
        "created_at": sent.strftime("%a %b %d %H:%M:%S %z %Y"),
        "text": text,
    }


async def test_a_weibo_fan_message_push_becomes_an_inquiry(stack: Stack, store: EventStore) -> None:
    secret = stack.fakes.account(Platform.WEIBO).secret.get_secret_value()
    assert secret  # a Weibo account without its secret does not load
    sent = datetime.now(ZoneInfo("Asia/Shanghai")).replace(microsecond=0)
    sender = f"u{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient() as http:
        url = f"{stack.api}/webhooks/weibo/demo"
        ok = await http.post(url, params=signed_query(secret), json=weibo_message(sender, sent))
        forged = await http.post(url, params=signed_query("guess"), json=weibo_message(sender, sent))
        empty = await http.post(url, params=signed_query(""), json=weibo_message(sender, sent))
    assert (ok.status_code, ok.text, forged.status_code, empty.status_code) == (200, "success", 404, 404)
    stream = f"inquiry-weibo-{sender}-{int(sent.timestamp())}"
    assert (await events_of(store, stream))[:1] == ["inquiry.received"]


async def test_a_push_with_a_nul_in_its_text_is_kept_and_taken(stack: Stack, store: EventStore) -> None:
    """PostgreSQL's jsonb refuses \u0000: the inbox keeps the text printable (U+FFFD), never a 500."""
    secret = stack.fakes.account(Platform.WEIBO).secret.get_secret_value()
    sent = datetime.now(ZoneInfo("Asia/Shanghai")).replace(microsecond=0)
    sender = f"u{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient() as http:
        ok = await http.post(
            f"{stack.api}/webhooks/weibo/demo",
            params=signed_query(secret),
            json=weibo_message(sender, sent, "在\u0000吗"),
        )
    assert (ok.status_code, ok.text) == (200, "success")
    stream = f"inquiry-weibo-{sender}-{int(sent.timestamp())}"
    assert (await events_of(store, stream))[:1] == ["inquiry.received"]
    received = (await store.read_stream(stream))[0]
    assert received.data["text"] == "在\ufffd吗"


@pytest.mark.parametrize(
    ("story", "body"),
    [
        ("created_at is not Weibo's time", {"sender_id": "u1", "created_at": "yesterday"}),
        ("created_at is two days back", None),
        ("the sender is missing", {"created_at": "Mon Jan 01 00:00:00 +0800 2024"}),
        ("the body is a list", [1, 2]),
    ],
)
async def test_a_signed_but_malformed_weibo_push_is_refused(
    stack: Stack, store: EventStore, story: str, body: object
) -> None:
    secret = stack.fakes.account(Platform.WEIBO).secret.get_secret_value()
    sender = f"u{uuid.uuid4().hex[:8]}"
    sent = datetime.now(ZoneInfo("Asia/Shanghai")).replace(microsecond=0) - timedelta(days=2)
    async with httpx.AsyncClient() as http:
        refused = await http.post(
            f"{stack.api}/webhooks/weibo/demo",
            params=signed_query(secret),
            json=body if body is not None else weibo_message(sender, sent),
        )
    assert refused.status_code == 400, story
    assert not await started(stack, f"inquiry-weibo-{sender}-{int(sent.timestamp())}"), story


async def test_publishjobfinish_reaches_the_waiting_workflow(stack: Stack) -> None:
    """The fake pushes PUBLISHJOBFINISH (encrypted, to the original id) to the API, which signals
    the publisher."""
    article = Post(
        key=f"article-{uuid.uuid4().hex[:6]}/v1",
        title="年度大事记",
        body_html=f'<p>回顾</p><img src="{stack.fakes.image()}">',
    )
    outcome = await stack.env.client.execute_workflow(
        PublishAndWait.run,
        PublishRequest(platform=W, account="demo", post=article),
        id=f"article-{uuid.uuid4().hex[:8]}",
        task_queue=stack.queue,
    )
    assert outcome.state == "published"
    assert (outcome.url or "").startswith("https://mp.weixin.qq.com/s/")
    pushes = (await stack.fakes.state(W))["pushes"]
    assert isinstance(pushes, list)
    assert any(p["event"] == "PUBLISHJOBFINISH" and p["body"] == "success" for p in pushes)


async def test_no_credential_reaches_a_history_or_an_event(stack: Stack, store: EventStore) -> None:
    """R-SECRETS: workflows and events name accounts; secrets stay in the worker and the API."""
    secrets = set()
    for account in stack.accounts.all():
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
    msg_id = new_msg_id()
    pushed = await stack.fakes.post(
        W, "user-message", {"appid": APPID, "openid": user, "text": "还在吗？", "msg_id": msg_id}
    )
    assert pushed["body"] == "success", story  # type: ignore[index]
    assert (await events_of(store, f"inquiry-wechat-{msg_id}"))[:1] == ["inquiry.received"], story
    assert await store.read_stream(earlier) == []
