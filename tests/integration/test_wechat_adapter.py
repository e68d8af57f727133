"""The WeChat adapter against the fake WeChat, over HTTP: every operation and every error class,
the default cover, and images the worker must not fetch."""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest

from activities.content_checks import CheckRequest, CheckResult, ContentChecks
from activities.platforms.base import Inbound, PlatformError, Post
from activities.platforms.wechat import WeChatAdapter, classify, until_midnight_shanghai
from domain.articles import Content
from domain.platforms import Platform
from domain.policy import Policy
from domain.rules import RuleId
from tests.http_support import TinyServer, jpeg
from tests.platforms_support import Fakes, running_fakes

W = Platform.WECHAT
APPID = "wxdemo0000000001"


@pytest.fixture(scope="module")
async def fakes() -> AsyncIterator[Fakes]:
    async with running_fakes() as running:
        yield running


@pytest.fixture
def wechat(fakes: Fakes) -> WeChatAdapter:
    return WeChatAdapter(fakes.account(W))


def post(fakes: Fakes, **changes: str) -> Post:
    a, b = fakes.image("a"), fakes.image("b")
    body = f'<p>本周活动</p><img src="{a}"><script>alert(1)</script><img src="{b}">'
    fields = {"key": f"article-{uuid.uuid4().hex[:6]}/v1/wechat", "title": "本周活动预告", "body_html": body}
    return Post(**{**fields, **changes})


async def published_count(fakes: Fakes) -> int:
    return len((await fakes.state(W))["published"])  # type: ignore[arg-type]


async def test_publish_uploads_images_then_is_pending_until_polled(
    fakes: Fakes, wechat: WeChatAdapter
) -> None:
    before = await published_count(fakes)
    outcome = await wechat.publish(post(fakes))
    assert outcome.state == "pending"
    assert outcome.handle == outcome.platform_ids["publish_id"]
    assert await published_count(fakes) == before + 1
    state = await fakes.state(W)
    assert len(state["images"]) >= 2  # type: ignore[arg-type]
    final = await wechat.status(outcome.handle or "")
    assert final.state == "published"
    assert (final.url or "").startswith("https://mp.weixin.qq.com/s/")
    assert final.platform_ids["article_id"]


async def test_scripts_and_foreign_images_do_not_reach_wechat(fakes: Fakes, wechat: WeChatAdapter) -> None:
    await wechat.publish(post(fakes))
    drafted = (await fakes.state(W))["drafts"][-1]  # type: ignore[index]
    assert "script" not in drafted
    assert fakes.base not in drafted
    assert drafted.count('src="http://mmbiz.qpic.cn/') == 2


def materials(state: dict[str, object]) -> set[str]:
    """The fake's permanent material, by media_id."""
    listed = state["materials"]
    assert isinstance(listed, list)
    return set(listed)


async def test_a_text_only_post_publishes_with_the_default_cover(fakes: Fakes, wechat: WeChatAdapter) -> None:
    assert wechat.account.default_cover == fakes.image("default-cover")
    before = await fakes.state(W)
    outcome = await wechat.publish(post(fakes, body_html="<p>只有文字，没有图片。</p>"))
    assert outcome.state == "pending"
    assert (await wechat.status(outcome.handle or "")).state == "published"
    again = await wechat.publish(post(fakes, body_html="<p>又一篇纯文字。</p>"))
    assert again.state == "pending"
    after = await fakes.state(W)
    assert after["images"] == before["images"]  # nothing to re-host
    assert len(materials(after) - materials(before)) == 1  # the default cover: added once, then reused (L13)


async def test_a_cover_deleted_on_wechat_is_added_again_on_the_retry(fakes: Fakes) -> None:
    wechat = WeChatAdapter(fakes.account(W))
    before = materials(await fakes.state(W))
    assert (await wechat.publish(post(fakes, body_html="<p>文字</p>"))).state == "pending"
    (thumb,) = materials(await fakes.state(W)) - before
    await wechat.call("/cgi-bin/material/del_material", json={"media_id": thumb})  # as an admin might
    with pytest.raises(PlatformError) as caught:
        await wechat.publish(post(fakes, body_html="<p>文字</p>"))
    assert caught.value.retryable
    assert caught.value.code == "40007"
    assert (await wechat.publish(post(fakes, body_html="<p>文字</p>"))).state == "pending"
    assert thumb not in materials(await fakes.state(W))


async def test_a_default_cover_may_be_material_already_on_wechat(fakes: Fakes, wechat: WeChatAdapter) -> None:
    before = materials(await fakes.state(W))
    assert (await wechat.publish(post(fakes, body_html="<p>文字</p>"))).state == "pending"
    (thumb,) = materials(await fakes.state(W)) - before
    by_id = WeChatAdapter(fakes.account(W).model_copy(update={"default_cover": thumb}))
    assert (await by_id.publish(post(fakes, body_html="<p>文字</p>"))).state == "pending"
    assert materials(await fakes.state(W)) - before == {thumb}  # used as it is, nothing fetched or added


async def test_without_an_image_or_a_default_cover_the_post_fails_with_a_reason(fakes: Fakes) -> None:
    wechat = WeChatAdapter(fakes.account(W).model_copy(update={"default_cover": ""}))
    outcome = await wechat.publish(post(fakes, body_html="<p>no picture</p>"))
    assert outcome.state == "failed"
    assert "cover image" in (outcome.reason or "")


async def checked(fakes: Fakes, body: str, *platforms: Platform) -> CheckResult:
    """The content checks, as the worker runs them at submission, with the fakes' demo accounts."""
    article = Content(
        title="本周市场部活动预告",
        body=body,
        category="company_news",
        platforms=platforms,
        source="市场部",
        editor="x",
    )
    return await ContentChecks(Policy(), fakes.accounts).check(
        CheckRequest(content=article, author="li.content")
    )


@pytest.fixture
async def internal() -> AsyncIterator[TinyServer]:
    """A service on loopback that is on no account's image hosts, like the API's /healthz."""
    async with TinyServer({"/healthz": jpeg()}).running() as server:
        yield server


async def test_an_image_off_the_allowlist_is_refused_at_check_time_and_never_fetched(
    fakes: Fakes, wechat: WeChatAdapter, internal: TinyServer
) -> None:
    src = f"{internal.base}/healthz"
    body = f'<p>本周活动</p><img src="{src}">'
    result = await checked(fakes, body, W)
    assert [(p.rule, p.message) for p in result.problems] == [
        (
            RuleId.ACCOUNTS,
            f"image 1 ({internal.netloc}) is not on a public host, nor on the image hosts of the wechat "
            "account 'demo'",
        )
    ]
    before = await published_count(fakes)
    with pytest.raises(PlatformError) as caught:
        await wechat.publish(post(fakes, body_html=body))
    assert caught.value.message == (
        f"the image at {internal.netloc}/healthz could not be fetched as a JPEG or PNG of at most 1 MB"
    )
    assert not caught.value.retryable
    assert internal.requests == []
    assert await published_count(fakes) == before


async def test_the_fakes_images_pass_the_checks(fakes: Fakes) -> None:
    assert (await checked(fakes, f'<p>图</p><img src="{fakes.image()}">', *Platform)).problems == []
    assert (await checked(fakes, "<p>只有文字</p>", W)).problems == []  # the default cover


async def test_a_too_long_title_fails_before_any_call(fakes: Fakes, wechat: WeChatAdapter) -> None:
    before = await published_count(fakes)
    outcome = await wechat.publish(post(fakes, title="标" * 33))
    assert outcome.state == "failed"
    assert "at most 32" in (outcome.reason or "")
    assert await published_count(fakes) == before


async def test_a_timeout_after_the_submit_was_accepted_is_unknown_not_retried(
    fakes: Fakes, wechat: WeChatAdapter
) -> None:
    before = await published_count(fakes)
    await fakes.post(W, "faults", {"path": "/cgi-bin/freepublish/submit", "kind": "timeout_after_accept"})
    outcome = await wechat.publish(post(fakes))
    assert outcome.state == "unknown"
    assert "may have been accepted" in (outcome.reason or "")
    assert await published_count(fakes) == before + 1  # WeChat did accept it, exactly once


async def test_an_expired_token_is_refreshed_once_inline(fakes: Fakes, wechat: WeChatAdapter) -> None:
    await wechat.metrics(date(2026, 11, 20), date(2026, 11, 20))
    await fakes.post(W, "expire-tokens")
    figures = await wechat.metrics(date(2026, 11, 21), date(2026, 11, 21))
    assert figures.values["followers_total"] > 0


async def test_an_invalid_token_twice_is_an_error_not_a_loop(fakes: Fakes, wechat: WeChatAdapter) -> None:
    for _ in range(2):
        await fakes.post(
            W, "faults", {"path": "/datacube/getusersummary", "kind": "errcode", "errcode": 40001}
        )
    with pytest.raises(PlatformError) as caught:
        await wechat.metrics(date(2026, 11, 21), date(2026, 11, 21))
    assert caught.value.code == "40001"


@pytest.mark.parametrize(
    ("fault", "retryable", "code", "retry_after"),
    [
        ({"kind": "http_500"}, True, "500", None),
        ({"kind": "errcode", "errcode": -1}, True, "-1", None),
        ({"kind": "errcode", "errcode": 45011}, True, "45011", timedelta(seconds=60)),
        ({"kind": "errcode", "errcode": 40164}, False, "40164", None),
        ({"kind": "errcode", "errcode": 48001}, False, "48001", None),
    ],
)
async def test_error_classes(
    fakes: Fakes,
    wechat: WeChatAdapter,
    fault: dict[str, object],
    retryable: bool,
    code: str,
    retry_after: timedelta | None,
) -> None:
    await fakes.post(W, "faults", {"path": "/cgi-bin/freepublish/get", **fault})
    with pytest.raises(PlatformError) as caught:
        await wechat.status("123")
    assert caught.value.retryable is retryable
    assert caught.value.code == code
    assert caught.value.retry_after == retry_after


async def test_daily_quota_waits_until_midnight_beijing_time(fakes: Fakes, wechat: WeChatAdapter) -> None:
    await fakes.post(W, "faults", {"path": "/cgi-bin/freepublish/get", "kind": "errcode", "errcode": 45009})
    with pytest.raises(PlatformError) as caught:
        await wechat.status("123")
    assert caught.value.retryable
    assert caught.value.retry_after is not None
    assert timedelta(0) < caught.value.retry_after <= timedelta(hours=24, minutes=1)
    # 23:30 Beijing time is 15:30 UTC: half an hour (and a minute's margin) to wait
    assert until_midnight_shanghai(datetime(2026, 11, 26, 15, 30, tzinfo=UTC)) == timedelta(minutes=31)
    assert classify(45009, "", datetime(2026, 11, 26, 15, 30, tzinfo=UTC)).retry_after == timedelta(
        minutes=31
    )


def inbound(user: str, message_id: str = "1") -> Inbound:
    return Inbound(
        platform=W, account="demo", message_id=message_id, user=user, text="你好", sent_at=datetime.now(UTC)
    )


async def test_reply_within_the_window_then_the_window_closes(fakes: Fakes, wechat: WeChatAdapter) -> None:
    user = f"o_{uuid.uuid4().hex[:10]}"
    assert (await wechat.reply(inbound(user), "不在窗口内")).state == "failed"
    await fakes.post(W, "user-message", {"appid": APPID, "openid": user, "text": "请问报名时间？"})
    sent = await wechat.reply(inbound(user), "您好，报名截至本周五。")
    assert sent.state == "sent"
    state = await fakes.state(W)
    assert {"touser": user, "text": "您好，报名截至本周五。"} in state["messages_sent"]  # type: ignore[operator]
    await fakes.post(W, "advance", seconds=49 * 3600)
    closed = await wechat.reply(inbound(user), "太晚了")
    assert closed.state == "failed"
    assert closed.code == "45015"
    assert "48-hour reply window" in (closed.reason or "")


async def test_at_most_five_replies_per_message(fakes: Fakes, wechat: WeChatAdapter) -> None:
    user = f"o_{uuid.uuid4().hex[:10]}"
    await fakes.post(W, "user-message", {"appid": APPID, "openid": user, "text": "?"})
    outcomes = [(await wechat.reply(inbound(user), f"第{i}条")).state for i in range(6)]
    assert outcomes == ["sent"] * 5 + ["failed"]


async def test_a_reply_whose_answer_is_lost_is_unknown(fakes: Fakes, wechat: WeChatAdapter) -> None:
    user = f"o_{uuid.uuid4().hex[:10]}"
    await fakes.post(W, "user-message", {"appid": APPID, "openid": user, "text": "?"})
    await fakes.post(W, "faults", {"path": "/cgi-bin/message/custom/send", "kind": "timeout_after_accept"})
    outcome = await wechat.reply(inbound(user), "您好")
    assert outcome.state == "unknown"


async def test_comments_are_polled_and_answered(fakes: Fakes, wechat: WeChatAdapter) -> None:
    outcome = await wechat.publish(post(fakes))
    thread = f"{outcome.platform_ids['msg_data_id']}/0"
    since = datetime.now(UTC) - timedelta(minutes=1)
    for i in range(3):
        await fakes.post(
            W,
            "comment",
            {"msg_data_id": outcome.platform_ids["msg_data_id"], "openid": f"o{i}", "text": f"评论{i}"},
        )
    found = await wechat.inquiries([thread], since)
    assert [c.text for c in found] == ["评论0", "评论1", "评论2"]
    assert all(c.kind == "comment" for c in found)
    assert (await wechat.reply(found[0], "谢谢关注")).state == "sent"


async def test_an_article_whose_comments_are_refused_does_not_stop_the_others(
    fakes: Fakes, wechat: WeChatAdapter
) -> None:
    """H10: 88000 (comments closed, or no such article) on one thread skips that thread only."""
    outcome = await wechat.publish(post(fakes))
    msg_data_id = outcome.platform_ids["msg_data_id"]
    since = datetime.now(UTC) - timedelta(minutes=1)
    await fakes.post(W, "comment", {"msg_data_id": msg_data_id, "openid": "o9", "text": "还有名额吗"})
    found = await wechat.inquiries(["999999/0", f"{msg_data_id}/0"], since)
    assert [c.text for c in found] == ["还有名额吗"]


async def test_datacube_figures(wechat: WeChatAdapter) -> None:
    figures = await wechat.metrics(date(2026, 11, 23), date(2026, 11, 23))
    assert figures.sources == (
        "datacube/getusersummary",
        "datacube/getusercumulate",
        "datacube/getarticlesummary",
    )
    assert figures.platform_dates == (date(2026, 11, 23),)
