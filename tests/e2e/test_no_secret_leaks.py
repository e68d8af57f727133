"""R-SECRETS end to end (issue 9, must show): WeChat's front end answers `draft/add` with HTML error
pages, and no credential appears in the history, the events, the logs or the API's answers.

The article goes the whole way as people use it: submitted by a content specialist and approved by
the operations manager through the HTTP API of a `mediaops up` on ports of its own. The fake answers
`draft/add` with a 502 page, then a captive portal's 200 page (both retried: their failures go to
the worker's log, traceback and all, and the last one into the history), then a 413 page (the
publication fails with a reason for the author). Every page names the URL it was asked for,
`?access_token=...` included, as a proxy's page does.
"""

import asyncio
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx
import pytest
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.client import Client

from activities.platforms.accounts import Accounts
from deploy.launch import StackProcess, stack_environment
from domain.platforms import Platform
from mediaops.settings import load_settings
from mediaops.temporal import connect

T = TypeVar("T")
UNREDACTED_QUERY = re.compile(r"access_token=(?!\[redacted\])")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackProcess]:
    env = stack_environment(tmp_path_factory.mktemp("secrets") / "state")
    running = StackProcess(env, Path(env["MEDIAOPS_HOME"]).parent / "up.log")
    try:
        running.wait_ready()
        yield running
    finally:
        try:
            running.interrupt()
        except subprocess.TimeoutExpired:
            running.kill()


def wait_for(check: Callable[[], T | None], what: str, within: float = 90) -> T:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def bearer(stack: StackProcess, role: str) -> dict[str, str]:
    issued = stack.cli("dev", "token", role)
    assert issued.returncode == 0, issued.stderr
    return {"Authorization": f"Bearer {issued.stdout.strip()}"}


def credentials(stack: StackProcess) -> dict[str, str]:
    """Every credential of the demo WeChat account, and the access token the fake issued for it."""
    account = Accounts.load(Path(stack.env["MEDIAOPS_HOME"]) / "accounts.toml").get(Platform.WECHAT, "demo")
    answer = httpx.post(  # not forced: the fake hands back the token it issued to the worker
        f"{stack.fakes}/wechat/cgi-bin/stable_token",
        json={
            "grant_type": "client_credential",
            "appid": account.appid,
            "secret": account.secret.get_secret_value(),
        },
    ).json()
    return {
        "access token": answer["access_token"],
        "appsecret": account.secret.get_secret_value(),
        "callback token": account.token.get_secret_value(),
        **{f"AES key {i}": key.get_secret_value() for i, key in enumerate(account.aes_keys)},
    }


def payloads_in(message: Message) -> Iterator[Payload]:
    """Every Payload in a history event, at any depth (inputs, results, failures' attributes)."""
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if field.message_type.GetOptions().map_entry:
            if field.message_type.fields_by_name["value"].message_type is None:
                continue
            items = list(value.values())
        else:
            items = list(value) if field.is_repeated else [value]
        for item in items:
            if isinstance(item, Payload):
                yield item
            else:
                yield from payloads_in(item)


async def history_texts(stack: StackProcess, workflow_id: str) -> dict[str, str]:
    """The workflow's history and description as stored (raw) and as the project's converter reads it."""
    with pytest.MonkeyPatch.context() as env:
        for name, value in stack.env.items():
            env.setenv(name, value)
        settings = load_settings()
    client: Client = await connect(settings, target=stack.temporal)
    handle = client.get_workflow_handle(workflow_id)
    history = await handle.fetch_history()
    described = (await handle.describe()).raw_description
    messages: list[Message] = [*history.events, described]
    stored = [p for m in messages for p in payloads_in(m)]
    codec = client.data_converter.payload_codec
    decoded = await codec.decode(stored) if codec else stored
    return {
        "history (raw JSON)": history.to_json(),
        "history (raw bytes)": b"".join(m.SerializeToString() for m in messages).decode("latin-1"),
        "history (decoded payloads)": "\n".join(p.data.decode("utf-8", "replace") for p in decoded),
    }


async def event_rows(dsn: str) -> str:
    conn = await asyncpg.connect(dsn)
    try:
        return "\n".join(r["row"] for r in await conn.fetch("SELECT e::text AS row FROM events e"))
    finally:
        await conn.close()


def test_an_html_413_from_draft_add_leaks_no_credential_anywhere(stack: StackProcess) -> None:
    writer, manager = bearer(stack, "content_specialist"), bearer(stack, "operations_manager")
    for status in (502, 200, 413):
        queued = httpx.post(
            f"{stack.fakes}/wechat/__fake__/faults",
            json={"path": "/cgi-bin/draft/add", "kind": "html", "status": status},
        )
        assert queued.status_code == 200, queued.text
    article = {
        "title": "秋季校园招聘开放日",
        "body": f'<p>欢迎参加公司秋季校园招聘开放日。</p><img src="{stack.fakes}/assets/open-day.jpg">',
        "category": "recruitment",
        "platforms": ["wechat"],
        "source": "人力资源部",
        "editor": "王编辑",
    }
    created = httpx.post(stack.url("/articles"), json=article, headers=writer, timeout=30)
    assert created.status_code in (201, 202), created.text  # 202: still being checked
    article_id = created.json()["id"]
    url = stack.url(f"/articles/{article_id}")
    wait_for(
        lambda: httpx.get(url, headers=writer).json()["waiting_on_role"] == "operations_manager", "review"
    )
    approved = httpx.post(
        f"{url}/review", json={"decision": "approve", "version": 1}, headers=manager, timeout=30
    )
    assert approved.status_code == 200, approved.text

    def failed() -> dict[str, Any] | None:
        publication = httpx.get(url, headers=writer).json()["publications"]["wechat"]
        return publication if publication["state"] == "failed" else None

    publication = wait_for(failed, "the WeChat publication to fail")
    assert httpx.get(f"{stack.fakes}/wechat/__fake__/state").json()["faults_queued"] == []

    secrets = credentials(stack)
    dsn = stack.cli("dev", "dsn").stdout.strip()
    texts = asyncio.run(history_texts(stack, f"article-{article_id}"))
    texts["events"] = asyncio.run(event_rows(dsn))
    texts["logs"] = stack.output()
    texts["GET /articles/{id}"] = httpx.get(url, headers=writer).text
    texts["GET /articles"] = httpx.get(stack.url("/articles"), headers=writer).text

    # Each place holds what happened, so a credential would be found there if it had leaked.
    for where, holds in [
        ("history (decoded payloads)", ("WeChat answered HTTP 200", "the post is too large")),
        ("events", ("WeChat answered HTTP 413",)),
        ("logs", ("WeChat answered HTTP 502", "WeChat answered HTTP 200", "Traceback (most recent call")),
        ("GET /articles/{id}", ("WeChat answered HTTP 413",)),
    ]:
        for text in holds:
            assert text in texts[where], f"{text!r} is not in {where}"
    leaks = [
        f"the {what} in {where}"
        for where, text in texts.items()
        for what, secret in secrets.items()
        if secret in text
    ]
    leaks += [
        f"an access_token query in {where}" for where, text in texts.items() if UNREDACTED_QUERY.search(text)
    ]
    assert not leaks, "credentials leaked: " + "; ".join(leaks)
    # What the author reads: which call, what WeChat said, and what to do about it.
    reason = publication["reason"]
    assert reason.startswith("WeChat answered HTTP 413 to /wechat/cgi-bin/draft/add: the post is too large")
    assert "?" not in reason
