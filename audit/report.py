"""The audit report: the rules' findings with the record's integrity, the same bytes for the same inputs.

A report says, for a period, each rule's instances checked, kept and broken (each breach by stream
and event position), the policy it was judged under (with its digest), the code and calendar
versions, the seals of the hash chains taken in the period, and the integrity checks: every chain
verified, every process's recorded verdict borne out by its facts, and every archived history's
recorded events present in the store, and the reverse. It is canonical JSON (sorted keys, no time
of its own making), so an outsider with the database dump and the release regenerates it and
compares the digest; the HTML page is rendered from that JSON alone.
"""

import hashlib
import html
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from typing import Any

from pydantic import BaseModel, Field
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.converter import DataConverter

from activities.eventstore import AppendRequest, event_id
from audit import archive, seals
from audit.check import PROCESSES, Breach, Findings, Period, check_rules
from domain.policy import Policy
from eventstore.db import Conn
from eventstore.verify import verify
from reports.render import reproducible_pdf


class SealRef(BaseModel):
    id: int
    sealed_at: datetime
    position: int
    events: int
    digest: str


class ArchiveCheck(BaseModel):
    """The archived histories of the period against the events: each append a history says it made
    is in the store with the same type, and each event a run recorded is in its history."""

    histories: int = 0
    events_matched: int = 0
    mismatches: list[Breach] = Field(default_factory=list)


class Integrity(BaseModel):
    chains_intact: bool
    broken_link: Breach | None = None
    disagreements: list[Breach] = Field(default_factory=list)
    archive: ArchiveCheck
    seals: list[SealRef]
    unsealed: list[Breach] = Field(default_factory=list)
    """What the last seal before the period's end saw that the store no longer holds."""

    @property
    def ok(self) -> bool:
        return (
            self.chains_intact
            and not self.disagreements
            and not self.archive.mismatches
            and not self.unsealed
        )


class Report(BaseModel):
    period_from: datetime
    period_to: datetime
    as_of: datetime
    policy_digest: str
    policy_is_in_force: bool
    """False for a what-if: the period judged under another policy than the one in force."""
    code_version: str
    calendar_version: str
    streams: int
    events: int
    findings: Findings
    integrity: Integrity

    def canonical(self) -> bytes:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False, indent=1).encode()

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.canonical()).hexdigest()


@dataclass(frozen=True)
class Judged:
    """What a report is made of and under: the period, the policy and its digest."""

    period: Period
    policy: Policy
    policy_digest: str
    in_force: bool


async def make_report(conn: Conn, judged: Judged, converter: DataConverter) -> Report:
    findings = await check_rules(conn, judged.period, judged.policy)
    checked = await verify(conn)
    broken = None
    if checked.broken is not None:
        link = checked.broken
        position = await conn.fetchval(
            "SELECT position FROM events WHERE stream_id = $1 AND stream_version = $2",
            link.stream_id,
            link.version,
        )
        broken = Breach(stream_id=link.stream_id, position=int(position or 0), detail=str(link))
    return Report(
        period_from=judged.period.start,
        period_to=judged.period.end,
        as_of=judged.period.as_of,
        policy_digest=judged.policy_digest,
        policy_is_in_force=judged.in_force,
        code_version=metadata.version("mediaops"),
        calendar_version=metadata.version("chinesecalendar"),
        streams=findings.streams,
        events=findings.events,
        findings=findings,
        integrity=Integrity(
            chains_intact=checked.broken is None,
            broken_link=broken,
            disagreements=findings.disagreements,
            archive=await archive_check(conn, judged.period, converter),
            seals=await seals_in(conn, judged.period),
            unsealed=await against_last_seal(conn, judged.period),
        ),
    )


_SEALS = """SELECT id, sealed_at, position, events, digest FROM chain_seals
             WHERE sealed_at >= $1 AND sealed_at < $2 ORDER BY id"""


async def seals_in(conn: Conn, period: Period) -> list[SealRef]:
    """The seals taken in the period, as recorded (the anchors an outsider compares the store against)."""
    return [SealRef(**dict(row)) for row in await conn.fetch(_SEALS, period.start, period.end)]


async def against_last_seal(conn: Conn, period: Period) -> list[Breach]:
    """What the last seal taken before the period's end saw that the store no longer holds: a
    deleted stream or tail, which no chain shows; a seal altered since is itself a finding."""
    seal_id = await conn.fetchval("SELECT max(id) FROM chain_seals WHERE sealed_at < $1", period.end)
    if seal_id is None:
        return []
    try:
        sealed = await seals.get(conn, seal_id)
    except seals.SealError as exc:
        return [Breach(stream_id="chain_seals", position=int(seal_id), detail=str(exc))]
    if sealed is None:
        return []
    return [
        Breach(
            stream_id=d.stream_id or "", position=d.position or d.version or 0, detail=f"seal {seal_id}: {d}"
        )
        for d in await seals.verify_against(conn, sealed)
        if not d.problem.startswith("hash chain broken")  # said once, as the broken link
    ]


_RUN_EVENTS = "SELECT event_id, type, position FROM events WHERE stream_id = $1 AND metadata->>'run_id' = $2"


async def archive_check(conn: Conn, period: Period, converter: DataConverter) -> ArchiveCheck:
    """Each process history archived in the period against its stream's events (both ways)."""
    result = ArchiveCheck()
    async for kept in archive.between(conn, period.start, period.end):
        if not kept.workflow_id.startswith(tuple(PROCESSES)):
            continue
        result.histories += 1
        where = f"run {kept.run_id}"
        if archive.digest_of(archive.history_json(kept.history)) != kept.digest:
            detail = f"{where}: its archived history and its text differ"
            result.mismatches.append(Breach(stream_id=kept.workflow_id, position=0, detail=detail))
        try:
            recorded, maybe = await appended(kept.history, kept.run_id, converter)
        except (ValueError, TypeError) as exc:  # a payload no configured codec key opens, or not an append
            detail = f"{where}: its appends cannot be read ({type(exc).__name__})"
            result.mismatches.append(Breach(stream_id=kept.workflow_id, position=0, detail=detail))
            continue
        rows = await conn.fetch(_RUN_EVENTS, kept.workflow_id, kept.run_id)
        stored = {str(r["event_id"]): (r["type"], r["position"]) for r in rows}
        for eid, kind in recorded.items():
            found = stored.pop(eid, None)
            if found is None or found[0] != kind:
                detail = f"{where}: its {kind} is not in the store"
                result.mismatches.append(Breach(stream_id=kept.workflow_id, position=0, detail=detail))
            else:
                result.events_matched += 1
        for eid, (kind, position) in sorted(stored.items(), key=lambda item: item[1][1]):
            if maybe.get(eid) == kind:
                continue  # an append the run was ended during: it may have committed, as it did
            detail = f"{where}: {kind} is in no append of its history"
            result.mismatches.append(Breach(stream_id=kept.workflow_id, position=position, detail=detail))
    result.mismatches.sort(key=lambda b: (b.stream_id, b.position, b.detail))
    return result


async def appended(
    history: WorkflowHistory, run_id: str, converter: DataConverter
) -> tuple[dict[str, str], dict[str, str]]:
    """The events a run's history says it appended (completed `eventstore.append` activities), and
    those of appends it scheduled but never heard back from (the run ended first): id → type each."""
    scheduled: dict[int, Any] = {}
    found: dict[str, str] = {}
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            attributes = event.activity_task_scheduled_event_attributes
            if attributes.activity_type.name == "eventstore.append":
                scheduled[event.event_id] = attributes.input
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            payloads = scheduled.pop(event.activity_task_completed_event_attributes.scheduled_event_id, None)
            if payloads is not None:
                found.update(await _drafts(payloads, history.workflow_id, run_id, converter))
    maybe: dict[str, str] = {}
    for payloads in scheduled.values():
        maybe.update(await _drafts(payloads, history.workflow_id, run_id, converter))
    return found, maybe


async def _drafts(payloads: Any, workflow_id: str, run_id: str, converter: DataConverter) -> dict[str, str]:
    [request] = await converter.decode(payloads.payloads, [AppendRequest])
    return {
        str(event_id(workflow_id, run_id, request.first_sequence + i)): draft.type
        for i, draft in enumerate(request.events)
    }


# --- the readable page ---------------------------------------------------------------------------


def to_html(report: Report) -> str:
    """The report as one self-contained page (no script, no outside resource), from its JSON alone."""
    e = html.escape
    rows = []
    for count in report.findings.rules:
        breaches = "".join(
            f"<li><code>{e(b.stream_id)}</code> @ {b.position}: {e(b.detail)}</li>" for b in count.breaches
        )
        rows.append(
            f'<tr class="{"broken" if count.broken else "kept"}"><th>{e(count.rule.value)}</th>'
            f"<td>{count.checked}</td><td>{count.kept}</td><td>{count.broken}</td><td>{count.pending}</td>"
            f"<td><ul>{breaches}</ul></td></tr>"
        )
    skipped = "".join(f"<li>{e(n.rule.value)}: {e(n.reason)}</li>" for n in report.findings.not_checked)
    integrity = report.integrity
    problems: Sequence[Breach] = [
        *([integrity.broken_link] if integrity.broken_link else []),
        *integrity.disagreements,
        *integrity.archive.mismatches,
        *integrity.unsealed,
    ]
    listed = "".join(
        f"<li><code>{e(b.stream_id)}</code> @ {b.position}: {e(b.detail)}</li>" for b in problems
    )
    sealed = "".join(
        f"<li>seal {s.id} at {e(s.sealed_at.isoformat())}: position {s.position}, {s.events} events, "
        f"<code>{e(s.digest)}</code></li>"
        for s in integrity.seals
    )
    what_if = (
        "" if report.policy_is_in_force else '<p class="what-if">What-if: judged under another policy.</p>'
    )
    start, end, as_of = (e(t.isoformat()) for t in (report.period_from, report.period_to, report.as_of))
    chains = "intact" if integrity.chains_intact else "BROKEN"
    head = (
        "<tr><th>Rule</th><th>Checked</th><th>Kept</th><th>Broken</th><th>Pending</th><th>Breaches</th></tr>"
    )
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>合规审计报告 Audit report {start}</title>
<style>{STYLE}</style></head><body>
<h1>合规审计报告 Audit report</h1>
<p>Period {start} – {end}, as of {as_of}</p>
{what_if}<p>Policy digest <code>{e(report.policy_digest)}</code>; code {e(report.code_version)};
chinesecalendar {e(report.calendar_version)}; {report.streams} processes, {report.events} events.</p>
<table><thead>{head}</thead>
<tbody>{"".join(rows)}</tbody></table>
<h2>Not checked automatically</h2><ul>{skipped}</ul>
<h2>Integrity: {"OK" if integrity.ok else "PROBLEMS FOUND"}</h2>
<p>Hash chains {chains}; {integrity.archive.histories} archived histories,
{integrity.archive.events_matched} events matched.</p><ul>{listed}</ul>
<h2>Seals</h2><ul>{sealed}</ul>
</body></html>
"""


STYLE = (
    "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
    "td,th{border:1px solid #999;padding:4px 8px;vertical-align:top}"
    "tr.broken th{color:#a00}.what-if{color:#a60;font-weight:bold}"
)


def to_pdf(report: Report) -> bytes:
    """The report's summary as a PDF page, for the file an auditor signs off.

    Its text is the command's summary (rule ids, counts, streams, positions, digests: all ASCII), in a
    core font, dated with the report's own `as_of`, so the same report gives the same bytes.
    """
    pdf = reproducible_pdf(f"MediaOps audit report {report.period_from.date().isoformat()}", report.as_of)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(0, 10, "MediaOps audit report", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Courier", size=7)
    start, end, as_of = (t.isoformat() for t in (report.period_from, report.period_to, report.as_of))
    period = f"period {start} - {end}, as of {as_of}"
    for line in [
        period,
        f"code {report.code_version}, chinesecalendar {report.calendar_version}",
        *summary(report),
    ]:
        pdf.multi_cell(
            0, 3.5, line.encode("latin-1", "replace").decode("latin-1"), new_x="LMARGIN", new_y="NEXT"
        )
    return bytes(pdf.output())


def summary(report: Report) -> list[str]:
    """What the command prints: a line per rule, its breaches, the integrity and the digest."""
    lines = []
    for count in report.findings.rules:
        lines.append(f"{count.rule.value:<18} checked {count.checked:>5}  kept {count.kept:>5}  "
                     f"broken {count.broken:>5}  pending {count.pending:>5}")  # fmt: skip
        lines += [f"  breach {b.stream_id} @ {b.position}: {b.detail}" for b in count.breaches]
    lines += [f"{n.rule.value:<18} not checked: {n.reason}" for n in report.findings.not_checked]
    integrity = report.integrity
    if integrity.broken_link is not None:
        link = integrity.broken_link
        lines.append(f"TAMPERED {link.stream_id} @ position {link.position}: {link.detail}")
    lines += [f"DISAGREES {b.stream_id} @ {b.position}: {b.detail}" for b in integrity.disagreements]
    lines += [f"ARCHIVE {b.stream_id} @ {b.position}: {b.detail}" for b in integrity.archive.mismatches]
    lines += [f"UNSEALED {b.stream_id} @ {b.position}: {b.detail}" for b in integrity.unsealed]
    lines += [f"seal {s.id}: position {s.position}, digest {s.digest}" for s in integrity.seals]
    lines.append(f"integrity {'ok' if integrity.ok else 'PROBLEMS FOUND'}; policy {report.policy_digest}")
    lines.append(f"report digest {report.digest}")
    return lines
