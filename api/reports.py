"""The meetings' reports over HTTP (R-WEEKLY, R-MONTHLY, R-SITE-QUARTERLY).

A report is read as it was recorded (its whole body is in its `report.made` event, kept by the
`meeting_reports` read model): JSON with its `digest`, HTML with charts, or PDF. `/verify` composes
it again from the record and says whether the digest is the same; a manager may have a report made
now (`POST /reports`), for a period that is over or one still running (then it says `partial`).
"""

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel
from temporalio.service import RPCError

from activities.reports import compose_report, request_of
from api.auth import allowed
from api.errors import unavailable
from api.state import AppState, app_state
from api.updates import UNREACHABLE
from domain import meetings as m
from domain.errors import Invalid
from domain.periods import parse_kind
from domain.roles import Permission
from eventstore.store import EventStore
from eventstore.users import User
from reports import render
from workflows.contracts import ReportStart

router = APIRouter(prefix="/reports", tags=["reports"])
State = Annotated[AppState, Depends(app_state)]
ReportId = Annotated[str, Path(pattern=r"^(weekly|monthly|quarterly)-[0-9A-Za-z-]{1,40}$")]


class MakeIn(BaseModel):
    kind: m.MeetingKind
    period: str


def report_workflow_id(kind: str, period: str) -> str:
    """A report's run: its kind, its period, and a fresh suffix (each edition is its own run)."""
    return f"report-{kind}-{period}-{uuid.uuid4().hex[:8]}"


async def stored(state: AppState, report_id: str) -> tuple[m.MeetingReport, str]:
    row = await (await state.database()).fetchrow(
        "SELECT body, digest FROM meeting_reports WHERE id = $1", report_id
    )
    if row is None:
        raise HTTPException(404, f"no report {report_id}")
    body = row["body"] if isinstance(row["body"], dict) else json.loads(row["body"])
    return m.MeetingReport.model_validate(body), row["digest"]


@router.get("")
async def listed(
    state: State,
    _user: Annotated[User, Depends(allowed(Permission.REPORT_READ))],
    kind: Annotated[m.MeetingKind | None, Query()] = None,
    period: Annotated[str | None, Query(max_length=20)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[dict[str, Any]]:
    """The reports made, newest first (every edition: a re-made one is listed beside the first)."""
    rows = await (await state.database()).fetch(
        """SELECT id, kind, period, as_of, partial, digest, stream_id FROM meeting_reports
            WHERE ($1::text IS NULL OR kind = $1) AND ($2::text IS NULL OR period = $2)
            ORDER BY as_of DESC, id LIMIT $3""",
        kind,
        period,
        limit,
    )
    return [
        {
            "id": r["id"],
            "kind": r["kind"],
            "period": r["period"],
            "as_of": r["as_of"].isoformat(),
            "partial": r["partial"],
            "digest": r["digest"],
            "workflow_id": r["stream_id"],
            "rule": m.MEETING_RULES[r["kind"]].value,
        }
        for r in rows
    ]


@router.post("", status_code=202)
async def make(
    body: MakeIn, state: State, _user: Annotated[User, Depends(allowed(Permission.REPORT_MAKE))]
) -> JSONResponse:
    """Have a report made now; follow its run (`workflow_id`), then read it under `GET /reports`."""
    try:
        period = parse_kind(body.period, m.MEETING_PERIODS[body.kind])
    except ValueError as exc:
        raise Invalid(m.MEETING_RULES[body.kind], str(exc), field="period") from None
    if period.start(state.settings.policy.zone) > datetime.now(UTC):
        raise Invalid(m.MEETING_RULES[body.kind], "the period has not begun", field="period")
    workflow_id = report_workflow_id(body.kind, period.key)
    try:
        await (await state.temporal()).start_workflow(
            "MeetingReport",
            ReportStart(kind=body.kind, period=period.key),
            id=workflow_id,
            task_queue=state.settings.task_queue,
        )
    except RPCError as exc:
        if exc.status in UNREACHABLE:
            return unavailable("temporal")
        raise
    return JSONResponse(
        {"workflow_id": workflow_id, "kind": body.kind, "period": period.key}, status_code=202
    )


@router.get("/{report_id}.html", response_class=HTMLResponse)
async def as_html(
    report_id: ReportId, state: State, _user: Annotated[User, Depends(allowed(Permission.REPORT_READ))]
) -> HTMLResponse:
    report, _ = await stored(state, report_id)
    return HTMLResponse(render.html(report))


@router.get("/{report_id}.pdf")
async def as_pdf(
    report_id: ReportId, state: State, _user: Annotated[User, Depends(allowed(Permission.REPORT_READ))]
) -> Response:
    report, _ = await stored(state, report_id)
    pdf = await asyncio.to_thread(render.pdf, report)  # a few hundred ms of drawing: not on the loop
    headers = {"Content-Disposition": f'inline; filename="{report_id}.pdf"'}
    return Response(pdf, media_type="application/pdf", headers=headers)


@router.get("/{report_id}/verify")
async def verify(
    report_id: ReportId, state: State, _user: Annotated[User, Depends(allowed(Permission.REPORT_READ))]
) -> dict[str, Any]:
    """Compose the report again from the record, as of its own `as_of`: the same digest, or not."""
    report, recorded = await stored(state, report_id)
    again = await compose_report(
        EventStore(await state.database()), state.settings.policy, request_of(report)
    )
    digest = m.digest(again)
    return {
        "id": report_id,
        "recorded_digest": recorded,
        "digest": digest,
        "same": digest == recorded,
        "rule": report.rule.value,
    }


@router.get("/{report_id}")
async def as_json(
    report_id: ReportId, state: State, _user: Annotated[User, Depends(allowed(Permission.REPORT_READ))]
) -> Response:
    """The report's canonical JSON (what its digest is of), the digest also in `X-Report-Digest`."""
    report, digest = await stored(state, report_id)
    body = json.dumps({"digest": digest, "report": report.model_dump(mode="json")}, ensure_ascii=False)
    return Response(body, media_type="application/json", headers={"X-Report-Digest": digest})
