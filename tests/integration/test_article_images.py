"""Issue 9 end to end, through the API, the worker and the fake WeChat: an article whose image is
on no allowlist is refused at submission (422) and its image is never requested; a text-only post
publishes on the demo WeChat account with its default cover."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from domain.platforms import Platform
from domain.roles import Role
from eventstore.db import connect
from eventstore.store import EventStore
from eventstore.users import demo_user_id, ensure_demo_users, issue_token
from mediaops.settings import Settings
from tests.http_support import TinyServer, jpeg
from tests.platforms_support import Fakes, running_fakes
from workers.worker import build_worker, platform_workers


@dataclass
class World:
    api: httpx.AsyncClient
    fakes: Fakes
    internal: TinyServer
    tokens: dict[Role, str]


@pytest.fixture(scope="module")
async def world(
    database: str,
    temporal_timeskip: WorkflowEnvironment,
    store: EventStore,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[World]:
    internal = TinyServer({"/healthz": jpeg()})
    async with running_fakes() as fakes, internal.running(), AsyncExitStack() as stack:
        target = temporal_timeskip.client.service_client.config.target_host
        policy_file = tmp_path_factory.mktemp("policy") / "policy.toml"
        # nothing receives the fake's PUBLISHJOBFINISH push here: the workflow polls, every second
        policy_file.write_text('[R-ACCOUNTS]\nstatus_poll_every = "1s"\n', encoding="utf-8")
        settings = Settings(
            database_url=database,
            temporal_address=target,
            task_queue=f"images-{uuid.uuid4().hex[:6]}",
            policy_file=policy_file,
        )
        for worker in [
            build_worker(temporal_timeskip.client, settings, settings.policy, store, accounts=fakes.accounts),
            *platform_workers(temporal_timeskip.client, settings.policy, fakes.accounts, store.pool),
        ]:
            await stack.enter_async_context(worker)
        app = create_app(settings, fakes.accounts)
        db = await connect(database)
        try:
            await ensure_demo_users(db)
            tokens = {r: await issue_token(db, demo_user_id(r), "test") for r in Role}
        finally:
            await db.close()
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as api:
            yield World(api, fakes, internal, tokens)
        await app.state.mediaops.close()


async def as_role(world: World, role: Role, method: str, path: str, body: object) -> httpx.Response:
    headers = {"Authorization": f"Bearer {world.tokens[role]}"}
    return await world.api.request(method, path, json=body, headers=headers)


def article(body: str) -> dict[str, Any]:
    return {
        "title": "本周活动预告",
        "body": body,
        "category": "company_news",
        "platforms": [Platform.WECHAT.value],
        "source": "市场部",
        "editor": "li.content",
    }


async def test_an_image_on_no_allowlist_is_refused_at_submission_and_never_fetched(world: World) -> None:
    body = f'<p>本周活动</p><img src="{world.internal.base}/healthz">'
    response = await as_role(world, Role.CONTENT_SPECIALIST, "POST", "/articles", article(body))
    assert response.status_code == 422
    answer = response.json()
    assert answer["error"] == "checks_failed"
    assert answer["rules"] == ["R-ACCOUNTS"]
    assert answer["detail"] == (
        f"image 1 ({world.internal.netloc}) is not on a public host, nor on the image hosts of the "
        "wechat account 'demo'"
    )
    assert world.internal.requests == []


async def test_a_text_only_post_publishes_on_the_demo_wechat(world: World) -> None:
    submitted = await as_role(
        world, Role.CONTENT_SPECIALIST, "POST", "/articles", article("<p>只有文字，没有图片。</p>")
    )
    assert submitted.status_code == 201, submitted.text
    created = submitted.json()
    review = {"decision": "approve", "version": created["version"]}
    approved = await as_role(
        world, Role.OPERATIONS_MANAGER, "POST", f"/articles/{created['id']}/review", review
    )
    assert approved.status_code == 200, approved.text
    for _ in range(200):
        current = (await as_role(world, Role.AUDITOR, "GET", f"/articles/{created['id']}", None)).json()
        if current["publications"]["wechat"]["state"] in ("published", "failed", "unknown"):
            break
        await asyncio.sleep(0.1)
    assert current["publications"]["wechat"]["state"] == "published", current["publications"]
    assert current["publications"]["wechat"]["url"].startswith("https://mp.weixin.qq.com/s/")
    wechat = await world.fakes.state(Platform.WECHAT)
    assert wechat["images"] == []  # no image to re-host; the cover is the account's default
    materials = wechat["materials"]
    assert isinstance(materials, list)
    assert len(materials) == 1  # the default cover, as permanent thumb material
