"""Platform figures for the meeting reports, against the fake platforms over HTTP, and the snapshot
activity that asks for them once and keeps them in the event store (PostgreSQL)."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.metrics import SnapshotAnswer, SnapshotRequest, Snapshots
from activities.platform_calls import PlatformCalls
from activities.platforms.base import PlatformError, Post
from activities.platforms.miniprogram import MiniProgramAdapter
from activities.platforms.registry import adapter_for
from activities.platforms.wechat import WeChatAdapter, require_ready, spans
from activities.platforms.weibo import WeiboAdapter
from deploy.fakes.app import create_fakes_app
from domain.metrics import snapshot_stream
from domain.platforms import Platform
from domain.policy import Policy
from eventstore.store import EventStore
from tests.platforms_support import Fakes, demo_accounts, running_fakes

W, MP = Platform.WECHAT, Platform.MINIPROGRAM
BEIJING = ZoneInfo("Asia/Shanghai")
WEEK = (date(2026, 11, 16), date(2026, 11, 22))
"""A Monday to a Sunday."""
MONTH = (date(2026, 11, 1), date(2026, 11, 30))
"""30 days: five datacube calls of at most 7 days each, 30 of getarticlesummary."""


@pytest.fixture(scope="module")
async def fakes() -> AsyncIterator[Fakes]:
    async with running_fakes() as running:
        yield running


@pytest.fixture
def snapshots(fakes: Fakes, store: EventStore) -> Snapshots:
    return Snapshots(PlatformCalls(fakes.accounts, store.pool), store, Policy())


async def take(snapshots: Snapshots, platform: Platform, begin: date, end: date) -> SnapshotAnswer:
    request = SnapshotRequest(platform=platform, account="demo", begin=begin, end=end)
    return await ActivityEnvironment().run(snapshots.snapshot, request)


async def stored(store: EventStore, platform: Platform, begin: date, end: date) -> int:
    return len(await store.read_stream(snapshot_stream(platform, "demo", begin, end)))


def days(begin: date, end: date) -> list[date]:
    return [begin + timedelta(days=n) for n in range((end - begin).days + 1)]


async def rows(adapter: WeChatAdapter, api: str, day: date, form: str = "%Y-%m-%d") -> list[dict[str, Any]]:
    """What the fake answers for one day, asked directly."""
    span = {"begin_date": day.strftime(form), "end_date": day.strftime(form)}
    return list((await adapter.call(f"/datacube/{api}", json=span))["list"])


# --- WeChat official account -----------------------------------------------------------------


@pytest.mark.parametrize(("begin", "end"), [WEEK, MONTH], ids=["week", "month"])
async def test_wechat_figures_are_summed_over_every_day(fakes: Fakes, begin: date, end: date) -> None:
    wechat = WeChatAdapter(fakes.account(W))
    figures = await wechat.metrics(begin, end)
    users = [r for d in days(begin, end) for r in await rows(wechat, "getusersummary", d)]
    articles = [r for d in days(begin, end) for r in await rows(wechat, "getarticlesummary", d)]
    [last] = await rows(wechat, "getusercumulate", end)
    assert figures.values == {
        "followers_gained": sum(r["new_user"] for r in users),
        "followers_lost": sum(r["cancel_user"] for r in users),
        "followers_total": last["cumulate_user"],
        "reads": sum(r["int_page_read_count"] for r in articles),
        "readers": sum(r["int_page_read_user"] for r in articles),
        "shares": sum(r["share_count"] for r in articles),
        "favourites": sum(r["add_to_fav_count"] for r in articles),
    }
    assert figures.platform_dates == tuple(days(begin, end))
    assert figures.platform_time is None


async def test_wechat_is_asked_in_spans_of_at_most_seven_days(fakes: Fakes) -> None:
    pieces = spans(*MONTH, 7)
    assert [(b.day, e.day) for b, e in pieces] == [(1, 7), (8, 14), (15, 21), (22, 28), (29, 30)]
    eight_days = {"begin_date": "2026-11-01", "end_date": "2026-11-08"}
    with pytest.raises(PlatformError) as caught:  # the fake keeps WeChat's limit: the sums above kept it
        await WeChatAdapter(fakes.account(W)).call("/datacube/getusersummary", json=eight_days)
    assert caught.value.code == "61501"


def test_yesterday_is_ready_only_after_eight_in_beijing() -> None:
    morning = datetime(2026, 12, 2, 7, 59, tzinfo=BEIJING)
    with pytest.raises(PlatformError, match="ready after 2026-12-02 08:00 Beijing time") as caught:
        require_ready(date(2026, 12, 1), morning)
    assert (caught.value.code, caught.value.retryable) == ("not_ready", False)
    require_ready(date(2026, 12, 1), morning + timedelta(minutes=1))
    with pytest.raises(PlatformError):
        require_ready(date(2026, 12, 2), morning + timedelta(hours=12))


# --- mini program ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("begin", "end", "api"),
    [(*WEEK, "weekly"), (*MONTH, "monthly")],
    ids=["week", "month"],
)
async def test_mini_program_asks_the_week_or_month_trend_once(
    fakes: Fakes, begin: date, end: date, api: str
) -> None:
    mini = MiniProgramAdapter(fakes.account(MP))
    figures = await mini.metrics(begin, end)
    source = f"datacube/getweanalysisappid{api}visittrend"
    span = {"begin_date": f"{begin:%Y%m%d}", "end_date": f"{end:%Y%m%d}"}
    [row] = (await mini.call(f"/{source}", json=span))["list"]
    assert figures.sources == (source,)
    assert figures.values == {
        "visits": row["visit_pv"],
        "visitors": row["visit_uv"],
        "new_visitors": row["visit_uv_new"],
    }
    assert figures.platform_dates == tuple(days(begin, end))


async def test_mini_program_sums_the_daily_trend_for_any_other_range(fakes: Fakes) -> None:
    mini = MiniProgramAdapter(fakes.account(MP))
    begin, end = date(2026, 11, 18), date(2026, 11, 20)
    figures = await mini.metrics(begin, end)
    daily = [
        r
        for d in days(begin, end)
        for r in await rows(mini, "getweanalysisappiddailyvisittrend", d, "%Y%m%d")
    ]
    assert figures.sources == ("datacube/getweanalysisappiddailyvisittrend",)
    assert figures.values["visits"] == sum(r["visit_pv"] for r in daily)
    assert figures.values["visitors"] == sum(r["visit_uv"] for r in daily)
    with pytest.raises(PlatformError) as caught:  # a week must run Monday to Sunday
        await mini.call(
            "/datacube/getweanalysisappidweeklyvisittrend",
            json={"begin_date": "20261118", "end_date": "20261124"},
        )
    assert caught.value.code == "61501"


# --- Weibo and the website -------------------------------------------------------------------


async def test_weibo_gives_its_counts_as_they_are_now(fakes: Fakes) -> None:
    weibo = WeiboAdapter(fakes.account(Platform.WEIBO))
    figures = await weibo.metrics(*WEEK)
    user = await weibo.call("GET", "/2/users/show.json", uid="1000001")
    assert figures.values == {
        "followers_total": user["followers_count"],
        "posts_total": user["statuses_count"],
    }
    assert figures.platform_time is not None
    assert abs(datetime.now(UTC) - figures.platform_time) < timedelta(seconds=30)


async def test_the_website_counts_the_posts_published_in_the_range(fakes: Fakes) -> None:
    site = adapter_for(fakes.account(Platform.WEBSITE))
    figures = await site.metrics(*MONTH)
    assert figures.values == {"posts_published": sum(d.toordinal() % 3 for d in days(*MONTH))}
    today = datetime.now(BEIJING).date()
    before = (await site.metrics(today, today)).values["posts_published"]
    post = {"key": "figures-test/v1", "title": "今日新闻", "body_html": "<p>新闻</p>"}
    assert (await site.publish(Post(**post))).state == "published"
    assert (await site.metrics(today, today)).values["posts_published"] == before + 1
    assert (await site.metrics(today - timedelta(days=1), today - timedelta(days=1))).values == {
        "posts_published": (today - timedelta(days=1)).toordinal() % 3
    }


# --- the snapshot activity -------------------------------------------------------------------


@pytest.mark.parametrize("platform", [Platform.BAIJIAHAO, Platform.ZHIHU, Platform.TOUTIAO])
async def test_a_platform_without_figures_is_missing_and_nothing_is_kept(
    snapshots: Snapshots, store: EventStore, platform: Platform
) -> None:
    answer = await take(snapshots, platform, *WEEK)
    assert (answer.code, answer.figures, answer.event_id) == ("unsupported", None, None)
    assert answer.missing == f"{platform} has no API for figures"
    assert await stored(store, platform, *WEEK) == 0


async def test_a_snapshot_is_kept_once_and_never_asked_again(
    fakes: Fakes, snapshots: Snapshots, store: EventStore
) -> None:
    begin, end = date(2026, 11, 9), date(2026, 11, 15)
    first = await take(snapshots, W, begin, end)
    assert first.event_id is not None
    assert first.figures is not None
    assert first.stream_id == snapshot_stream(W, "demo", begin, end)
    await fakes.post(W, "figures", {"shift": 100})
    try:
        live = await WeChatAdapter(fakes.account(W)).metrics(begin, end)
        assert live.values["followers_total"] == first.figures.values["followers_total"] + 100
        again = await take(
            Snapshots(PlatformCalls(fakes.accounts, store.pool), store, Policy()), W, begin, end
        )
    finally:
        await fakes.post(W, "figures", {"shift": 0})
    assert again == first
    assert await stored(store, W, begin, end) == 1


async def test_two_workers_racing_keep_one_snapshot(fakes: Fakes, store: EventStore) -> None:
    begin, end = MONTH
    workers = [Snapshots(PlatformCalls(fakes.accounts, store.pool), store, Policy()) for _ in range(2)]
    answers = await asyncio.gather(*(take(w, MP, begin, end) for w in workers))
    assert answers[0].event_id is not None
    assert answers[0] == answers[1]
    assert await stored(store, MP, begin, end) == 1


async def test_a_range_not_over_yet_is_missing_not_ready(snapshots: Snapshots, store: EventStore) -> None:
    today = datetime.now(BEIJING).date()
    for platform in (W, Platform.WEBSITE):
        answer = await take(snapshots, platform, today - timedelta(days=6), today)
        assert (answer.code, answer.figures) == ("not_ready", None)
        assert await stored(store, platform, today - timedelta(days=6), today) == 0


async def test_a_failing_platform_raises_for_a_retry_and_keeps_nothing(
    fakes: Fakes, snapshots: Snapshots, store: EventStore
) -> None:
    begin, end = date(2026, 11, 2), date(2026, 11, 8)
    await fakes.post(W, "faults", {"path": "/datacube/getusercumulate", "kind": "http_500"})
    with pytest.raises(ApplicationError) as caught:
        await take(snapshots, W, begin, end)
    assert (caught.value.type, caught.value.non_retryable) == ("Platform:500", False)
    assert await stored(store, W, begin, end) == 0
    assert (await take(snapshots, W, begin, end)).event_id is not None  # Temporal's retry


async def test_weibo_followers_stand_only_for_a_range_just_ended(
    snapshots: Snapshots, store: EventStore
) -> None:
    old = await take(snapshots, Platform.WEIBO, *WEEK)
    assert (old.code, old.figures) == ("at_a_moment", None)
    assert "only as they are now; this range ended too long ago" in (old.missing or "")
    assert await stored(store, Platform.WEIBO, *WEEK) == 0
    yesterday = datetime.now(BEIJING).date() - timedelta(days=1)
    fresh = await take(snapshots, Platform.WEIBO, yesterday, yesterday)
    assert fresh.figures is not None
    assert fresh.figures.platform_time is not None
    assert fresh.figures.values["followers_total"] >= 12_000


# --- the fakes' control ----------------------------------------------------------------------


async def test_shifted_figures_survive_a_restart_of_the_fakes(tmp_path: Path) -> None:
    base, token = "http://fakes.test", {"access_token": "demo-weibo-token", "uid": "1000001"}

    async def followers(shift: int | None = None) -> int:
        app = create_fakes_app(demo_accounts(base), state_dir=tmp_path)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base) as client:
            if shift is not None:
                (await client.post("/weibo/__fake__/figures", json={"shift": shift})).raise_for_status()
            return int((await client.get("/weibo/2/users/show.json", params=token)).json()["followers_count"])

    plain = await followers()
    assert await followers(shift=7) == plain + 7
    assert await followers() == plain + 7  # a new app on the same state: still shifted
