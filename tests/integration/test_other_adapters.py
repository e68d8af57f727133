"""Website (WordPress), Weibo, Baijiahao, mini program and the manual platforms, against the fakes."""

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest

from activities.platforms.base import Inbound, PlatformError, Post
from activities.platforms.registry import adapter_for
from activities.platforms.website import WebsiteAdapter
from activities.platforms.weibo import WeiboAdapter
from domain.counting import weibo_units
from domain.platforms import Platform
from tests.platforms_support import Fakes, running_fakes


@pytest.fixture(scope="module")
async def fakes() -> AsyncIterator[Fakes]:
    async with running_fakes() as running:
        yield running


def post(fakes: Fakes, **changes: str) -> Post:
    fields = {
        "key": f"article-{uuid.uuid4().hex[:8]}/v1",
        "title": "2026年秋季招聘正式启动",
        "body_html": f'<p>欢迎加入我们</p><img src="{fakes.image()}">',
        "source_url": f"https://www.example.com/news/{uuid.uuid4().hex[:6]}",
    }
    return Post(**{**fields, **changes})


async def count(fakes: Fakes, platform: Platform) -> int:
    return len((await fakes.state(platform))["published"])  # type: ignore[arg-type]


# --- website ---------------------------------------------------------------------------------


async def test_website_publishes_once_even_when_the_answer_is_lost(fakes: Fakes) -> None:
    site = adapter_for(fakes.account(Platform.WEBSITE))
    article = post(fakes)
    before = await count(fakes, Platform.WEBSITE)
    await fakes.post(
        Platform.WEBSITE,
        "faults",
        {"path": "/wp-json/wp/v2/posts", "method": "POST", "kind": "timeout_after_accept"},
    )
    lost = await site.publish(article)
    assert lost.state == "unknown"
    again = await site.publish(article)  # a person asks again: the slug lookup finds the first post
    assert again.state == "published"
    assert again.url is not None
    assert await count(fakes, Platform.WEBSITE) == before + 1
    assert (await site.status(again.platform_ids["post_id"])).state == "published"


async def test_website_wrong_password_needs_a_person(fakes: Fakes) -> None:
    account = fakes.account(Platform.WEBSITE).model_copy(update={"username": "intruder"})
    with pytest.raises(PlatformError) as caught:
        await WebsiteAdapter(account).publish(post(fakes))
    assert (caught.value.code, caught.value.retryable) == ("401", False)


async def test_website_server_errors_are_retryable(fakes: Fakes) -> None:
    await fakes.post(Platform.WEBSITE, "faults", {"path": "/wp-json/wp/v2/posts", "kind": "http_500"})
    with pytest.raises(PlatformError) as caught:
        await adapter_for(fakes.account(Platform.WEBSITE)).publish(post(fakes))
    assert caught.value.retryable


async def test_website_comments_are_read_and_answered(fakes: Fakes) -> None:
    site = adapter_for(fakes.account(Platform.WEBSITE))
    since = datetime.now(UTC) - timedelta(seconds=5)
    await fakes.post(
        Platform.WEBSITE, "comment", {"post": 1, "author_name": "访客", "text": "请问如何报名？"}
    )
    [comment] = [c for c in await site.inquiries([], since) if c.text == "请问如何报名？"]
    assert (await site.reply(comment, "请访问招聘页面。")).state == "sent"


# --- weibo -----------------------------------------------------------------------------------


async def test_weibo_shares_a_link_and_refuses_a_repeat(fakes: Fakes) -> None:
    weibo = adapter_for(fakes.account(Platform.WEIBO))
    article = post(fakes)
    shared = await weibo.publish(article)
    assert shared.state == "published"
    assert (shared.url or "").startswith("https://weibo.com/1000001/")
    assert (await weibo.status(shared.platform_ids["id"])).state == "published"
    with pytest.raises(PlatformError) as caught:
        await weibo.publish(article)
    assert (caught.value.code, caught.value.retryable) == ("20019", False)


async def test_weibo_long_titles_are_shortened_to_fit_140(fakes: Fakes) -> None:
    weibo = adapter_for(fakes.account(Platform.WEIBO))
    assert isinstance(weibo, WeiboAdapter)
    article = post(fakes, title="很长的标题" * 40)
    text = weibo.status_text(article)
    assert weibo_units(text) <= 140
    assert text.endswith("… " + article.source_url)


async def test_weibo_needs_a_link(fakes: Fakes) -> None:
    outcome = await adapter_for(fakes.account(Platform.WEIBO)).publish(post(fakes, source_url=""))
    assert outcome.state == "failed"


@pytest.mark.parametrize(("code", "retryable"), [(10023, True), (21332, False), (20021, False)])
async def test_weibo_error_classes(fakes: Fakes, code: int, retryable: bool) -> None:
    await fakes.post(
        Platform.WEIBO, "faults", {"path": "/2/statuses/share.json", "kind": "errcode", "errcode": code}
    )
    with pytest.raises(PlatformError) as caught:
        await adapter_for(fakes.account(Platform.WEIBO)).publish(post(fakes))
    assert caught.value.code == str(code)
    assert caught.value.retryable is retryable


async def test_weibo_messages_within_72_hours_three_replies(fakes: Fakes) -> None:
    weibo = adapter_for(fakes.account(Platform.WEIBO))
    user = f"u{uuid.uuid4().hex[:6]}"
    message = Inbound(
        platform=Platform.WEIBO,
        account="demo",
        message_id="m1",
        user=user,
        text="在吗",
        sent_at=datetime.now(UTC),
    )
    await fakes.post(Platform.WEIBO, "fan-message", {"uid": "1000001", "user": user})
    quoted = 'He said "hi" \\ back'
    assert (await weibo.reply(message, quoted)).state == "sent"
    sent = [m for m in (await fakes.state(Platform.WEIBO))["messages_sent"] if m.get("receiver_id") == user]  # type: ignore[union-attr]
    assert json.loads(sent[0]["data"]) == {"text": quoted}
    assert [(await weibo.reply(message, f"你好{i}")).state for i in range(3)] == ["sent"] * 2 + ["failed"]
    await fakes.post(Platform.WEIBO, "fan-message", {"uid": "1000001", "user": user})
    await fakes.post(Platform.WEIBO, "advance", seconds=73 * 3600)
    closed = await weibo.reply(message, "晚了")
    assert (closed.state, closed.code) == ("failed", "26001")
    await fakes.post(Platform.WEIBO, "advance", seconds=-73 * 3600)


async def test_weibo_comments_and_followers(fakes: Fakes) -> None:
    weibo = adapter_for(fakes.account(Platform.WEIBO))
    since = datetime.now(UTC) - timedelta(seconds=5)
    await fakes.post(Platform.WEIBO, "comment", {"status_id": "42", "user": "u1", "text": "支持！"})
    [comment] = [c for c in await weibo.inquiries([], since) if c.text == "支持！"]
    assert (await weibo.reply(comment, "谢谢")).state == "sent"
    figures = await weibo.metrics(date(2026, 11, 25), date(2026, 11, 25))
    assert figures.values["followers_total"] >= 12_000


# --- baijiahao, mini program, manual ---------------------------------------------------------


async def test_baijiahao_is_pending_through_review_then_published(fakes: Fakes) -> None:
    bjh = adapter_for(fakes.account(Platform.BAIJIAHAO))
    submitted = await bjh.publish(post(fakes))
    assert submitted.state == "pending"
    assert (await bjh.status(submitted.handle or "")).state == "pending"
    published = await bjh.status(submitted.handle or "")
    assert published.state == "published"
    assert "baijiahao.baidu.com" in (published.url or "")


async def test_baijiahao_checks_and_credentials(fakes: Fakes) -> None:
    bjh = adapter_for(fakes.account(Platform.BAIJIAHAO))
    short = await bjh.publish(post(fakes, title="短标题"))
    assert short.state == "failed"
    assert "at least 8" in (short.reason or "")
    bad = fakes.account(Platform.BAIJIAHAO).model_copy(update={"appid": "someone-else"})
    with pytest.raises(PlatformError) as caught:
        await adapter_for(bad).publish(post(fakes))
    assert not caught.value.retryable
    with pytest.raises(PlatformError, match="no API for replies"):  # staff answer in its console
        await bjh.reply(
            Inbound(
                platform=Platform.BAIJIAHAO,
                account="demo",
                message_id="1",
                user="u",
                text="t",
                sent_at=datetime.now(UTC),
            ),
            "x",
        )


async def test_baijiahao_comments_are_read_page_by_page(fakes: Fakes) -> None:
    bjh = adapter_for(fakes.account(Platform.BAIJIAHAO))
    article = (await bjh.publish(post(fakes))).handle or ""
    before = datetime.now(UTC) - timedelta(seconds=1)
    texts = [f"请问第{i}个问题" for i in range(23)]  # more than one page of 20
    for i, text in enumerate(texts):
        await fakes.post(
            Platform.BAIJIAHAO, "comment", {"article_id": article, "uid": f"bj{i:04d}", "content": text}
        )
    read = await bjh.inquiries([article, "no-such-article"], since=before)  # a deleted article is skipped
    assert [c.text for c in read] == texts
    assert {(c.kind, c.thread, c.platform) for c in read} == {("comment", article, Platform.BAIJIAHAO)}
    assert len({c.message_id for c in read}) == 23
    assert await bjh.inquiries([article], since=datetime.now(UTC) + timedelta(minutes=1)) == []


async def test_the_mini_program_writes_its_backend(fakes: Fakes) -> None:
    before = await count(fakes, Platform.MINIPROGRAM)
    outcome = await adapter_for(fakes.account(Platform.MINIPROGRAM)).publish(post(fakes))
    assert outcome.state == "published"
    assert (outcome.url or "").startswith("miniprogram://wxdemomini000001/posts/")
    assert await count(fakes, Platform.MINIPROGRAM) == before + 1


@pytest.mark.parametrize("platform", [Platform.ZHIHU, Platform.SOHU, Platform.TOUTIAO, Platform.BAIDU_ZHIDAO])
async def test_manual_platforms_wait_for_a_person(fakes: Fakes, platform: Platform) -> None:
    outcome = await adapter_for(fakes.account(platform)).publish(post(fakes))
    assert outcome.state == "pending"
    assert outcome.manual
    assert "report the URL" in (outcome.reason or "")
    assert await fakes.state(platform) == {
        "published": [],
        "messages_sent": [],
        "faults_queued": [],
        "calls": [],
    }
