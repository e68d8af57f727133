"""Posting cadence (R-CADENCE-WEB, R-CADENCE-DAILY, R-CADENCE-MP, R-FIXED-MONTHLY) as a decider.

Each rule owes posts per subject (the website, each new-media platform, each mini program
section, each fixed column) per period (an ISO week, a day, a month, in Asia/Shanghai). One
process per subject and period counts the posts *published* in it, from the articles' events,
raises an at-risk alert to the owner at P-CADENCE-CHECK's time (20:00 of the period's last day)
when it would close short, and at the close (24:00) records the period met or missed with the
count and the target: the fact R-KPI counts against the owner.
"""

from collections.abc import Sequence
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.decider import Decider
from domain.durations import Instant
from domain.errors import Invalid
from domain.events import REGISTRY, DomainEvent
from domain.periods import Kind, Period, containing, local
from domain.platforms import Platform
from domain.policy import Policy
from domain.rules import RuleId

SECTION_LABELS: dict[str, str] = {
    "company_moments": "企业朋友圈 company moments",
    "recruitment": "招聘信息 recruitment",
}


class Subject(BaseModel):
    """What a cadence rule counts posts for, over which period, and how many it owes."""

    model_config = ConfigDict(frozen=True)

    rule: RuleId
    key: str
    """`website`, `wechat`, ..., `miniprogram:company_moments`, `column:<id>`: the owner's subject."""
    label: str
    platform: Platform
    kind: Kind
    target: int = Field(ge=1)
    section: str | None = None
    column: str | None = None
    days: Literal["every_day", "working_days"] = "every_day"
    """For a daily subject: whether a non-working day owes a post."""


class Column(BaseModel):
    """A fixed column (固定栏目) the department declared, checked every month (R-FIXED-MONTHLY)."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    platform: Platform


def subjects(policy: Policy, columns: Sequence[Column] = ()) -> list[Subject]:
    """Every cadence subject the policy and the declared columns make, in rulebook order."""
    found = [
        Subject(
            rule=RuleId.CADENCE_WEB,
            key=str(Platform.WEBSITE),
            label="网站 website",
            platform=Platform.WEBSITE,
            kind="week",
            target=policy.cadence_web.min_per_week,
        )
    ]
    daily = policy.cadence_daily
    found += [
        Subject(
            rule=RuleId.CADENCE_DAILY,
            key=str(p),
            label=str(p),
            platform=p,
            kind="day",
            target=daily.min_per_day,
            days=daily.days,
        )
        for p in daily.platforms
    ]
    mp = policy.cadence_mp
    found += [
        Subject(
            rule=RuleId.CADENCE_MP,
            key=f"miniprogram:{s}",
            label=f"小程序 {SECTION_LABELS.get(s, s)}",
            platform=Platform.MINIPROGRAM,
            kind="day",
            target=mp.min_per_day,
            section=s,
            days=mp.days,
        )
        for s in mp.sections
    ]
    found += [
        Subject(
            rule=RuleId.FIXED_MONTHLY,
            key=f"column:{c.id}",
            label=f"固定栏目 {c.name}",
            platform=c.platform,
            kind="month",
            target=policy.fixed_monthly.min_per_month,
            column=c.id,
        )
        for c in columns
    ]
    return found


def section_of(category: str) -> str:
    """The mini program section an article goes to: recruitment posts to 招聘, the rest to 企业朋友圈."""
    return "recruitment" if category == "recruitment" else "company_moments"


class Post(BaseModel):
    """One published post of an article on the subject's platform."""

    model_config = ConfigDict(frozen=True)

    article_id: str
    platform: Platform
    at: Instant
    category: str = ""
    column: str | None = None


def counts_for(subject: Subject, post: Post) -> bool:
    """Whether a published post counts for the subject (its platform, section or column)."""
    if post.platform != subject.platform:
        return False
    if subject.section is not None:
        return section_of(post.category) == subject.section
    if subject.column is not None:
        return post.column == subject.column
    return True


def at_risk_at(period: Period, policy: Policy) -> datetime:
    """P-CADENCE-CHECK's alert time: its time of day on the period's last local day."""
    return local(period.last, policy.cadence_check.at_risk_at, policy.zone)


def closes_at(period: Period, policy: Policy) -> datetime:
    """P-CADENCE-CHECK's close: its time of day (24:00) on the period's last local day."""
    return local(period.last, policy.cadence_check.close_at, policy.zone)


def stream_of(subject_key: str, period: Period) -> str:
    """The process of one subject and period: `cadence-<subject>-<period key>`."""
    return f"cadence-{subject_key}-{period.key}"


# --- events ----------------------------------------------------------------------------------


@REGISTRY.register
class PeriodOpened(DomainEvent):
    type: Literal["cadence.opened"] = "cadence.opened"
    subject: Subject
    period: str
    first_day: date
    starts_at: Instant
    at_risk_at: Instant
    closes_at: Instant
    owner: str | None
    at: Instant


@REGISTRY.register
class PostsCounted(DomainEvent):
    """Posts published in the period that the process had not counted yet."""

    type: Literal["cadence.counted"] = "cadence.counted"
    posts: list[Post]
    at: Instant


@REGISTRY.register
class PeriodAtRisk(DomainEvent):
    """P-CADENCE-CHECK: at the alert time the period would close short; its owner is told."""

    type: Literal["cadence.at_risk"] = "cadence.at_risk"
    count: int
    target: int
    owner: str | None
    at: Instant


@REGISTRY.register
class PeriodClosed(DomainEvent):
    """The period closed met or missed, with the count and the target; R-KPI counts it against `owner`."""

    type: Literal["cadence.closed"] = "cadence.closed"
    verdict: Literal["met", "missed"]
    count: int
    target: int
    articles: list[str]
    owner: str | None
    at: Instant


@REGISTRY.register
class PeriodNotOwed(DomainEvent):
    """A daily subject under `working_days` on a day off: nothing was owed."""

    type: Literal["cadence.not_owed"] = "cadence.not_owed"
    at: Instant


CadenceEvent = Annotated[
    PeriodOpened | PostsCounted | PeriodAtRisk | PeriodClosed | PeriodNotOwed, Field(discriminator="type")
]


# --- state -----------------------------------------------------------------------------------


class CadencePeriod(BaseModel):
    subject: Subject | None = None
    period: str = ""
    first_day: date | None = None
    starts_at: Instant | None = None
    at_risk_at: Instant | None = None
    closes_at: Instant | None = None
    owner: str | None = None
    posts: dict[str, Instant] = Field(default_factory=dict)
    """The articles counted, with when each came out."""
    at_risk: bool = False
    verdict: Literal["met", "missed", "not_owed"] | None = None
    closed_at: Instant | None = None

    @property
    def count(self) -> int:
        return len(self.posts)

    @property
    def status(self) -> str:
        if self.verdict is not None:
            return self.verdict
        return "at_risk" if self.at_risk else "open"


def evolve(state: CadencePeriod, event: DomainEvent) -> CadencePeriod:
    s = state.model_copy(deep=True)
    if isinstance(event, PeriodOpened):
        s.subject, s.period, s.first_day, s.owner = event.subject, event.period, event.first_day, event.owner
        s.starts_at, s.at_risk_at, s.closes_at = event.starts_at, event.at_risk_at, event.closes_at
    elif isinstance(event, PostsCounted):
        for post in event.posts:
            s.posts.setdefault(post.article_id, post.at)
    elif isinstance(event, PeriodAtRisk):
        s.at_risk = True
    elif isinstance(event, PeriodClosed):
        s.verdict, s.closed_at, s.owner = event.verdict, event.at, event.owner
    elif isinstance(event, PeriodNotOwed):
        s.verdict, s.closed_at = "not_owed", event.at
    return s


# --- commands (all internal: the process's own timers and reads) ------------------------------


class Open(BaseModel):
    subject: Subject
    first_day: date
    owner: str | None
    owed: bool = True
    at: Instant


class Count(BaseModel):
    posts: list[Post]
    at: Instant


class Tick(BaseModel):
    """The process's timer: the alert time or the close has come."""

    owner: str | None
    at: Instant


def decide(command: BaseModel, state: CadencePeriod, policy: Policy) -> list[DomainEvent]:
    if isinstance(command, Open):
        if state.subject is not None:
            return []
        period = Period(command.subject.kind, command.first_day)
        if containing(period.kind, period.start(policy.zone), policy.zone) != period:
            raise Invalid(command.subject.rule, "a period begins on its first day", field="first_day")
        opened = PeriodOpened(
            subject=command.subject,
            period=period.key,
            first_day=period.first,
            starts_at=period.start(policy.zone),
            at_risk_at=at_risk_at(period, policy),
            closes_at=closes_at(period, policy),
            owner=command.owner,
            at=command.at,
        )
        return [opened] if command.owed else [opened, PeriodNotOwed(at=command.at)]
    if state.subject is None or state.verdict is not None:
        return []  # not opened yet, or closed: nothing more is counted or judged
    if isinstance(command, Count):
        assert state.starts_at is not None  # noqa: S101 - set when opened
        assert state.closes_at is not None  # noqa: S101
        fresh = [
            p
            for p in sorted(command.posts, key=lambda p: (p.at, p.article_id))
            if p.article_id not in state.posts
            and state.starts_at <= p.at < state.closes_at
            and counts_for(state.subject, p)
        ]
        unique = list({p.article_id: p for p in fresh}.values())
        return [PostsCounted(posts=unique, at=command.at)] if unique else []
    if isinstance(command, Tick):
        return _tick(command, state)
    raise TypeError(f"not a cadence command: {type(command).__name__}")


def _tick(command: Tick, state: CadencePeriod) -> list[DomainEvent]:
    assert state.subject is not None  # noqa: S101 - set when opened
    assert state.closes_at is not None  # noqa: S101
    assert state.at_risk_at is not None  # noqa: S101
    target = state.subject.target
    if command.at >= state.closes_at:
        verdict: Literal["met", "missed"] = "met" if state.count >= target else "missed"
        return [
            PeriodClosed(
                verdict=verdict,
                count=state.count,
                target=target,
                articles=sorted(state.posts),
                owner=command.owner,
                at=command.at,
            )
        ]
    if command.at >= state.at_risk_at and not state.at_risk and state.count < target:
        return [PeriodAtRisk(count=state.count, target=target, owner=command.owner, at=command.at)]
    return []


def next_due(state: CadencePeriod) -> datetime | None:
    """When the process must next decide: the alert time (while it may be short), then the close."""
    if state.subject is None or state.verdict is not None:
        return None
    if not state.at_risk and state.count < state.subject.target and state.at_risk_at is not None:
        return state.at_risk_at
    return state.closes_at


CADENCE: Decider[CadencePeriod] = Decider(initial=CadencePeriod, decide=decide, evolve=evolve)
