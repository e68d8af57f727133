"""The compliance check: every process rebuilt from the event store, every rule checked again.

Each stream is folded with its process's own decider (`evolve`, the code the workflows run), and
each rule is judged from the facts under the policy given: the one in force, or another
(`--policy`, a what-if that changes nothing recorded). A rule is judged from what happened (who
approved which content hash, when an inquiry was answered, when each platform announced), not
from the verdicts the workflows recorded, so a stricter policy shows what it would have broken and
a verdict that disagrees with the facts under the same policy is found. Rules the system does not
check automatically are listed as not checked, never passed in silence.

One pass over the events, stream by stream in version order; a stream's state is dropped once it
is judged, so memory holds one process at a time whatever the store's size.
"""

import contextlib
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from domain import articles as a
from domain import cadence as cd
from domain import inquiries as q
from domain import promotions as pr
from domain import writeups as wu
from domain.announcements import late_by_s
from domain.calendar import calendar_for, inquiry_due
from domain.decider import Decider
from domain.errors import CalendarYearUnknown
from domain.events import REGISTRY, DomainEvent
from domain.policy import Policy
from domain.roles import Role
from domain.rules import RuleId
from eventstore.db import Conn

CHECKED: tuple[RuleId, ...] = (
    RuleId.REVIEW_ALL,
    RuleId.REVIEW_PROJECT,
    RuleId.REVIEW_STRICT,
    RuleId.ACCOUNTABLE,
    RuleId.LAWFUL,
    RuleId.INQUIRY_12H,
    RuleId.ESCALATE_4H,
    RuleId.PROMO_3D,
    RuleId.NEWS_3WD,
    RuleId.CADENCE_WEB,
    RuleId.CADENCE_DAILY,
    RuleId.CADENCE_MP,
    RuleId.FIXED_MONTHLY,
)
"""The rules this check judges from the record; every other rule id is listed as not checked."""
NOT_CHECKED_BECAUSE: dict[RuleId, str] = {
    RuleId.KPI: "a tally of the other rules' verdicts per owner (GET /kpi), not a rule of its own",
    RuleId.WEEKLY: "a report is checked by composing it again (`mediaops report verify`)",
    RuleId.MONTHLY: "a report is checked by composing it again (`mediaops report verify`)",
    RuleId.SITE_QUARTERLY: "a report is checked by composing it again (`mediaops report verify`)",
    RuleId.NO_INSIDE: "a judgement about content: a reviewer's, not the record's",
    RuleId.NO_PERSONAL: "a judgement about content: a reviewer's, not the record's",
    RuleId.DESIGN: "a judgement about layout: a reviewer's, not the record's",
    RuleId.CLASSIFIED: "the classification is the reviewer's judgement",
}
"""Why a rule is not judged here (any rule id without a reason: enforced where it applies, not re-checked)."""


class Breach(BaseModel):
    """One broken instance: where it is in the record, and what was wrong."""

    stream_id: str
    position: int
    detail: str


class RuleCount(BaseModel):
    rule: RuleId
    checked: int = 0
    kept: int = 0
    broken: int = 0
    pending: int = Field(default=0, description="its deadline had not come by the check's time")
    breaches: list[Breach] = Field(default_factory=list)


class NotChecked(BaseModel):
    rule: RuleId
    reason: str


class Findings(BaseModel):
    """What a rule check found, before integrity: per rule, and the facts the record contradicts."""

    rules: list[RuleCount]
    not_checked: list[NotChecked]
    disagreements: list[Breach] = Field(default_factory=list)
    """A verdict recorded under the same policy that the facts do not bear out (a tampered or
    mis-decided record): each one is an integrity finding."""
    streams: int = 0
    """The processes of the period (those with an instance judged or pending), and their events."""
    events: int = 0


@dataclass
class Tally:
    counts: dict[RuleId, RuleCount] = field(default_factory=lambda: {r: RuleCount(rule=r) for r in CHECKED})
    disagreements: list[Breach] = field(default_factory=list)

    def kept(self, rule: RuleId) -> None:
        count = self.counts[rule]
        count.checked, count.kept = count.checked + 1, count.kept + 1

    def broken(self, rule: RuleId, stream_id: str, position: int, detail: str) -> None:
        count = self.counts[rule]
        count.checked, count.broken = count.checked + 1, count.broken + 1
        count.breaches.append(Breach(stream_id=stream_id, position=position, detail=detail))

    def seen(self) -> int:
        """Instances judged or pending so far."""
        return sum(c.checked + c.pending for c in self.counts.values())

    def pending(self, rule: RuleId) -> None:
        self.counts[rule].pending += 1

    def judge(self, rule: RuleId, stream_id: str, position: int, problem: str | None) -> None:
        if problem is None:
            self.kept(rule)
        else:
            self.broken(rule, stream_id, position, problem)


@dataclass(frozen=True)
class Period:
    """[start, end): a process is in it when its anchor is (an article's publication, an inquiry's
    arrival, a promotion's announcement deadline, a write-up's due time); `as_of` is when the
    deadlines not come yet are pending (the end, for a period in the past)."""

    start: datetime
    end: datetime
    as_of: datetime

    def holds(self, moment: datetime | None) -> bool:
        return moment is not None and self.start <= moment < self.end


@dataclass
class Folded:
    """One stream as its events made it, with the positions a breach is named by."""

    stream_id: str
    state: Any
    first: int = 0
    positions: dict[str, int] = field(default_factory=dict)
    """The position of the latest event of each type (what a breach points at)."""
    started: dict[int, tuple[str, int]] = field(default_factory=dict)
    """An article's versions that began publishing: their content hash and position."""
    published_at: datetime | None = None
    events: int = 0
    closed_at: datetime | None = None
    """When an inquiry was closed, or a promotion called off."""
    checks: dict[int, bool] = field(default_factory=dict)
    """An article's versions and whether their latest content check passed."""
    clocks: list["Clock"] = field(default_factory=list)
    """An inquiry's response clocks: its first message's, and one per reopening."""


@dataclass
class Clock:
    """One response clock of an inquiry (R-INQUIRY-12H is owed once per clock)."""

    started: datetime
    position: int
    deadline: datetime | None = None
    """The deadline its workflow recorded."""
    answered: datetime | None = None
    breached: int | None = None
    """The position of its recorded breach."""
    escalated: datetime | None = None
    events: int = 0


PROCESSES: dict[str, Decider[Any]] = {
    "article-": a.ARTICLES,
    "inquiry-": q.INQUIRIES,
    "promotion-": pr.PROMOTIONS,
    "writeup-": wu.WRITEUPS,
    "cadence-": cd.CADENCE,
}
PROCESS_ROWS = """SELECT position, stream_id, type, schema_version, data, recorded_at FROM events
            WHERE (stream_id LIKE 'article-%' OR stream_id LIKE 'inquiry-%'
                   OR stream_id LIKE 'promotion-%' OR stream_id LIKE 'writeup-%'
                   OR stream_id LIKE 'cadence-%')
              AND recorded_at < $1
            ORDER BY stream_id, stream_version"""
"""Every process stream's events recorded before $1, in stream order (the benchmark scans the same)."""


async def folded(conn: Conn, until: datetime) -> AsyncGenerator[Folded]:
    """Every process stream as it stood at `until` (what was recorded before it), folded with its
    decider, one at a time, in one snapshot: a past period's processes read the same later."""
    current: Folded | None = None
    decider: Decider[Any] | None = None
    async with conn.transaction(readonly=True, isolation="repeatable_read"):
        # one long, read-only pass on purpose (it holds no transaction id, so no reader waits on it)
        await conn.execute("SET LOCAL statement_timeout = 0")
        async for row in conn.cursor(PROCESS_ROWS, until, prefetch=5000):
            stream = row["stream_id"]
            if current is None or stream != current.stream_id:
                if current is not None:
                    yield current
                prefix = stream.split("-", 1)[0] + "-"
                decider = PROCESSES[prefix]
                current = Folded(stream, decider.initial(), first=row["position"])
            kind = row["type"]
            current.events += 1
            if kind.split(".", 1)[0] + "-" != stream.split("-", 1)[0] + "-":
                continue  # the shell's own records (a refusal, a flag): not the process's facts
            event = REGISTRY.decode(kind, row["schema_version"], row["data"])
            assert decider is not None  # noqa: S101 - set with `current`
            current.state = decider.evolve(current.state, event)
            current.positions[kind] = row["position"]
            _note(current, event, row["position"], row["recorded_at"])
    if current is not None:
        yield current


def _note(f: Folded, event: DomainEvent, position: int, recorded_at: datetime) -> None:
    if isinstance(event, a.PublishStarted):
        f.started.setdefault(event.version, (event.content_hash, position))
    elif isinstance(event, a.PublicationRecorded) and event.outcome.state == "published":
        at = event.at or recorded_at
        f.published_at = at if f.published_at is None else min(f.published_at, at)
    elif isinstance(event, (q.InquiryReceived, q.Reopened)):
        f.clocks.append(Clock(started=event.sent_at, position=position))
    elif isinstance(event, q.SlaStarted) and f.clocks:
        f.clocks[-1].deadline = event.deadline
    elif f.clocks and (answered := _answered(event)) is not None:
        f.clocks[-1].answered = f.clocks[-1].answered or answered
    elif isinstance(event, q.Breached) and f.clocks:
        f.clocks[-1].breached = position
    elif isinstance(event, q.Escalated) and f.clocks:
        f.clocks[-1].escalated = f.clocks[-1].escalated or event.at
    elif isinstance(event, (q.Closed, pr.PromotionCancelled)):
        f.closed_at = event.at
    elif isinstance(event, (a.ChecksPassed, a.ChecksFailed)):
        f.checks[event.version] = isinstance(event, a.ChecksPassed)


def _answered(event: DomainEvent) -> datetime | None:
    """When a reply reached the user: sent, or found delivered when a person checked (else None)."""
    if isinstance(event, q.Replied) and event.outcome.state == "sent":
        return event.at
    if isinstance(event, q.ReplyReconciled) and event.delivered:
        return event.at
    return None


async def check_rules(conn: Conn, period: Period, policy: Policy) -> Findings:
    """Judge every rule in `CHECKED` over the processes in the period, under `policy`."""
    tally, streams, events = Tally(), 0, 0
    judges: dict[type, Callable[[Folded, Period, Policy, Tally], None]] = {
        a.Article: _article,
        q.Inquiry: _inquiry,
        pr.Promotion: _promotion,
        wu.WriteUp: _writeup,
        cd.CadencePeriod: _cadence,
    }
    async with contextlib.aclosing(folded(conn, period.as_of)) as found:
        async for f in found:
            seen = tally.seen()
            judges[type(f.state)](f, period, policy, tally)
            if tally.seen() != seen:  # a process of the period: the report counts what it judged
                streams += 1
                events += f.events
    for count in tally.counts.values():  # in the order of the stream ids, whatever the database's collation
        count.breaches.sort(key=lambda b: (b.stream_id, b.position, b.detail))
    tally.disagreements.sort(key=lambda b: (b.stream_id, b.position, b.detail))
    return Findings(
        rules=[tally.counts[r] for r in CHECKED],
        not_checked=[
            NotChecked(
                rule=r, reason=NOT_CHECKED_BECAUSE.get(r, "enforced where it applies, not re-checked here")
            )
            for r in RuleId
            if r not in CHECKED
        ],
        disagreements=tally.disagreements,
        streams=streams,
        events=events,
    )


# --- articles: R-REVIEW-ALL, R-REVIEW-PROJECT / R-REVIEW-STRICT, R-ACCOUNTABLE, R-LAWFUL ----------


def _article(f: Folded, period: Period, policy: Policy, tally: Tally) -> None:
    article: a.Article = f.state
    if not period.holds(f.published_at) or article.content is None:
        return  # only what was published in the period is judged
    version = max(f.started) if f.started else article.version
    content_hash, position = f.started.get(version, (article.content_hash, f.first))
    content = article.content
    for role in a.required_approvals(content, policy):
        approved = any(x.role is role and x.version == version and x.content_hash == content_hash
                       for x in article.approvals)  # fmt: skip
        problem = (
            None if approved else f"published v{version} without the {role.value}'s approval of its content"
        )
        tally.judge(_approval_rule(role, content, policy), f.stream_id, position, problem)
    reviewer = any(x.version == version for x in article.approvals)
    recorded = {
        "author": article.author,
        "reviewer": reviewer,
        "source": content.source,
        "editor": content.editor,
    }
    absent = [name for name in policy.accountable.required_fields if not recorded[name]]
    tally.judge(
        RuleId.ACCOUNTABLE, f.stream_id, position, f"not recorded: {', '.join(absent)}" if absent else None
    )
    problem = None if f.checks.get(version, False) else f"v{version} published without passing its checks"
    tally.judge(RuleId.LAWFUL, f.stream_id, position, problem)


# --- inquiries: R-INQUIRY-12H, R-ESCALATE-4H ------------------------------------------------------


def _approval_rule(role: Role, content: a.Content, policy: Policy) -> RuleId:
    """The rule an approval is owed to: the general manager's to R-REVIEW-STRICT when only the
    strict option asks for it (not a company project)."""
    rule = a.approval_rule(role, policy)
    if rule is RuleId.REVIEW_PROJECT and not content.involves_company_project:
        return RuleId.REVIEW_STRICT
    return rule


def _inquiry(f: Folded, period: Period, policy: Policy, tally: Tally) -> None:
    """Each response clock of an inquiry that came in the period: the first message's, and each
    reopening's (a late first answer stays a breach when the second is in time)."""
    inquiry: q.Inquiry = f.state
    if not period.holds(inquiry.received_at):
        return
    for n, clock in enumerate(f.clocks):
        last = n == len(f.clocks) - 1
        _clock(f, clock, inquiry, last, period, policy, tally)


def _clock(
    f: Folded, clock: Clock, inquiry: q.Inquiry, last: bool, period: Period, policy: Policy, tally: Tally
) -> None:
    try:
        deadline, _ = inquiry_due(clock.started, policy, calendar_for(policy))
    except CalendarYearUnknown:  # the policy says such a year is an error: not judged, not passed
        tally.pending(RuleId.INQUIRY_12H)
        return
    answered = clock.answered
    if last and answered is None and inquiry.closed is not None and f.closed_at is not None:
        if inquiry.closed != "answered" and f.closed_at <= deadline and clock.breached is None:
            return  # spam or a duplicate, closed by the manager in time: not an inquiry to answer
        if inquiry.closed == "answered":
            answered = f.closed_at  # answered another way (by phone) and closed as answered
    if answered is None and period.as_of < deadline:
        tally.pending(RuleId.INQUIRY_12H)
    elif answered is not None and answered <= deadline:
        tally.kept(RuleId.INQUIRY_12H)
    else:
        late = "unanswered" if answered is None else f"answered {_late(answered - deadline)} late"
        recorded = "breach recorded and escalated" if clock.breached else "breach NOT recorded"
        where = clock.breached or clock.position
        detail = f"{late} (deadline {deadline.isoformat()}); {recorded}"
        tally.broken(RuleId.INQUIRY_12H, f.stream_id, where, detail)
        if clock.breached is None and deadline == clock.deadline:
            detail = "R-INQUIRY-12H: past its deadline, no breach recorded"
            tally.disagreements.append(Breach(stream_id=f.stream_id, position=where, detail=detail))
    rule = policy.escalate_4h
    if rule.enabled:
        owed = (
            clock.escalated is not None
            or answered is None
            or answered > clock.started + rule.report_unanswered_after
        )
        if not owed:
            return  # answered before the option reports it: nothing to report up
        if clock.escalated is None and period.as_of < clock.started + rule.within:
            tally.pending(RuleId.ESCALATE_4H)
            return
        slow = clock.escalated is None or clock.escalated > clock.started + rule.within
        problem = "not reported up within its bound" if slow else None
        tally.judge(
            RuleId.ESCALATE_4H, f.stream_id, f.positions.get("inquiry.escalated", clock.position), problem
        )


# --- promotions and write-ups: R-PROMO-3D, R-NEWS-3WD ---------------------------------------------


def _promotion(f: Folded, period: Period, policy: Policy, tally: Tally) -> None:
    promotion: pr.Promotion = f.state
    if not promotion.major or promotion.starts_at is None:
        return  # R-PROMO-3D judges major promotions
    deadline = promotion.starts_at - policy.promo_3d.lead
    if promotion.cancelled and (f.closed_at is None or f.closed_at < deadline):
        return  # called off before its deadline: nothing was owed (one called off after it still was)
    if not period.holds(promotion.announce_by):
        return
    _judge_out(f, promotion.platforms, deadline, RuleId.PROMO_3D, "promotion", period, tally,
               same_deadline=deadline == promotion.announce_by)  # fmt: skip


def _writeup(f: Folded, period: Period, policy: Policy, tally: Tally) -> None:
    writeup: wu.WriteUp = f.state
    if writeup.ends_at is None or writeup.due is None:
        return
    if not period.holds(writeup.due):
        return
    try:
        due = calendar_for(policy).working_days_deadline(
            writeup.ends_at, policy.news_3wd.within_working_days, policy.event_day_end.at, policy.zone
        )
    except CalendarYearUnknown:  # the policy says such a year is an error: not judged, not passed
        tally.pending(RuleId.NEWS_3WD)
        return
    _judge_out(f, writeup.platforms, due, RuleId.NEWS_3WD, "writeup", period, tally,
               same_deadline=due == writeup.due)  # fmt: skip


def _judge_out(
    f: Folded,
    platforms: dict[Any, Any],
    deadline: datetime,
    rule: RuleId,
    kind: str,
    period: Period,
    tally: Tally,
    *,
    same_deadline: bool,
) -> None:
    """Kept when every required platform was out by the deadline; pending while it has not come."""
    missing = sorted(  # late by whole seconds, as the deciders judge it
        str(p) for p, x in platforms.items() if x.announced_at is None or late_by_s(x.announced_at, deadline)
    )
    if period.as_of < deadline and missing:
        tally.pending(rule)
        return
    recorded = f.state.verdict
    where = f.positions.get(f"{kind}.breached", f.positions.get(f"{kind}.met", f.first))
    problem = f"not out by {deadline.isoformat()} on: {', '.join(missing)}" if missing else None
    tally.judge(rule, f.stream_id, where, problem)
    if same_deadline and recorded is not None and (recorded == "met") != (not missing):
        detail = f"{rule}: recorded {recorded}, the facts say otherwise"
        tally.disagreements.append(Breach(stream_id=f.stream_id, position=where, detail=detail))


# --- cadence: R-CADENCE-WEB, R-CADENCE-DAILY, R-CADENCE-MP, R-FIXED-MONTHLY ------------------------


def _cadence(f: Folded, period: Period, policy: Policy, tally: Tally) -> None:
    """A subject's period that began in the checked one: kept when the posts it counted (each a
    publication in its window, named by article) reach its target by its close."""
    state: cd.CadencePeriod = f.state
    subject = state.subject
    if subject is None or state.verdict == "not_owed" or not period.holds(state.starts_at):
        return
    assert state.closes_at is not None  # noqa: S101 - set with the subject
    if period.as_of < state.closes_at:
        tally.pending(subject.rule)
        return
    inside = [
        at for at in state.posts.values() if state.starts_at and state.starts_at <= at < state.closes_at
    ]
    short = len(inside) < subject.target
    where = f.positions.get("cadence.closed", f.first)
    problem = f"{subject.key} {state.period}: {len(inside)} of {subject.target} posts" if short else None
    tally.judge(subject.rule, f.stream_id, where, problem)
    if state.verdict is not None and (state.verdict == "missed") != short:
        detail = f"{subject.rule}: recorded {state.verdict}, the facts say otherwise"
        tally.disagreements.append(Breach(stream_id=f.stream_id, position=where, detail=detail))


def _late(by: timedelta) -> str:
    minutes = int(by.total_seconds() // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m"
