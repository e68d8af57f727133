"""The fakes keep what each platform remembers in a state folder, so a restarted fake (as `make run`
restarts a crashed one) goes on where it was; queued faults and unreadable files are not carried over.

Two apps on one folder stand for a fake before and after a kill -9: no shutdown runs in between, so
the second finds only what the first saved as it went.
"""

import asyncio
import json
import os
import stat
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from deploy.fakes.app import create_fakes_app
from deploy.fakes.shared import TINY_JPEG
from deploy.processes import free_port, tcp_accepts, wait_until
from tests.platforms_support import demo_accounts

BASE = "http://fakes.test"
APPID = "wxdemo0000000001"
SECRET = "demo-wechat-secret"
USER = "o_follower_1"
ROOT = Path(__file__).resolve().parents[2]


@asynccontextmanager
async def fakes(state_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    """A new fakes app on `state_dir`, as `mediaops fakes` builds it, and a client of it."""
    app = create_fakes_app(demo_accounts(BASE), state_dir=state_dir)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
        yield client


async def fake_state(client: httpx.AsyncClient, platform: str = "wechat") -> dict[str, Any]:
    return (await client.get(f"/{platform}/__fake__/state")).json()  # type: ignore[no-any-return]


async def access_token(client: httpx.AsyncClient) -> str:
    body = {"grant_type": "client_credential", "appid": APPID, "secret": SECRET}
    answer = (await client.post("/wechat/cgi-bin/stable_token", json=body)).json()
    return str(answer["access_token"])


async def wechat(client: httpx.AsyncClient, path: str, token: str, **body: Any) -> dict[str, Any]:
    response = await client.post(f"/wechat/cgi-bin/{path}", params={"access_token": token}, json=body)
    return response.json()  # type: ignore[no-any-return]


async def publish(client: httpx.AsyncClient, token: str) -> list[str]:
    """Publish one article as the adapter does (cover material, draft, submit): the ids it was given,
    the publish_id first."""
    cover = await client.post(
        "/wechat/cgi-bin/material/add_material",
        params={"access_token": token, "type": "image"},
        files={"media": ("cover.jpg", TINY_JPEG, "image/jpeg")},
    )
    thumb = cover.json()["media_id"]
    article = {"title": "秋季活动预告", "content": "<p>活动</p>", "thumb_media_id": thumb}
    draft = (await wechat(client, "draft/add", token, articles=[article]))["media_id"]
    submitted = await wechat(client, "freepublish/submit", token, media_id=draft)
    assert submitted["errcode"] == 0, submitted
    return [submitted["publish_id"], submitted["msg_data_id"], thumb, draft]


async def pushed(client: httpx.AsyncClient, publish_id: str) -> None:
    """Until the job's PUBLISHJOBFINISH push was made (and saved): a later save by the first app
    would overwrite what the second one saved."""
    async with asyncio.timeout(5):
        while not (await fake_state(client))["jobs"][publish_id]["pushed"]:  # noqa: ASYNC110 - no event to wait on
            await asyncio.sleep(0.01)


def permissions(folder: Path) -> dict[str, int]:
    """Each file in `folder`, with its permission bits."""
    return {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()}


def number(platform_id: str) -> int:
    """The counter value in an id such as `thumb_5002` or `5003`."""
    return int(platform_id.rsplit("_", 1)[-1])


async def test_a_restarted_wechat_remembers_followers_publications_tokens_and_ids(tmp_path: Path) -> None:
    """What a restart used to lose: the follower's reply window (every reply was 45015), the
    published article and its publish job, and the counter (new ids repeated old ones)."""
    async with fakes(tmp_path) as first:
        await first.post(
            "/wechat/__fake__/user-message", json={"appid": APPID, "openid": USER, "text": "在吗"}
        )
        token = await access_token(first)
        old_ids = await publish(first, token)
        await pushed(first, old_ids[0])
    publish_id = old_ids[0]

    async with fakes(tmp_path) as second:
        reply = await wechat(
            second, "message/custom/send", token, touser=USER, msgtype="text", text={"content": "您好"}
        )
        assert reply == {"errcode": 0, "errmsg": "ok"}  # not 45015 (window unknown), nor 40001
        state = await fake_state(second)
        assert [p["publish_id"] for p in state["published"]] == [publish_id]
        assert state["jobs"][publish_id] == {"ready": True, "pushed": True}
        status = await wechat(second, "freepublish/get", token, publish_id=publish_id)
        assert status["publish_status"] == 0
        assert status["article_id"] == f"article_{publish_id}"
        new_ids = await publish(second, token)
    assert min(map(number, new_ids)) > max(map(number, old_ids))


async def test_the_state_file_is_the_owners_and_replaced_whole(tmp_path: Path) -> None:
    """No temporary file is left beside it, and nothing but its owner may read it."""
    async with fakes(tmp_path) as client:
        await client.post(
            "/wechat/__fake__/user-message", json={"appid": APPID, "openid": USER, "text": "你好"}
        )
        await access_token(client)
    assert permissions(tmp_path) == {"wechat.json": 0o600}
    saved = json.loads((tmp_path / "wechat.json").read_text(encoding="utf-8"))
    assert list(saved["state"]["followers"][APPID]) == [USER]


async def test_the_other_platforms_remember_their_posts_and_ids(tmp_path: Path) -> None:
    wordpress = {"auth": ("mediaops", "demo app password")}
    weibo_status = {"access_token": "demo-weibo-token", "status": "秋季活动 https://www.example.com/a"}
    bjh = {"app_id": "bjh-demo", "app_token": "demo-bjh-token"}
    bjh_article = {**bjh, "title": "秋季活动预告：报名开始", "content": "<p>活动</p>"}
    async with fakes(tmp_path) as first:
        posts = "/website/wp-json/wp/v2/posts"
        post = (await first.post(posts, json={"title": "秋季", "status": "publish"}, **wordpress)).json()
        status = (await first.post("/weibo/2/statuses/share.json", data=weibo_status)).json()
        article = await first.post("/baijiahao/builderinner/open/resource/article/publish", json=bjh_article)
        article_id = article.json()["data"]["article_id"]
        polled = {**bjh, "article_id": article_id}
        review = await first.post("/baijiahao/builderinner/open/resource/article/status", json=polled)
        assert review.json()["data"]["status"] == "review"

    async with fakes(tmp_path) as second:
        assert (await second.get(f"{posts}/{post['id']}", **wordpress)).status_code == 200
        again = await second.post("/weibo/2/statuses/share.json", data=weibo_status)
        assert again.json()["error_code"] == 20019  # repeat content: the status is remembered
        shown = await second.get(
            "/weibo/2/statuses/show.json", params={"access_token": "demo-weibo-token", "id": status["idstr"]}
        )
        assert shown.json()["text"] == weibo_status["status"]
        done = await second.post("/baijiahao/builderinner/open/resource/article/status", json=polled)
        assert done.json()["data"]["status"] == "publish"  # the first poll was remembered
        newer = (await second.post(posts, json={"title": "冬季"}, **wordpress)).json()
    assert newer["id"] > post["id"]


async def test_faults_are_not_kept_across_a_restart_but_the_clock_is(tmp_path: Path) -> None:
    async with fakes(tmp_path) as first:
        fault = {"path": "/cgi-bin/stable_token", "kind": "http_500", "times": 3}
        await first.post("/wechat/__fake__/faults", json=fault)
        await first.post("/wechat/__fake__/advance", params={"seconds": 60})  # saved with a fault queued
        assert len((await fake_state(first))["faults_queued"]) == 1

    async with fakes(tmp_path) as second:
        assert (await fake_state(second))["faults_queued"] == []
        assert await access_token(second)  # the fault would have answered 500
        clock = await second.post("/wechat/__fake__/advance", params={"seconds": 0})
        assert clock.json() == {"offset_s": 60.0}


@pytest.mark.parametrize(
    "content",
    [
        pytest.param("{not json", id="corrupt"),
        pytest.param('{"state": {}}', id="unversioned"),
        pytest.param('{"shape": 0, "state": {}}', id="older-shape"),
        pytest.param(
            '{"shape": 1, "state": {"user_messages": {}, "replies": {}}}', id="fields-of-an-older-version"
        ),
        pytest.param('{"shape": 1, "state": {"tokens": {"fake_leaked": "not a pair"}}}', id="wrong-types"),
    ],
)
async def test_an_unreadable_state_file_is_reported_once_and_the_fake_starts_empty(
    tmp_path: Path, content: str
) -> None:
    saved = tmp_path / "wechat.json"
    saved.write_text(content, encoding="utf-8")
    with capture_logs() as logs:
        app = create_fakes_app(demo_accounts(BASE), state_dir=tmp_path)
    assert [(e["log_level"], e["file"]) for e in logs] == [("warning", str(saved))]
    assert "fake_leaked" not in str(logs)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
        token = await access_token(client)
        reply = await wechat(client, "message/custom/send", token, touser=USER, text={"content": "?"})
        assert reply["errcode"] == 45015
    rewritten = saved.read_text(encoding="utf-8")
    assert rewritten != content
    assert json.loads(rewritten)["shape"] == 1  # replaced by the fake's own


@contextmanager
def cli_fakes(home: Path, port: int) -> Iterator[str]:
    """`mediaops fakes` as `make run` starts it, with MEDIAOPS_HOME `home`; killed -9 at the end."""
    env = {**os.environ, "MEDIAOPS_HOME": str(home), "MEDIAOPS_FAKES_PORT": str(port)}
    env.pop("MEDIAOPS_ACCOUNTS_FILE", None)
    process = subprocess.Popen([sys.executable, "-m", "cli", "fakes"], cwd=ROOT, env=env)
    try:
        wait_until(lambda: tcp_accepts(port) or process.poll() is not None, 30, "mediaops fakes")
        assert process.poll() is None, "mediaops fakes exited"
        yield f"http://127.0.0.1:{port}"
    finally:
        process.kill()
        process.wait()


def test_mediaops_fakes_killed_9_keeps_its_followers_under_mediaops_home(tmp_path: Path) -> None:
    port = free_port()
    message = {"appid": APPID, "openid": USER, "text": "在吗", "deliver": False}
    with cli_fakes(tmp_path, port) as base:
        assert httpx.post(f"{base}/wechat/__fake__/user-message", json=message).json()["recorded"]
    assert (tmp_path / "fakes" / "wechat.json").exists()
    with cli_fakes(tmp_path, port) as base:
        body = {"grant_type": "client_credential", "appid": APPID, "secret": SECRET}
        token = httpx.post(f"{base}/wechat/cgi-bin/stable_token", json=body).json()["access_token"]
        reply = httpx.post(
            f"{base}/wechat/cgi-bin/message/custom/send",
            params={"access_token": token},
            json={"touser": USER, "msgtype": "text", "text": {"content": "您好"}},
        )
        assert reply.json() == {"errcode": 0, "errmsg": "ok"}
