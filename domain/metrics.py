"""A platform's figures for a period, as stored snapshots, and how a meeting compares two periods.

The department compares each platform's figures with the period before (R-WEEKLY, R-MONTHLY).
A platform's live figures change when it is asked again (late data, corrections), so a figure is
asked once per platform and range and kept as an immutable `metrics.snapshot_taken` event with
the range and the platform's own dates and times; every report reads the snapshots, never the
platform. A platform that cannot give its figures for a run is recorded as missing for that run,
never as zero: a zero would read as a collapse.
"""

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.durations import Instant
from domain.events import REGISTRY, DomainEvent
from domain.platforms import Platform

FIGURES: dict[str, str] = {
    "followers_gained": "新增关注 followers gained",
    "followers_lost": "取消关注 followers lost",
    "followers_total": "累计关注 followers (total)",
    "reads": "阅读次数 reads",
    "readers": "阅读人数 readers",
    "shares": "分享次数 shares",
    "favourites": "收藏次数 favourites",
    "visits": "访问次数 visits",
    "visitors": "访问人数 visitors",
    "new_visitors": "新访问人数 new visitors",
    "posts_total": "发布总数 posts (total)",
    "posts_published": "发布篇数 posts published",
}
"""Every figure a snapshot may hold, by name, with its label (Chinese first, as the meeting reads it)."""

FigureName = Literal[
    "followers_gained",
    "followers_lost",
    "followers_total",
    "reads",
    "readers",
    "shares",
    "favourites",
    "visits",
    "visitors",
    "new_visitors",
    "posts_total",
    "posts_published",
]

CHARTED: tuple[FigureName, ...] = ("followers_total", "reads")
"""The figures a report charts per platform over the last periods."""

FALLING: tuple[FigureName, ...] = (
    "followers_gained",
    "followers_total",
    "reads",
    "readers",
    "shares",
    "visits",
    "visitors",
    "posts_published",
)
"""Figures whose fall is a problem to name (followers lost rising is, but it is its own figure)."""


class Figures(BaseModel):
    """What a platform's API said for a range of days: figures by name, and its own dates."""

    model_config = ConfigDict(frozen=True)

    platform: Platform
    account: str
    begin: date
    end: date
    """The range's last day, inclusive (as the platforms' APIs take it)."""
    values: dict[FigureName, int]
    platform_dates: tuple[date, ...] = ()
    """The days the platform answered for (its `ref_date`s); a day it left out is not counted."""
    platform_time: Instant | None = None
    """For a figure that is a count at one moment (followers now): when the platform gave it."""
    sources: tuple[str, ...] = ()
    """The API calls the figures come from (e.g. `datacube/getusersummary`)."""


@REGISTRY.register
class SnapshotTaken(DomainEvent):
    """A platform's figures for a range, asked once and kept: every report reads these."""

    type: Literal["metrics.snapshot_taken"] = "metrics.snapshot_taken"
    figures: Figures
    fetched_at: Instant


def snapshot_stream(platform: Platform, account: str, begin: date, end: date) -> str:
    """One stream per platform account and range: the first snapshot taken is the one kept."""
    return f"metrics-{platform}-{account}-{begin.isoformat()}-{end.isoformat()}"


class Change(BaseModel):
    """One figure of a period against the period before."""

    model_config = ConfigDict(frozen=True)

    current: int | None
    previous: int | None
    delta: int | None = None
    pct: float | None = Field(default=None, description="percent, rounded to 0.1; None without a base")
    note: Literal["", "missing", "no_base", "zero_base"] = ""


def change(current: int | None, previous: int | None) -> Change:
    """The change and the percentage change; with no base (missing) or a zero base there is no
    percentage, and the note says why (a rise from 0 is not +∞%)."""
    if current is None:
        return Change(current=None, previous=previous, note="missing")
    if previous is None:
        return Change(current=current, previous=None, note="no_base")
    delta = current - previous
    if previous == 0:
        return Change(current=current, previous=0, delta=delta, note="zero_base")
    return Change(current=current, previous=previous, delta=delta, pct=round(delta * 100 / previous, 1))


def fell_by_more_than(c: Change, threshold_pct: float) -> bool:
    """Whether a figure fell by more than the threshold (a zero or missing base is never a fall)."""
    return c.pct is not None and c.pct < -threshold_pct
