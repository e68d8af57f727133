"""Promotions (R-PROMO-3D): a major promotion is announced on every required platform at least the
policy's lead (3 days) before it starts.

Each promotion is one process, `promotion-<id>`. Its announcement is an article (category
`promotion`) linked to it, which goes through the whole review chain; a platform counts as
announced when that article is *published* there, at the time it was published (a manual
platform's when a person reports the URL). The owner and the operations manager are reminded 7
and 5 days before the start (P-PROMO-REMIND) with what is still missing per platform and where it
is stuck. At the announcement deadline (the start less the lead) the rule is met, or breached
naming the missing platforms and escalated to the operations manager; an announcement that comes
after the deadline is recorded as late, with how late.

A promotion that is not major is tracked the same way (its announcements, the reminders) but R-PROMO-3D
does not judge it. A major one planned less than the lead before its start cannot meet the rule: it
is taken only with an explicit acknowledgement, and recorded as such, never hidden.

`decide`/`evolve` are pure: time comes in on the command; the linked article's progress comes in as
internal commands from the promotion's workflow.
"""

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field

from domain.announcements import (
    Announcement,
    ArticleLinked,
    Broken,
    Kept,
    Obligation,
    Progress,
    Published,
    PublishedOn,
    Stage,
    Tick,
    amends,
    first_publication,
    late_by_s,
    linked,
    moved,
    published,
    rejudged,
    stuck,
    unpublished,
)
from domain.commands import Actor
from domain.decider import Decider
from domain.durations import Instant, format_duration
from domain.errors import DomainError, Invalid
from domain.events import REGISTRY, DomainEvent
from domain.platforms import Platform
from domain.policy import Policy
from domain.roles import Permission, Role, require
from domain.rules import RuleId
from domain.text import Text

Compliance = Literal["on_track", "cannot_meet", "met", "breached", "not_required", "cancelled"]
Status = Literal["planned", "announced", "met", "breached", "cancelled"]
"""`announced`: out everywhere required in time, before the verdict."""


def promotion_id(key: str) -> str:
    """The promotion's workflow id and event stream."""
    return f"promotion-{key}"


# --- events ---------------------------------------------------------------------------------------


@REGISTRY.register
class PromotionPlanned(DomainEvent):
    type: Literal["promotion.planned"] = "promotion.planned"
    promotion_id: str
    name: str
    starts_at: Instant
    ends_at: Instant
    major: bool
    platforms: tuple[Platform, ...]
    owner: str
    by: str
    at: Instant
    announce_by: Instant
    cannot_meet: bool
    """Planned less than R-PROMO-3D's lead before its start (a major one), acknowledged by `by`."""


@REGISTRY.register
class AnnouncementLinked(ArticleLinked):
    """The promotion's announcement article, on these platforms."""

    type: Literal["promotion.announcement_linked"] = "promotion.announcement_linked"


@REGISTRY.register
class Announced(PublishedOn):
    """The announcement is out on a platform (`late_by_s` against the announcement deadline)."""

    type: Literal["promotion.announced"] = "promotion.announced"


@REGISTRY.register
class PromotionReminded(DomainEvent):
    """P-PROMO-REMIND: what is still missing, per platform and where it is stuck, `before` the start."""

    type: Literal["promotion.reminded"] = "promotion.reminded"
    before_start_s: int
    missing: dict[Platform, Stage | Literal["no_article"]]
    owner: str
    to: tuple[Role, ...]
    """The roles told besides the owner."""
    at: Instant


@REGISTRY.register
class AnnouncementMet(Kept):
    """R-PROMO-3D kept."""

    type: Literal["promotion.met"] = "promotion.met"


@REGISTRY.register
class AnnouncementBreached(Broken):
    """R-PROMO-3D broken: these platforms had no announcement in time."""

    type: Literal["promotion.breached"] = "promotion.breached"


@REGISTRY.register
class PromotionRescheduled(DomainEvent):
    """The start moved: the deadline and the reminders move with it; an announcement already out
    counts only if it is still the lead ahead of the new start (else it is now late)."""

    type: Literal["promotion.rescheduled"] = "promotion.rescheduled"
    previous_starts_at: Instant
    starts_at: Instant
    ends_at: Instant
    announce_by: Instant
    cannot_meet: bool
    by: str
    at: Instant


@REGISTRY.register
class PromotionCancelled(DomainEvent):
    """The obligation ends; announcements already out are listed for a follow-up (withdraw or correct)."""

    type: Literal["promotion.cancelled"] = "promotion.cancelled"
    reason: str
    follow_up: tuple[Platform, ...]
    by: str
    at: Instant


# --- state ----------------------------------------------------------------------------------------


class Promotion(Obligation):
    starts_at: Instant | None = None
    ends_at: Instant | None = None
    major: bool = True
    announce_by: Instant | None = None
    cannot_meet: bool = False
    reminded: list[int] = Field(default_factory=list)
    """The reminders sent for the current start, as seconds before it."""
    since: Instant | None = None
    """When the current start was set (planned or rescheduled): reminders due before it are moot."""
    cancelled: bool = False

    @property
    def planned(self) -> bool:
        return self.starts_at is not None

    @property
    def compliance(self) -> Compliance:
        if self.cancelled:
            return "cancelled"
        if self.cannot_meet and self.verdict != "met":
            return "cannot_meet"  # acknowledged when planned: its breach is the one foretold
        if self.verdict is not None:
            return self.verdict
        return "on_track" if self.major else "not_required"

    @property
    def status(self) -> Status:
        if self.cancelled:
            return "cancelled"
        if self.verdict is not None:
            return self.verdict
        return "announced" if not self.missing() else "planned"


def initial_promotion() -> Promotion:
    return Promotion()


def evolve_promotion(state: Promotion, event: DomainEvent) -> Promotion:
    s = state.model_copy(deep=True)
    match event:
        case PromotionPlanned():
            s.id, s.name, s.owner, s.major = event.promotion_id, event.name, event.owner, event.major
            s.starts_at, s.ends_at, s.announce_by = event.starts_at, event.ends_at, event.announce_by
            s.cannot_meet, s.since = event.cannot_meet, event.at
            s.platforms = {p: Announcement() for p in event.platforms}
        case AnnouncementLinked():
            s.platforms = linked(s.platforms, event.article_id, event.platforms, event.stage)
        case Announced():
            if event.platform in s.platforms and s.announce_by is not None:
                s.platforms[event.platform] = published(event.article_id, event.published_at, s.announce_by)
        case PromotionReminded():
            s.reminded.append(event.before_start_s)
        case AnnouncementMet():
            s.verdict = "met"
        case AnnouncementBreached():
            s.verdict = "breached"
        case PromotionRescheduled():
            s.starts_at, s.ends_at, s.announce_by = event.starts_at, event.ends_at, event.announce_by
            s.cannot_meet, s.reminded, s.verdict, s.since = event.cannot_meet, [], None, event.at
            s.platforms = rejudged(s.platforms, event.announce_by)  # what is out, against the new deadline
        case PromotionCancelled():
            s.cancelled = True
    return s


# --- commands -------------------------------------------------------------------------------------


class Plan(BaseModel):
    kind: Literal["plan"] = "plan"
    actor: Actor
    promotion_id: str
    name: Text = Field(min_length=1, max_length=120)
    starts_at: Instant
    ends_at: Instant
    major: bool
    platforms: tuple[Platform, ...] | None = None
    owner: str | None = None
    acknowledge_late: bool = False
    at: Instant


class Reschedule(BaseModel):
    kind: Literal["reschedule"] = "reschedule"
    actor: Actor
    starts_at: Instant
    ends_at: Instant
    acknowledge_late: bool = False
    at: Instant


class Cancel(BaseModel):
    kind: Literal["cancel"] = "cancel"
    actor: Actor
    reason: Text = Field(min_length=1, max_length=500)
    at: Instant


def _check_dates(starts_at: datetime, ends_at: datetime, now: datetime, policy: Policy) -> None:
    if ends_at <= starts_at:
        raise Invalid(RuleId.PROMO_3D, "the promotion must end after it starts", field="ends_at")
    if starts_at <= now:
        raise Invalid(RuleId.PROMO_3D, "the promotion's start is in the past", field="starts_at")
    if starts_at > now + policy.accountable.schedule_within:
        raise Invalid(
            RuleId.PROMO_3D,
            f"the start is more than {format_duration(policy.accountable.schedule_within)} ahead",
            field="starts_at",
        )


def _cannot_meet(major: bool, starts_at: datetime, now: datetime, policy: Policy, acknowledged: bool) -> bool:
    """A major promotion starting sooner than the lead cannot meet R-PROMO-3D: said, and acknowledged."""
    short = major and starts_at - now < policy.promo_3d.lead
    if short and not acknowledged:
        raise Invalid(
            RuleId.PROMO_3D,
            f"it starts in less than {format_duration(policy.promo_3d.lead)}, so it cannot be announced "
            "in time (compliance: cannot_meet): acknowledge it to plan it anyway",
            field="acknowledge_late",
        )
    return short


def _ended(state: Promotion) -> bool:
    """Internal commands after a cancellation change nothing (the follow-up list was made then)."""
    if not state.planned:
        raise DomainError(RuleId.PROMO_3D, "no such promotion")
    return state.cancelled


def _open(state: Promotion) -> None:
    if not state.planned:
        raise DomainError(RuleId.PROMO_3D, "no such promotion")
    if state.cancelled:
        raise DomainError(RuleId.PROMO_3D, "the promotion was cancelled")


def decide_promotion(command: BaseModel, state: Promotion, policy: Policy) -> list[DomainEvent]:
    match command:
        case Plan():
            require(command.actor.roles, Permission.PROMOTION_PLAN)
            if state.planned:
                raise DomainError(RuleId.PROMO_3D, "the promotion is planned already")
            _check_dates(command.starts_at, command.ends_at, command.at, policy)
            platforms = tuple(dict.fromkeys(command.platforms or policy.promo_3d.platforms))
            if not platforms:
                raise Invalid(RuleId.PROMO_3D, "name at least one platform", field="platforms")
            short = _cannot_meet(
                command.major, command.starts_at, command.at, policy, command.acknowledge_late
            )
            return [
                PromotionPlanned(
                    promotion_id=command.promotion_id,
                    name=command.name,
                    starts_at=command.starts_at,
                    ends_at=command.ends_at,
                    major=command.major,
                    platforms=platforms,
                    owner=command.owner or command.actor.id,
                    by=command.actor.id,
                    at=command.at,
                    announce_by=command.starts_at - policy.promo_3d.lead,
                    cannot_meet=short,
                )
            ]
        case Progress():
            on = () if _ended(state) else moved(state.platforms, command)
            return [AnnouncementLinked(article_id=command.article_id, platforms=on, stage=command.stage,
                                       at=command.at)] if on else []  # fmt: skip
        case Published():
            # recorded also after a cancellation: what went out then needs a follow-up too
            if state.announce_by is None:
                raise DomainError(RuleId.PROMO_3D, "no such promotion")
            if not first_publication(state.platforms, command):
                return []  # not a required platform, or out there already: the first publication counts
            announced = Announced(
                platform=command.platform,
                article_id=command.article_id,
                published_at=command.published_at,
                late_by_s=late_by_s(command.published_at, state.announce_by),
            )
            if (
                state.verdict == "breached"
                and not state.cancelled
                and amends(state.platforms, command, state.announce_by)
            ):
                return [announced, AnnouncementMet(at=command.published_at, after_breach=True)]
            return [announced]
        case Tick():
            return _due(state, command.at, policy) if state.planned and not state.cancelled else []
        case Reschedule():
            require(command.actor.roles, Permission.PROMOTION_PLAN)
            _open(state)
            if state.starts_at is not None and command.at >= state.starts_at:
                raise DomainError(RuleId.PROMO_3D, "the promotion has started: its record stands")
            _check_dates(command.starts_at, command.ends_at, command.at, policy)
            short = _cannot_meet(state.major, command.starts_at, command.at, policy, command.acknowledge_late)
            return [
                PromotionRescheduled(
                    previous_starts_at=state.starts_at,
                    starts_at=command.starts_at,
                    ends_at=command.ends_at,
                    announce_by=command.starts_at - policy.promo_3d.lead,
                    cannot_meet=short,
                    by=command.actor.id,
                    at=command.at,
                )
            ]
        case Cancel():
            require(command.actor.roles, Permission.PROMOTION_PLAN)
            _open(state)
            out = tuple(p for p, a in state.platforms.items() if a.announced_at is not None)
            return [
                PromotionCancelled(reason=command.reason, follow_up=out, by=command.actor.id, at=command.at)
            ]
    raise TypeError(f"not a promotion command: {type(command).__name__}")


def _covered(state: Promotion, before: timedelta) -> bool:
    """A reminder is sent, or a later one was (which says all it would have)."""
    return any(sent <= int(before.total_seconds()) for sent in state.reminded)


def _reminders(state: Promotion, policy: Policy) -> list[timedelta]:
    """The reminders still to send for the current start, earliest first: none while everything
    is out, none for a time before the start was set, none already sent or covered."""
    assert state.starts_at is not None  # noqa: S101
    if not unpublished(state.platforms):
        return []
    return [
        before
        for before in sorted(policy.promo_remind.before_start, reverse=True)
        if not _covered(state, before) and (state.since is None or state.starts_at - before >= state.since)
    ]


def _reminders_due(state: Promotion, now: datetime, policy: Policy) -> list[timedelta]:
    assert state.starts_at is not None  # noqa: S101
    return [before for before in _reminders(state, policy) if now >= state.starts_at - before]


def _due(state: Promotion, now: datetime, policy: Policy) -> list[DomainEvent]:
    """The latest reminder whose time came (it covers any missed before it), then the verdict.

    Once a major promotion's deadline has passed the verdict says it all: no reminder then.
    """
    assert state.announce_by is not None  # noqa: S101
    if state.verdict is not None:
        return []
    events: list[DomainEvent] = []
    judged = state.major and now >= state.announce_by
    due = _reminders_due(state, now, policy)
    if due and not judged:
        events.append(
            PromotionReminded(
                before_start_s=int(due[-1].total_seconds()),
                missing=stuck(state.platforms),
                owner=state.owner,
                to=policy.promo_remind.notify,
                at=now,
            )
        )
    if judged:
        absent = tuple(state.missing())
        events.append(AnnouncementBreached(missing=absent, at=now) if absent else AnnouncementMet(at=now))
    return events


def next_due(state: Promotion, policy: Policy) -> datetime | None:
    """When the promotion's workflow must next decide (`Tick`), or None when nothing is left.

    A reminder is due only while something is missing; each one due is sent (or covered) by the
    `Tick` at its time, and the verdict ends the clock, so a time in the past never comes back.
    """
    if not state.planned or state.cancelled or state.verdict is not None:
        return None
    assert state.starts_at is not None  # noqa: S101
    assert state.announce_by is not None  # noqa: S101
    times = [state.starts_at - before for before in _reminders(state, policy)]
    if state.major:
        times.append(state.announce_by)
    return min(times) if times else None


PROMOTIONS: Decider[Promotion] = Decider(
    initial=initial_promotion, decide=decide_promotion, evolve=evolve_promotion
)
