"""What is out where: an obligation's per-platform state, shared by promotions and event write-ups.

A promotion (R-PROMO-3D) and a major event's write-up (R-NEWS-3WD) are each kept when an article
linked to them is *published* on every required platform by a deadline. Both follow the linked
article the same way: where it is stuck while it is not out (what a reminder names), and when it
was published on each platform, in time or late and by how much. The article's workflow says so
through two internal commands, `Progress` and `Published`, which never parse from outside.
"""

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field

from domain.articles import Article
from domain.durations import Instant
from domain.events import DomainEvent
from domain.platforms import Platform
from domain.roles import Role

Stage = Literal["drafting", "waiting_on_manager", "waiting_on_general_manager", "publishing"]
"""Where an article that is not out yet is stuck."""
Move = Stage | Literal["closed"]
"""What a linked article's progress says: its stage, or `closed` (rejected, withdrawn, or no longer
meant for a platform), which leaves those platforms without an article again."""
AnnouncementState = Literal["missing", "in_progress", "announced", "late"]


class Announcement(BaseModel):
    """One required platform: `missing` (no article), `in_progress` (its article is at `stage`),
    `announced` (published in time) or `late` (published `late_by_s` after the deadline)."""

    state: AnnouncementState = "missing"
    article_id: str | None = None
    stage: Stage | None = None
    announced_at: Instant | None = None
    late_by_s: int = 0


Platforms = dict[Platform, Announcement]
LINKED_AT_MOST = 50
"""Articles linked to one obligation at most: a promotion has an announcement or two. A technical
bound, so what the obligation reads of them never outgrows Temporal's payload limit (the API
refuses a link beyond it)."""


class Progress(BaseModel):
    """Internal: the linked article moved (its review chain or its publishing) on these platforms."""

    kind: Literal["progress"] = "progress"
    article_id: str
    platforms: tuple[Platform, ...]
    stage: Move
    at: Instant


class Published(BaseModel):
    """Internal: the linked article was published on a platform, at the time its workflow recorded
    the platform's answer (a manual platform's: when a person reported the URL)."""

    kind: Literal["published"] = "published"
    article_id: str
    platform: Platform
    published_at: Instant


class Seen(BaseModel):
    """A linked article as its events made it (read from the event store): its platforms, where it
    is, and when it came out on each platform it is published on."""

    article_id: str
    platforms: tuple[Platform, ...]
    stage: Move
    published: dict[Platform, Instant] = Field(default_factory=dict)


def commands_for(platforms: Platforms, seen: Seen, at: datetime) -> list[Progress | Published]:
    """What an obligation is told of one linked article: each publication, where it is on the
    platforms not out yet, and `closed` for platforms it was the article of but no longer names.
    Told again, the same article changes nothing (the deciders take only what is new)."""
    commands: list[Progress | Published] = []
    gone = tuple(
        p for p, a in platforms.items() if a.article_id == seen.article_id and p not in seen.platforms
    )
    if gone:
        commands.append(Progress(article_id=seen.article_id, platforms=gone, stage="closed", at=at))
    commands += [
        Published(article_id=seen.article_id, platform=p, published_at=when)
        for p, when in sorted(seen.published.items())
    ]
    rest = tuple(p for p in seen.platforms if p not in seen.published)
    if rest:
        commands.append(Progress(article_id=seen.article_id, platforms=rest, stage=seen.stage, at=at))
    return commands


def late_by_s(published_at: datetime, deadline: datetime) -> int:
    """How long after the deadline a publication came, in seconds (0: in time)."""
    return int(max(published_at - deadline, timedelta(0)).total_seconds())


def published(article_id: str, at: datetime, deadline: datetime) -> Announcement:
    """A platform's announcement once it is out, judged against `deadline`."""
    late = late_by_s(at, deadline)
    return Announcement(state="late" if late else "announced", article_id=article_id, announced_at=at,
                        late_by_s=late)  # fmt: skip


def rejudged(platforms: Platforms, deadline: datetime) -> Platforms:
    """Every announcement that is out, judged against a deadline that moved."""
    return {
        p: published(a.article_id or "", a.announced_at, deadline) if a.announced_at else a
        for p, a in platforms.items()
    }


def moved(platforms: Platforms, command: Progress) -> tuple[Platform, ...]:
    """The required platforms not out yet that this article holds, or may take (none holds them),
    and whose stage this progress changes; a closed article's: those it held.

    A platform stays with the article that first took it until that one is out or closed, so two
    open articles on one platform never take it from each other at every reading.
    """
    return tuple(
        p
        for p in command.platforms
        if p in platforms
        and platforms[p].announced_at is None
        and (
            platforms[p].article_id == command.article_id
            if command.stage == "closed"
            else platforms[p].article_id in (None, command.article_id) and platforms[p].stage != command.stage
        )
    )


def linked(platforms: Platforms, article_id: str, on: tuple[Platform, ...], stage: Move) -> Platforms:
    """The platforms with `article_id` in progress at `stage` on those of `on` not out yet; a closed
    article's platforms are missing again."""
    return {
        p: (
            Announcement()
            if stage == "closed"
            else a.model_copy(update={"state": "in_progress", "article_id": article_id, "stage": stage})
        )
        if p in on and a.announced_at is None
        else a
        for p, a in platforms.items()
    }


def stage_of(article: Article) -> Move:
    """Where a linked article is: what a reminder names while it is not out."""
    if article.closed:
        return "closed"
    if article.waiting_on is Role.GENERAL_MANAGER:
        return "waiting_on_general_manager"
    if article.waiting_on is not None:
        return "waiting_on_manager"
    if not article.checked or article.problems or article.changes_requested:
        return "drafting"
    return "publishing"


def first_publication(platforms: Platforms, command: Published) -> bool:
    """Whether this publication counts: on a required platform, and the first there."""
    current = platforms.get(command.platform)
    return current is not None and current.announced_at is None


def missing(platforms: Platforms) -> list[Platform]:
    """Required platforms without an announcement in time."""
    return [p for p, a in platforms.items() if a.state != "announced"]


def unpublished(platforms: Platforms) -> list[Platform]:
    """Required platforms with nothing out yet: what a reminder can still help with (one out late
    is missing for the rule, but there is nothing left to do about it)."""
    return [p for p, a in platforms.items() if a.announced_at is None]


def stuck(platforms: Platforms) -> dict[Platform, Stage | Literal["no_article"]]:
    """What a reminder names: each platform with nothing out, and where its article is (or none)."""
    return {p: platforms[p].stage or "no_article" for p in unpublished(platforms)}


class Tick(BaseModel):
    """Internal: a timer fired; whatever is due by `at` is decided."""

    kind: Literal["tick"] = "tick"
    at: Instant


class Obligation(BaseModel):
    """What a promotion and a write-up both are: an owner's obligation, per required platform,
    judged once (`verdict`)."""

    id: str = ""
    name: str = ""
    owner: str = ""
    platforms: dict[Platform, Announcement] = Field(default_factory=dict)
    verdict: Literal["met", "breached"] | None = None

    @property
    def status(self) -> str:
        raise NotImplementedError

    def missing(self) -> list[Platform]:
        return missing(self.platforms)


# --- the events' shared shapes (each process registers its own types) -----------------------------


class ArticleLinked(DomainEvent):
    """An article became the obligation's on these platforms; `stage` is where it is."""

    article_id: str
    platforms: tuple[Platform, ...]
    stage: Move
    at: Instant


class PublishedOn(DomainEvent):
    """The linked article was published on a platform, at `published_at` (when its workflow recorded it)."""

    platform: Platform
    article_id: str
    published_at: Instant
    late_by_s: int | None = 0
    """How long after the deadline it came (0: in time); None while the deadline was not known yet
    (it is judged once it is)."""


class Kept(DomainEvent):
    """The rule was kept; `after_breach`: a breach recorded earlier is amended, because a
    publication in time was reported only after the deadline (a manual platform's URL, say)."""

    at: Instant
    after_breach: bool = False


class Broken(DomainEvent):
    """The rule was broken: these platforms had nothing out in time by the deadline; escalated."""

    missing: tuple[Platform, ...]
    escalated_to: Role = Role.OPERATIONS_MANAGER
    at: Instant


def amends(platforms: Platforms, command: Published, deadline: datetime | None) -> bool:
    """Whether this publication, in time, leaves nothing missing: a breach recorded before it is amended."""
    if deadline is None or late_by_s(command.published_at, deadline):
        return False
    after = {**platforms, command.platform: published(command.article_id, command.published_at, deadline)}
    return not missing(after)
