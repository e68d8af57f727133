"""R-KPI: whether each rule was kept counts in the owner's performance review.

Per owner and period, every obligation that fell to them, kept, broken or still pending, each row
naming the process (stream) it comes from and, where the read model has it, the event's position,
so a reviewer can trace a verdict back to the record. The obligations are the cadence periods
(R-CADENCE-*, R-FIXED-MONTHLY), the inquiries (R-INQUIRY-12H), the major promotions (R-PROMO-3D),
the major events' write-ups (R-NEWS-3WD), each counted only while `Kpi.counted_rules` names its
rule, and the approvals an article asked for (R-REVIEW-ALL, R-REVIEW-PROJECT; kept unless
P-APPROVAL-REMIND had to escalate them).

This module is pure: the rows' verdicts and wording from the read models' values
(eventstore/kpi.py reads them), the owners' summaries, and the CSV cells.
"""

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

from domain.articles import approval_rule
from domain.durations import Instant, format_duration
from domain.periods import KINDS, Period
from domain.policy import Policy
from domain.roles import Role
from domain.rules import RuleId

Obligation = Literal["cadence", "inquiry", "promotion", "writeup", "approval"]
UNASSIGNED = "unassigned"
"""The owner of an obligation nobody was assigned (a cadence subject without an owner, an
inquiry nobody took): counted, so that it shows, against no person."""


class KpiRow(BaseModel):
    """One obligation that fell to `owner`, and whether it was kept (None: still pending)."""

    model_config = ConfigDict(frozen=True)

    owner: str
    """A user id, `unassigned`, or `role:<role>` for an approval nobody has decided yet."""
    rule: RuleId
    obligation: Obligation
    subject: str
    """The cadence subject (`website`, `miniprogram:recruitment`, `column:<id>`), the inquiry's
    id, the promotion's or write-up's id, or `<article id> v<version> <role>` for an approval."""
    period: str
    """The obligation's own period key (`2026-W48`) or its deadline's local date (`2026-11-30`)."""
    due: Instant | None
    kept: bool | None
    detail: str
    stream_id: str
    position: int | None
    """The event the verdict comes from, where the read model keeps it (approvals)."""
    took_s: int | None = None
    """For an approval: from the request to the decision, in seconds."""


class KpiOwner(BaseModel):
    model_config = ConfigDict(frozen=True)

    owner: str
    kept: int
    broken: int
    pending: int
    rate: float | None
    """kept / (kept + broken), rounded to 4 places; None while nothing is judged yet."""


class Kpi(BaseModel):
    model_config = ConfigDict(frozen=True)

    period: str
    rows: list[KpiRow]
    owners: list[KpiOwner]


# --- helpers ---------------------------------------------------------------------------------


def hours_minutes(span: timedelta) -> str:
    """A span as people say it in a review: `2h10m`, `3h05m`, `45m` (days as hours: `26h00m`)."""
    minutes = max(int(span.total_seconds()) // 60, 0)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m"


def _rounded(span: timedelta) -> str:
    """A deadline's span in the policy's own notation (`12h`), to the minute."""
    minutes = int(span.total_seconds()) // 60
    return format_duration(timedelta(minutes=minutes)) if minutes > 0 else "0m"


def _local_day(instant: datetime, zone: ZoneInfo) -> str:
    return instant.astimezone(zone).date().isoformat()


def deadline_day(deadline: datetime, zone: ZoneInfo) -> str:
    """The local day a deadline falls on, 24:00 being its day's end (P-EVENT-DAY-END): a write-up
    due at 24:00 on Friday is Friday's, not Saturday's."""
    return _local_day(deadline - timedelta(microseconds=1), zone)


def _said(outcome: str | None) -> str:
    """An approval's outcome as words: `approved`, `changes requested`, `rejected`."""
    return (outcome or "decided").replace("_", " ")


def counted(rule: RuleId, policy: Policy) -> bool:
    """Whether R-KPI counts this rule: those `counted_rules` names, and the approvals always."""
    return rule in policy.kpi.counted_rules or rule in (RuleId.REVIEW_ALL, RuleId.REVIEW_PROJECT)


def cadence_counts_in(asked: Period, kind: str, first_day: date) -> bool:
    """Whether a cadence period lies in the asked one: by its last day (a week in the month its
    Sunday is in, as `Period.contains` says)."""
    if kind not in KINDS:
        return False
    return asked.contains(Period(kind, first_day))


# --- the rows, one builder per source -----------------------------------------------------------


def cadence_row(
    *,
    id: str,
    rule: str,
    subject: str,
    period: str,
    status: str,
    count: int,
    target: int,
    owner: str | None,
    closes_at: datetime,
) -> KpiRow | None:
    """A cadence period (`cadence_periods`): met kept, missed broken, open or at risk pending;
    a day that owed nothing (`not_owed`) is no obligation."""
    if status == "not_owed":
        return None
    kept = {"met": True, "missed": False}.get(status)
    detail = f"{count} of {target} posts"
    if status == "at_risk":
        detail += " so far (at risk)"
    elif status == "open":
        detail += " so far"
    return KpiRow(
        owner=owner or UNASSIGNED,
        rule=RuleId(rule),
        obligation="cadence",
        subject=subject,
        period=period,
        due=closes_at,
        kept=kept,
        detail=detail,
        stream_id=f"cadence-{id}",
        position=None,
    )


def inquiry_row(
    *,
    id: str,
    assignee: str | None,
    status: str,
    received_at: datetime,
    clock_from: datetime | None,
    deadline: datetime | None,
    answered_at: datetime | None,
    within_sla: bool | None,
    now: datetime,
    zone: ZoneInfo,
) -> KpiRow | None:
    """An inquiry (`inquiries`, R-INQUIRY-12H): kept when answered within its deadline; broken
    when answered late, or still unanswered once the deadline passed; else pending. One closed
    without an answer (spam, a duplicate) owed none."""
    if status == "closed":
        return None
    start = clock_from or received_at
    allowed = f"deadline {_rounded(deadline - start)}" if deadline is not None else "no deadline yet"
    kept: bool | None
    if within_sla is not None and answered_at is not None:
        kept = within_sla
        detail = f"answered in {hours_minutes(answered_at - start)} ({allowed})"
        if not within_sla:
            detail += ": late"
    elif status == "breached" or (deadline is not None and answered_at is None and deadline <= now):
        kept, detail = False, f"unanswered past the deadline ({allowed})"
    else:
        kept, detail = None, f"unanswered so far ({allowed})"
    return KpiRow(
        owner=assignee or UNASSIGNED,
        rule=RuleId.INQUIRY_12H,
        obligation="inquiry",
        subject=id,
        period=deadline_day(deadline, zone) if deadline is not None else _local_day(received_at, zone),
        due=deadline,
        kept=kept,
        detail=detail,
        stream_id=id,
        position=None,
    )


def _obligation_row(
    rule: RuleId,
    obligation: Obligation,
    key: str,
    owner: str,
    status: str,
    deadline: datetime,
    detail: str,
    zone: ZoneInfo,
) -> KpiRow:
    """A promotion's or a write-up's row: met kept, breached broken, else pending; its stream is
    `<obligation>-<key>`."""
    return KpiRow(
        owner=owner,
        rule=rule,
        obligation=obligation,
        subject=key,
        period=deadline_day(deadline, zone),
        due=deadline,
        kept={"met": True, "breached": False}.get(status),
        detail=detail,
        stream_id=f"{obligation}-{key}",
        position=None,
    )


def promotion_row(
    *,
    id: str,
    owner: str,
    status: str,
    compliance: str,
    announce_by: datetime,
    in_time: int,
    required: int,
    zone: ZoneInfo,
) -> KpiRow | None:
    """A major promotion (`promotions`, R-PROMO-3D): met kept, breached broken, cancelled no
    obligation, else pending until its deadline's verdict."""
    if status == "cancelled":
        return None
    detail = f"announced on {in_time} of {required} platforms in time"
    if status == "announced":
        detail += " (verdict at the deadline)"
    elif status == "planned" and compliance == "cannot_meet":
        detail += " (planned too late to meet the lead)"
    return _obligation_row(RuleId.PROMO_3D, "promotion", id, owner, status, announce_by, detail, zone)


def writeup_row(
    *, id: str, owner: str, status: str, due: datetime, in_time: int, required: int, zone: ZoneInfo
) -> KpiRow:
    """A major event's write-up (`writeups`, R-NEWS-3WD): met kept, breached broken, else pending."""
    detail = f"published on {in_time} of {required} platforms in time"
    if status == "published":
        detail += " (verdict at the due time)"
    return _obligation_row(RuleId.NEWS_3WD, "writeup", id, owner, status, due, detail, zone)


def approval_row(
    *,
    article_id: str,
    version: int,
    role: str,
    requested_at: datetime,
    requested_position: int,
    decided_by: str | None,
    decided_at: datetime | None,
    outcome: str | None,
    escalated: bool,
    decided_position: int | None,
    policy: Policy,
) -> KpiRow:
    """An approval an article asked for (`approvals`): kept when decided without P-APPROVAL-REMIND
    escalating it; broken once escalated (even if decided later); pending while undecided. It is
    the decider's, or the asked role's (`role:<role>`) while nobody has decided."""
    took = decided_at - requested_at if decided_at is not None else None
    kept: bool | None
    if escalated:
        kept = False
        detail = "escalated"
        if took is not None:
            detail += f", then {_said(outcome)} in {hours_minutes(took)}"
    elif took is not None:
        kept = True
        detail = f"decided in {hours_minutes(took)}" + (f" ({_said(outcome)})" if outcome else "")
    else:
        kept, detail = None, "not decided yet"
    try:
        rule = approval_rule(Role(role), policy)
    except ValueError:
        rule = RuleId.REVIEW_PROJECT  # a role no longer known: not the policy's reviewer
    return KpiRow(
        owner=decided_by or f"role:{role}",
        rule=rule,
        obligation="approval",
        subject=f"{article_id} v{version} {role}",
        period=_local_day(requested_at, policy.zone),
        due=None,
        kept=kept,
        detail=detail,
        stream_id=f"article-{article_id}",
        position=decided_position if decided_position is not None else requested_position,
        took_s=int(took.total_seconds()) if took is not None else None,
    )


# --- the whole KPI ------------------------------------------------------------------------------


def ordered(rows: Iterable[KpiRow]) -> list[KpiRow]:
    """Rows in review order: by owner, rule, due time (or period), subject; the same every time."""

    def key(row: KpiRow) -> tuple[str, str, str, str, str, str]:
        due = row.due.isoformat() if row.due is not None else ""
        return (row.owner, row.rule.value, due, row.period, row.subject, row.stream_id)

    return sorted(rows, key=key)


def owner_summaries(rows: Iterable[KpiRow]) -> list[KpiOwner]:
    """Each owner's kept, broken and pending obligations, by owner id."""
    tally: dict[str, list[int]] = {}
    for row in rows:
        counts = tally.setdefault(row.owner, [0, 0, 0])
        counts[0 if row.kept is True else 1 if row.kept is False else 2] += 1
    return [
        KpiOwner(
            owner=owner,
            kept=kept,
            broken=broken,
            pending=pending,
            rate=round(kept / (kept + broken), 4) if kept + broken else None,
        )
        for owner, (kept, broken, pending) in sorted(tally.items())
    ]


def kpi(period: Period, rows: Iterable[KpiRow], policy: Policy) -> Kpi:
    """The KPI of a period from its rows: only the rules R-KPI counts, in review order."""
    found = ordered(r for r in rows if counted(r.rule, policy))
    return Kpi(period=period.key, rows=found, owners=owner_summaries(found))


# --- CSV ------------------------------------------------------------------------------------------

CSV_COLUMNS: tuple[str, ...] = tuple(KpiRow.model_fields)
"""The CSV's header: the JSON rows' keys, in the same order."""

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    """A JSON value as a CSV cell a spreadsheet shows as text (a formula-like start is quoted with
    `'`, as the consultation record's export does: OWASP CSV injection)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def csv_lines(rows: Sequence[KpiRow]) -> list[list[str]]:
    """The header, then one line per row, in the rows' order, with the JSON rows' values."""
    lines = [list(CSV_COLUMNS)]
    for row in rows:
        values = row.model_dump(mode="json")
        lines.append([_cell(values[c]) for c in CSV_COLUMNS])
    return lines


def csv_text(rows: Sequence[KpiRow]) -> str:
    out = io.StringIO()
    csv.writer(out).writerows(csv_lines(rows))
    return out.getvalue()
