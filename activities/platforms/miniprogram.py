"""The WeChat mini program: WeChat's token scheme with its own appid; posts go to its backend.

"Publishing" writes the post into the mini program's CloudBase database (tcb/databaseadd), where
the mini program reads its company moments (企业朋友圈) and recruitment sections from. Replies to
users follow the same customer-service rules as the official account. Its figures are the visit
trends (datacube/getweanalysisappid{daily,weekly,monthly}visittrend, dates as yyyymmdd).
"""

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

from activities.platforms.base import (
    LOCAL_CHECKS,
    Figures,
    Inbound,
    Post,
    PublishOutcome,
    published,
    reading,
    unsupported,
)
from activities.platforms.content import sanitise
from activities.platforms.wechat import NAME, Rows, WeChatAdapter, require_ready, spans, total
from domain.counting import length_problems
from domain.metrics import FigureName
from domain.platforms import Platform

VISIT_TREND = "datacube/getweanalysisappid{}visittrend"
VISIT_FIGURES: dict[FigureName, str] = {
    "visits": "visit_pv",
    "visitors": "visit_uv",
    "new_visitors": "visit_uv_new",
}
"""Our figures by the visit trend's field."""


def last_of_month(day: date) -> date:
    following = day.replace(day=28) + timedelta(days=4)
    return following - timedelta(days=following.day)


def trend(begin: date, end: date) -> tuple[str, list[tuple[date, date]]]:
    """The visit trend that answers the range, and the spans to ask it for.

    A natural week (Monday to Sunday) or month is one call, whose visitors are counted once in it;
    any other range is asked a day at a time and summed, so a visitor counts once per day visited.
    """
    if begin.weekday() == 0 and end == begin + timedelta(days=6):
        return "weekly", [(begin, end)]
    if begin.day == 1 and end == last_of_month(begin):
        return "monthly", [(begin, end)]
    return "daily", spans(begin, end, 1)


def _day(text: str) -> date:
    return date(int(text[:4]), int(text[4:6]), int(text[6:8]))


def ref_days(ref: str) -> list[date]:
    """The days a trend row stands for: its `ref_date` is a day (yyyymmdd), a week
    (yyyymmdd-yyyymmdd) or a month (yyyymm)."""
    if "-" in ref:
        first, last = map(_day, ref.split("-"))
    elif len(ref) == 6:
        first = _day(ref + "01")
        last = last_of_month(first)
    else:
        first = last = _day(ref)
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


class MiniProgramAdapter(WeChatAdapter):
    platform = Platform.MINIPROGRAM

    async def publish(self, post: Post) -> PublishOutcome:
        html = sanitise(post.body_html)
        problems = length_problems(Platform.MINIPROGRAM, title=post.title, body_html=html)
        if problems:
            return PublishOutcome(state="failed", code=LOCAL_CHECKS, reason="; ".join(problems))
        record = {"key": post.key, "title": post.title, "content": html, "author": post.author}
        query = f"db.collection('posts').add({{data: {json.dumps(record, ensure_ascii=False)}}})"

        def added(body: dict[str, Any]) -> PublishOutcome:
            record_id = str(body["id_list"][0])
            return PublishOutcome(
                state="published",
                url=f"miniprogram://{self.account.appid}/posts/{record_id}",
                platform_ids={"id": record_id},
            )

        return await published(
            self.call("/tcb/databaseadd", json={"env": self.account.username or "prod", "query": query}),
            added,
            PublishOutcome(state="unknown", reason="the record may have been added"),
        )

    async def status(self, handle: str) -> PublishOutcome:
        return PublishOutcome(state="published", url=f"miniprogram://{self.account.appid}/posts/{handle}")

    async def inquiries(self, threads: list[str], since: datetime) -> list[Inbound]:
        raise unsupported(self.platform, "comments (messages arrive by push)")

    async def metrics(self, begin: date, end: date) -> Figures:
        require_ready(end, datetime.now(UTC))
        kind, pieces = trend(begin, end)
        source = VISIT_TREND.format(kind)
        rows: Rows = await self.datacube(f"/{source}", pieces, "%Y%m%d")
        with reading(NAME, source):
            return Figures(
                platform=self.platform,
                account=self.account.name,
                begin=begin,
                end=end,
                values={name: total(rows, field) for name, field in VISIT_FIGURES.items()},
                platform_dates=tuple(sorted({d for row in rows for d in ref_days(str(row["ref_date"]))})),
                sources=(source,),
            )
