"""A meeting's report made from the record only (R-WEEKLY, R-MONTHLY, R-SITE-QUARTERLY).

`compose_report` reads what was recorded before the report's `as_of`: the platforms' stored snapshots
(never the platforms), the rule compliance as the audit check judges it from the events, the
cadence periods, the action items, and the reports made before it (for the charts' earlier
periods). So the same request gives the same report, and its digest, whenever it is composed
again: that is how `mediaops report ... --verify` proves a stored report unchanged.
"""

from collections.abc import Sequence
from datetime import date, datetime

from pydantic import BaseModel
from temporalio import activity

from activities.cadence import register_at
from activities.platforms.accounts import Accounts
from audit.check import Period as CheckPeriod
from audit.check import check_rules
from domain import cadence as c
from domain import meetings as m
from domain.department import action_status
from domain.events import REGISTRY
from domain.metrics import (
    CHARTED,
    FALLING,
    FIGURES,
    Figures,
    SnapshotTaken,
    change,
    fell_by_more_than,
    snapshot_stream,
)
from domain.periods import Period, parse_kind
from domain.platforms import Platform
from domain.policy import Policy
from domain.rules import RuleId
from eventstore.db import Conn
from eventstore.store import EventStore

COMPLIANCE_RULES = (
    RuleId.INQUIRY_12H,
    RuleId.PROMO_3D,
    RuleId.NEWS_3WD,
    RuleId.REVIEW_ALL,
    RuleId.REVIEW_PROJECT,
)
"""The rules a meeting reads the compliance of (the cadence rules have their own table)."""
_CADENCE_ROWS = """SELECT stream_id, type, schema_version, data FROM events
                    WHERE stream_id LIKE 'cadence-%' AND type LIKE 'cadence.%' AND recorded_at < $1
                    ORDER BY stream_id, stream_version"""
_EARLIER_REPORTS = """SELECT DISTINCT ON (data->'report'->>'period') data FROM events
                       WHERE type = 'report.made' AND data->'report'->>'kind' = $1
                         AND data->'report'->>'period' = ANY($2::text[]) AND recorded_at < $3
                       ORDER BY data->'report'->>'period', recorded_at DESC"""


class Source(BaseModel):
    """A platform account whose figures a report asks for, and why they are missing, if they are."""

    platform: Platform
    account: str
    missing: str | None = None
    previous_missing: str | None = None


class ComposeRequest(BaseModel):
    report_id: str
    kind: m.MeetingKind
    period: str
    as_of: datetime
    days: tuple[date, date] | None
    """The days the figures were asked for (the run's, from when it began: a run that crosses
    midnight still reads the snapshots it stored); None: no day of the period was over."""
    sources: list[Source]


def request_of(report: m.MeetingReport) -> ComposeRequest:
    """What composing `report` again takes: its own inputs, as it recorded them."""
    sources = [
        Source(platform=p.platform, account=p.account, missing=p.missing, previous_missing=p.previous_missing)
        for p in report.platforms
    ]
    days = (report.figures_from, report.figures_to) if report.figures_from and report.figures_to else None
    return ComposeRequest(
        report_id=report.id,
        kind=report.kind,
        period=report.period,
        as_of=report.as_of,
        days=days,
        sources=sources,
    )


class Reports:
    def __init__(self, store: EventStore, policy: Policy, accounts: Accounts) -> None:
        self.store = store
        self.policy = policy
        self.accounts = accounts

    @activity.defn(name="reports.sources")
    async def sources(self) -> list[Source]:
        """The platform accounts the worker holds: each one's figures are asked for."""
        return [
            Source(platform=a.platform, account=a.name)
            for a in sorted(self.accounts.all(), key=lambda a: (list(Platform).index(a.platform), a.name))
        ]

    @activity.defn(name="reports.compose")
    async def compose(self, request: ComposeRequest) -> m.MeetingReport:
        """The report, from the record as it stood at the request's `as_of`."""
        return await compose_report(self.store, self.policy, request)


async def compose_report(store: EventStore, policy: Policy, request: ComposeRequest) -> m.MeetingReport:
    """The report `request` asks for, from what was recorded before its `as_of`."""
    zone, kind = policy.zone, request.kind
    period = parse_kind(request.period, m.MEETING_PERIODS[kind])
    days = request.days
    before = m.previous_days(period, days) if days else None
    platforms = [await _figures(store, s, days, before) for s in request.sources]
    threshold = m.meeting_rule(kind, policy).falls_by_pct
    async with store.pool.acquire() as conn:
        check = CheckPeriod(start=period.start(zone), end=period.end(zone), as_of=request.as_of)
        findings = await check_rules(conn, check, policy)
        cadence = await _cadence(conn, period, request.as_of)
        keys = [p.key for p in _earlier(period)]
        earlier = [
            m.ReportMade.model_validate(r["data"]).report
            for r in await conn.fetch(_EARLIER_REPORTS, kind, keys, request.as_of)
        ]
    compliance = [
        m.RuleTally(rule=r.rule, checked=r.checked, kept=r.kept, broken=r.broken, pending=r.pending)
        for r in findings.rules
        if r.rule in COMPLIANCE_RULES
    ]
    breaches = [(r.rule, b) for r in findings.rules if r.rule in COMPLIANCE_RULES for b in r.breaches]
    register = await register_at(store, request.as_of)
    actions = [
        m.ActionItem(
            id=a.id,
            text=a.text,
            owner=a.owner,
            due=a.due,
            set_at_report=a.report_id,
            done_at=a.done_at if a.done_at and a.done_at <= request.as_of else None,
            status=action_status(a, request.as_of, policy),
        )
        for a in sorted(register.actions.values(), key=lambda a: (a.at, a.id))
        if _reviewed(a.at, a.due, a.done_at, period, policy)
    ]
    problems = [
        *(
            m.Problem(
                rule=line.rule,
                kind="cadence_missed",
                text=f"{line.label}: 未达标 missed {', '.join(line.missed_periods)}",
                where=line.subject,
            )
            for line in cadence
            if line.missed
        ),
        *(m.Problem(rule=rule, kind="breach", text=b.detail, where=b.stream_id) for rule, b in breaches),
        *_falls(platforms, threshold, m.MEETING_RULES[kind]),
        *(
            m.Problem(
                rule=m.MEETING_RULES[kind],
                kind="figures_missing",
                text=f"{p.platform}: 数据缺失 {p.missing}",
                where=str(p.platform),
            )
            for p in platforms
            if p.missing
        ),
    ]
    return m.MeetingReport(
        id=request.report_id,
        kind=kind,
        rule=m.MEETING_RULES[kind],
        period=period.key,
        previous=period.previous().key,
        starts_at=period.start(zone),
        ends_at=period.end(zone),
        meeting_at=m.meeting_at(kind, period, policy),
        as_of=request.as_of,
        partial=request.as_of < period.end(zone),
        timezone=policy.timezone,
        figures_from=days[0] if days else None,
        figures_to=days[1] if days else None,
        previous_from=before[0] if before else None,
        previous_to=before[1] if before else None,
        platforms=platforms,
        compliance=compliance,
        cadence=cadence,
        problems=problems,
        actions_reviewed=actions,
        charts=await _charts(store, period, platforms, compliance, cadence, earlier, request.as_of, policy),
        threshold_pct=threshold,
    )


def _earlier(period: Period) -> list[Period]:
    """The periods before this one that the charts show, oldest first."""
    found = [period]
    while len(found) < m.CHARTED_PERIODS:
        found.insert(0, found[0].previous())
    return found[:-1]


async def _snapshot(store: EventStore, stream: str) -> tuple[str, Figures] | None:
    """The stream's snapshot (the first is the one kept), with its event id."""
    for recorded in await store.read_stream(stream):
        if recorded.type == "metrics.snapshot_taken":
            taken = REGISTRY.decode(recorded.type, recorded.schema_version, recorded.data)
            assert isinstance(taken, SnapshotTaken)  # noqa: S101 - by its type
            return str(recorded.event_id), taken.figures
    return None


async def _figures(
    store: EventStore, source: Source, days: tuple[date, date] | None, before: tuple[date, date] | None
) -> m.PlatformFigures:
    """One platform's figures against the period before, from the snapshots the run stored."""
    current = previous = None
    missing, previous_missing = source.missing, source.previous_missing
    if days is None or before is None:
        missing = previous_missing = missing or "no day of the period is over yet"
    else:
        if missing is None:
            current = await _snapshot(store, snapshot_stream(source.platform, source.account, *days))
            missing = None if current else "no snapshot was stored"
        if previous_missing is None:
            previous = await _snapshot(store, snapshot_stream(source.platform, source.account, *before))
            previous_missing = None if previous else "no snapshot was stored"
    now_values = current[1].values if current else {}
    then_values = previous[1].values if previous else {}
    lines = [
        m.FigureLine(name=name, label=label, change=change(now_values.get(name), then_values.get(name)))
        for name, label in FIGURES.items()
        if name in now_values or name in then_values
    ]
    return m.PlatformFigures(
        platform=source.platform,
        account=source.account,
        snapshot=current[0] if current else None,
        previous_snapshot=previous[0] if previous else None,
        missing=missing,
        previous_missing=previous_missing,
        lines=lines,
    )


async def _cadence(conn: Conn, period: Period, as_of: datetime) -> list[m.CadenceLine]:
    """Each cadence subject's periods within `period` (days, weeks, months), as recorded by `as_of`."""
    states: dict[str, c.CadencePeriod] = {}
    async with conn.transaction(readonly=True):
        async for row in conn.cursor(_CADENCE_ROWS, as_of):
            event = REGISTRY.decode(row["type"], row["schema_version"], row["data"])
            states[row["stream_id"]] = c.CADENCE.evolve(
                states.get(row["stream_id"], c.CADENCE.initial()), event
            )
    lines: dict[str, m.CadenceLine] = {}
    for state in sorted(states.values(), key=lambda s: (s.first_day or date.min, s.period)):
        subject = state.subject
        if subject is None or state.first_day is None or state.verdict == "not_owed":
            continue
        if not period.contains(Period(subject.kind, state.first_day)):
            continue
        line = lines.get(subject.key) or m.CadenceLine(
            rule=subject.rule, subject=subject.key, label=subject.label
        )
        missed = state.verdict == "missed"
        lines[subject.key] = line.model_copy(
            update={
                "met": line.met + (state.verdict == "met"),
                "missed": line.missed + missed,
                "open": line.open + (state.verdict is None),
                "posts": line.posts + state.count,
                "missed_periods": [*line.missed_periods, state.period] if missed else line.missed_periods,
            }
        )
    return sorted(lines.values(), key=lambda line: (list(RuleId).index(line.rule), line.subject))


def _reviewed(recorded: datetime, due: date, done: datetime | None, period: Period, policy: Policy) -> bool:
    """An action item a meeting reviews: set or due in the period, or still open when it began."""
    zone = policy.zone
    start, end = period.start(zone), period.end(zone)
    return (
        start <= recorded < end
        or period.first <= due <= period.last
        or (recorded < start and (done is None or done >= start))
    )


def _falls(platforms: Sequence[m.PlatformFigures], threshold: float, rule: RuleId) -> list[m.Problem]:
    return [
        m.Problem(
            rule=rule,
            kind="figure_fell",
            text=f"{p.platform} {line.label}: {line.change.previous} → {line.change.current} "
            f"({line.change.pct}%)",
            where=str(p.platform),
        )
        for p in platforms
        for line in p.lines
        if line.name in FALLING and fell_by_more_than(line.change, threshold)
    ]


async def _charts(
    store: EventStore,
    period: Period,
    platforms: Sequence[m.PlatformFigures],
    compliance: Sequence[m.RuleTally],
    cadence: Sequence[m.CadenceLine],
    earlier: Sequence[m.MeetingReport],
    as_of: datetime,
    policy: Policy,
) -> list[m.Chart]:
    """Followers and reads per platform over the last periods (from their snapshots), the cadence
    met per platform and the SLA hit rate (from the reports made for those periods)."""
    keys = [p.key for p in [*_earlier(period), period]]
    by_period = {r.period: r for r in earlier}
    charts = []
    for name in CHARTED:
        series = []
        for p in platforms:
            points: list[tuple[str, float | None]] = []
            for key in keys:
                report = by_period.get(key)
                source = (
                    next(
                        (x for x in report.platforms if x.platform == p.platform and x.account == p.account),
                        None,
                    )
                    if report
                    else (p if key == period.key else None)
                )
                line = next((x for x in source.lines if x.name == name), None) if source else None
                points.append((key, line.change.current if line else None))
            if any(v is not None for _, v in points):
                series.append(m.Series(title=str(p.platform), points=points))
        if series:
            charts.append(m.Chart(title=FIGURES[name], kind="line", series=series))
    cadence_points = {
        line.subject: [
            (key, _met_share(by_period[key].cadence if key in by_period else None, line.subject))
            for key in keys[:-1]
        ]
        + [(period.key, _met_share(cadence, line.subject))]
        for line in cadence
    }
    if cadence_points:
        charts.append(
            m.Chart(
                title="发布频率达标率 cadence met (%)",
                kind="bar",
                series=[m.Series(title=k, unit="%", points=v) for k, v in cadence_points.items()],
            )
        )
    sla = [(k, _hit_rate(by_period[k].compliance if k in by_period else None)) for k in keys[:-1]]
    sla.append((period.key, _hit_rate(compliance)))
    charts.append(
        m.Chart(
            title="12小时回复率 SLA hit rate (%) R-INQUIRY-12H",
            kind="line",
            series=[m.Series(title="R-INQUIRY-12H", unit="%", points=sla)],
        )
    )
    return charts


def _met_share(lines: Sequence[m.CadenceLine] | None, subject: str) -> float | None:
    line = next((x for x in lines or () if x.subject == subject), None)
    judged = line.met + line.missed if line else 0
    return round(line.met * 100 / judged, 1) if line and judged else None


def _hit_rate(tallies: Sequence[m.RuleTally] | None) -> float | None:
    tally = next((t for t in tallies or () if t.rule is RuleId.INQUIRY_12H), None)
    return tally.hit_rate if tally else None
