"""R-SECRETS where errors are made: platform errors name a path and a status, never a query; the
notifier never shows its robot's key. Against the fakes (and a WeCom group robot), over HTTP."""

import secrets
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from temporalio.exceptions import ApplicationError

from activities.notify import Notification, Notifier
from activities.platforms.base import PlatformError, Post
from activities.platforms.registry import adapter_for
from activities.platforms.wechat import WeChatAdapter
from domain.platforms import Platform
from domain.roles import Role
from domain.rules import RuleId
from tests.platforms_support import Fakes, running_fakes

W = Platform.WECHAT


@pytest.fixture(scope="module")
async def fakes() -> AsyncIterator[Fakes]:
    async with running_fakes() as running:
        yield running


def post(fakes: Fakes) -> Post:
    return Post(
        key=f"article-{uuid.uuid4().hex[:8]}/v1/wechat",
        title="本周活动预告",
        body_html=f'<p>本周活动</p><img src="{fakes.image()}">',
        source_url="https://www.example.com/news/week",
    )


async def wechat_token(fakes: Fakes) -> str:
    """The access token the fake has issued to the demo account (stable_token hands back the current one)."""
    account = fakes.account(W)
    async with httpx.AsyncClient() as client:
        answer = await client.post(
            f"{fakes.base}/wechat/cgi-bin/stable_token",
            json={
                "grant_type": "client_credential",
                "appid": account.appid,
                "secret": account.secret.get_secret_value(),
            },
        )
    return str(answer.json()["access_token"])


async def fault(fakes: Fakes, platform: Platform, path: str, status: int) -> None:
    await fakes.post(platform, "faults", {"path": path, "kind": "html", "status": status})


@pytest.mark.parametrize(
    ("status", "code", "retryable", "meaning"),
    [
        (413, "413", False, ": the post is too large"),
        (404, "404", False, ": no such API path"),
        (502, "502", True, ""),
        (200, "not_json", True, " with text/html, not JSON"),  # a captive portal: may be gone next time
    ],
)
async def test_an_html_page_from_wechat_names_the_path_and_the_status_only(
    fakes: Fakes, status: int, code: str, retryable: bool, meaning: str
) -> None:
    """The fake's page names the URL it was asked for, access_token and all, as a proxy's page does."""
    wechat = WeChatAdapter(fakes.account(W))
    await fault(fakes, W, "/cgi-bin/draft/add", status)
    with pytest.raises(PlatformError) as caught:
        await wechat.publish(post(fakes))
    token = await wechat_token(fakes)
    assert caught.value.message.startswith(
        f"WeChat answered HTTP {status} to /wechat/cgi-bin/draft/add{meaning}"
    )
    assert (caught.value.code, caught.value.retryable) == (code, retryable)
    for leak in (token, "access_token", "?", "<html", "nginx"):
        assert leak not in str(caught.value)


async def test_weibo_tokens_in_the_query_stay_out_of_its_errors(fakes: Fakes) -> None:
    weibo = adapter_for(fakes.account(Platform.WEIBO))
    token = fakes.account(Platform.WEIBO).token.get_secret_value()
    await fault(fakes, Platform.WEIBO, "/2/statuses/show.json", 403)
    with pytest.raises(PlatformError) as caught:
        await weibo.status("4321")  # a GET: the token rides in its query string
    assert str(caught.value).startswith("Weibo answered HTTP 403 to /weibo/2/statuses/show.json: ")
    assert not caught.value.retryable
    assert token not in str(caught.value)
    assert "access_token" not in str(caught.value)


async def test_wordpress_refusals_say_the_status_never_the_page(fakes: Fakes) -> None:
    site = adapter_for(fakes.account(Platform.WEBSITE))
    await fault(fakes, Platform.WEBSITE, "/wp-json/wp/v2/posts", 413)
    with pytest.raises(PlatformError) as caught:
        await site.publish(post(fakes))
    assert str(caught.value).startswith("WordPress answered HTTP 413 to /website/wp-json/wp/v2/posts: ")
    assert "<" not in str(caught.value)


def test_a_platform_message_that_echoes_a_loaded_credential_is_scrubbed(fakes: Fakes) -> None:
    """The accounts this process holds are registered with the redactor, exactly."""
    token = fakes.account(Platform.BAIJIAHAO).token.get_secret_value()
    error = PlatformError(f"Baijiahao: app_token {token} is not valid", code="10000001", retryable=False)
    assert token not in str(error)
    assert error.message == "Baijiahao: app_token [redacted] is not valid"


# --- the notifier and a WeCom group robot ------------------------------------------------------


def wecom_robot(keys: set[str], delivered: list[str]) -> Starlette:
    """A WeCom group robot as WeCom runs it: the key in the query; HTTP 200 with an errcode, always."""

    async def send(request: Request) -> Response:
        if request.query_params.get("key") not in keys:
            return JSONResponse(
                {
                    "errcode": 93000,
                    "errmsg": "invalid webhook url, hint: [1733040000_12_abc], more info at "
                    "https://open.work.weixin.qq.com/devtool/query?e=93000",
                }
            )
        delivered.append((await request.json())["text"]["content"])
        return JSONResponse({"errcode": 0, "errmsg": "ok"})

    async def front_end_error(_request: Request) -> Response:
        return HTMLResponse("<html><body>502 Bad Gateway</body></html>", status_code=502)

    return Starlette(
        routes=[
            Route("/cgi-bin/webhook/send", send, methods=["POST"]),
            Route("/broken/webhook/send", front_end_error, methods=["POST"]),
        ]
    )


NOTE = Notification(
    kind="reminder",
    rule=RuleId.REVIEW_ALL,
    to=Role.OPERATIONS_MANAGER,
    subject="article-1",
    message="article 1 v1 waits for the operations_manager's decision",
)


async def notify(webhook: str, robot: Starlette) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=robot)) as client:
        await Notifier(webhook, client).send(NOTE)


async def test_the_robot_gets_the_notification() -> None:
    key, delivered = secrets.token_hex(8), list[str]()
    await notify(f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={key}", wecom_robot({key}, delivered))
    assert delivered == [f"[R-REVIEW-ALL] operations_manager: {NOTE.message}"]


@pytest.mark.parametrize(
    ("path", "said"),
    [
        ("/cgi-bin/webhook/send", "errcode 93000, the webhook's key is not a robot's"),
        ("/broken/webhook/send", "the chat webhook answered HTTP 502"),
    ],
)
async def test_a_refused_notification_is_retried_and_never_shows_the_key(path: str, said: str) -> None:
    """WeCom answers 200 with errcode 93000 for a key it does not know: that is not delivered."""
    key, delivered = secrets.token_hex(8), list[str]()
    robot = wecom_robot({secrets.token_hex(8)}, delivered)
    with pytest.raises(ApplicationError) as caught:
        await notify(f"https://qyapi.weixin.qq.com{path}?key={key}", robot)
    assert said in str(caught.value)
    assert not caught.value.non_retryable
    assert key not in str(caught.value)
    assert "qyapi" not in str(caught.value)
    assert delivered == []
