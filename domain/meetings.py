"""The weekly and monthly meeting reports (R-WEEKLY, R-MONTHLY, R-SITE-QUARTERLY) as one value.

A report is made from the record only: the figures from stored snapshots (domain/metrics.py), the
rule compliance from the events as they stood at the report's `as_of`, the action items as they
stood then. So a report made again from the same record is the same value, byte for byte in its
canonical JSON, and its digest does not change, even after a platform's live figures did.
"""

import hashlib
import json
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from domain.decider import Decider
from domain.durations import Instant
from domain.events import REGISTRY, DomainEvent
from domain.metrics import Change
from domain.periods import Period, local
from domain.platforms import Platform
from domain.policy import Meeting, Policy
from domain.rules import RuleId

MeetingKind = Literal["weekly", "monthly", "quarterly"]
MEETING_RULES: dict[MeetingKind, RuleId] = {
    "weekly": RuleId.WEEKLY,
    "monthly": RuleId.MONTHLY,
    "quarterly": RuleId.SITE_QUARTERLY,
}
MEETING_PERIODS: dict[MeetingKind, Literal["week", "month", "quarter"]] = {
    "weekly": "week",
    "monthly": "month",
    "quarterly": "quarter",
}
CHARTED_PERIODS = 8
"""How many periods (this one and those before) the charts show."""


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FigureLine(_Value):
    name: str
    label: str
    change: Change


class PlatformFigures(_Value):
    """One platform account's figures this period against the period before."""

    platform: Platform
    account: str
    snapshot: str | None = None
    """The event id of this period's snapshot (None: missing, see `missing`)."""
    previous_snapshot: str | None = None
    missing: str | None = None
    """Why this period's figures are missing for this run (the platform failed, has no figures API)."""
    previous_missing: str | None = None
    lines: list[FigureLine] = Field(default_factory=list)


class RuleTally(_Value):
    """How often a rule was kept in the period (from the record, as the audit check judges it)."""

    rule: RuleId
    checked: int = 0
    kept: int = 0
    broken: int = 0
    pending: int = 0

    @property
    def hit_rate(self) -> float | None:
        """Kept out of judged, in percent (None when nothing was judged)."""
        return round(self.kept * 100 / self.checked, 1) if self.checked else None


class CadenceLine(_Value):
    """One cadence subject (a platform, a mini program section, a fixed column) in the period."""

    rule: RuleId
    subject: str
    label: str
    met: int = 0
    missed: int = 0
    open: int = 0
    posts: int = 0
    """Posts published for it in the period."""
    missed_periods: list[str] = Field(default_factory=list)
    """The periods (days, weeks, months) it missed, by key."""


class Problem(_Value):
    """Something the meeting must discuss, with the rule it concerns and where the record shows it."""

    rule: RuleId
    kind: Literal["cadence_missed", "breach", "figure_fell", "figures_missing"]
    text: str
    where: str | None = None
    """A stream id or a platform, where a person looks."""


class ActionItem(_Value):
    """An action the meeting set: what, who, by when, and how it stood at the report's `as_of`."""

    id: str
    text: str
    owner: str
    due: date
    set_at_report: str
    """The report of the meeting that set it."""
    done_at: Instant | None = None
    status: Literal["done", "not_done", "overdue"] = "not_done"


class Series(_Value):
    """A chart's data: one value per period key (None: no figure for that period)."""

    title: str
    unit: str = ""
    points: list[tuple[str, float | None]]


class Chart(_Value):
    title: str
    kind: Literal["line", "bar"]
    series: list[Series]


class MeetingReport(_Value):
    """A meeting's report: figures, compliance, problems, action items; its digest covers it all."""

    id: str
    kind: MeetingKind
    rule: RuleId
    period: str
    previous: str
    starts_at: Instant
    ends_at: Instant
    meeting_at: Instant | None = None
    as_of: Instant
    """What the record said at this instant is what the report says."""
    partial: bool = False
    """Made before the period ended: its figures and counts are so far."""
    figures_from: date | None = None
    figures_to: date | None = None
    """The days the figures cover (a partial period's: those over by `as_of`), None: no day is over."""
    previous_from: date | None = None
    previous_to: date | None = None
    """The same days of the period before, which they are compared with."""
    timezone: str = "Asia/Shanghai"
    platforms: list[PlatformFigures] = Field(default_factory=list)
    compliance: list[RuleTally] = Field(default_factory=list)
    cadence: list[CadenceLine] = Field(default_factory=list)
    problems: list[Problem] = Field(default_factory=list)
    actions_reviewed: list[ActionItem] = Field(default_factory=list)
    """The action items of the period's meetings, and how each stood (a monthly report reviews the
    weeks' plans; a weekly one, last week's)."""
    charts: list[Chart] = Field(default_factory=list)
    threshold_pct: float
    """A figure that fell by more than this percentage is named as a problem."""


def figure_days(period: Period, as_of: datetime, zone: ZoneInfo) -> tuple[date, date] | None:
    """The days of `period` whose figures can be final by `as_of`: every day of a period that is
    over; of one still running, the days before today (None on its first day)."""
    today = as_of.astimezone(zone).date()
    last = min(period.last, today - timedelta(days=1))
    return (period.first, last) if last >= period.first else None


def previous_days(period: Period, days: tuple[date, date]) -> tuple[date, date]:
    """The same stretch of the period before: as many days from its start (a partial week is
    compared with the same weekdays of the week before)."""
    before = period.previous()
    span = (days[1] - days[0]).days
    return before.first, min(before.first + timedelta(days=span), before.last)


def meeting_rule(kind: MeetingKind, policy: Policy) -> Meeting:
    """The policy's parameters of a kind of meeting."""
    if kind == "weekly":
        return policy.weekly
    return policy.monthly if kind == "monthly" else policy.site_quarterly


def meeting_at(kind: MeetingKind, period: Period, policy: Policy) -> datetime:
    """When the meeting that reports `period` sits: the policy's weekday (or day) and time after it."""
    end = period.following().first
    if kind == "weekly":
        ahead = (WEEKDAYS.index(policy.weekly.weekday) - end.weekday()) % 7
        return local(end + timedelta(days=ahead), policy.weekly.at, policy.zone)
    rule = policy.monthly if kind == "monthly" else policy.site_quarterly
    return local(end.replace(day=rule.day_of_month), rule.at, policy.zone)


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def canonical(report: MeetingReport) -> bytes:
    """The report's bytes: sorted keys, no spaces, UTF-8; what the digest is of."""
    data = report.model_dump(mode="json")
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def digest(report: MeetingReport) -> str:
    return hashlib.sha256(canonical(report)).hexdigest()


def report_id(kind: MeetingKind, period: str, as_of: datetime) -> str:
    """A report's id: its meeting kind, its period and when it was made (each edition its own)."""
    return f"{kind}-{period}-{as_of.strftime('%Y%m%dT%H%M%SZ')}"


# --- the report process's events --------------------------------------------------------------


@REGISTRY.register
class FiguresMissing(DomainEvent):
    """A platform gave no figures for this run (it failed, or has no figures API): missing, not zero."""

    type: Literal["report.figures_missing"] = "report.figures_missing"
    platform: Platform
    account: str
    begin: date
    end: date
    reason: str
    code: str | None = None
    at: Instant


@REGISTRY.register
class ReportMade(DomainEvent):
    """The report as made, whole, with its digest: what the meeting reads and an audit re-derives."""

    type: Literal["report.made"] = "report.made"
    report: MeetingReport
    digest: str
    at: Instant


class ReportProcess(BaseModel):
    """The report process's state: the figures found missing, then the report."""

    missing: list[FiguresMissing] = Field(default_factory=list)
    made: ReportMade | None = None


def evolve(state: ReportProcess, event: DomainEvent) -> ReportProcess:
    s = state.model_copy(deep=True)
    if isinstance(event, FiguresMissing):
        s.missing.append(event)
    elif isinstance(event, ReportMade):
        s.made = event
    return s


class RecordMissing(BaseModel):
    missing: FiguresMissing


class RecordReport(BaseModel):
    report: MeetingReport
    at: Instant


def decide(command: BaseModel, state: ReportProcess, policy: Policy) -> list[DomainEvent]:
    """Internal commands only (the workflow's own reads): a report is made once per process."""
    if state.made is not None:
        return []
    if isinstance(command, RecordMissing):
        return [command.missing]
    if isinstance(command, RecordReport):
        return [ReportMade(report=command.report, digest=digest(command.report), at=command.at)]
    raise TypeError(f"not a report command: {type(command).__name__}")


REPORTS: Decider[ReportProcess] = Decider(initial=ReportProcess, decide=decide, evolve=evolve)
