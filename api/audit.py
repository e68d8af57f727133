"""The auditor's API: reports over a period, any workflow's decoded history, replays, each read recorded.

- `GET /audit/reports?from=&to=` is `mediaops audit check` over HTTP: the same report (JSON, or the
  HTML page with `format=html`), judged under the policy in force, with its digest in `X-Report-Digest`.
- `GET /audit/workflows/{id}/history` is a run's history with its payloads opened by the codec:
  from Temporal while it keeps it, else from the archive.
- `POST /audit/replay` replays a workflow's runs against this release.

Every one of these reads is itself recorded (`audit.read`, in the reader's stream) before it is
answered: who looked at what, and when, is part of the record an audit relies on.
"""

import asyncio
import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import asyncpg
from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi.responses import HTMLResponse, Response
from google.protobuf import json_format
from google.protobuf.message import Message
from pydantic import BaseModel, Field
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.client import WorkflowHistory
from temporalio.service import RPCError, RPCStatusCode

from api.auth import allowed
from api.errors import Unreachable
from api.state import AppState, app_state
from audit import archive
from audit.check import Period
from audit.replay import histories_of, replay
from audit.report import Judged, Report, make_report, to_html, to_pdf
from domain.audits import AuditRead, audit_stream
from domain.durations import Instant
from domain.errors import Invalid
from domain.roles import Permission
from domain.rules import RuleId
from eventstore.db import connect
from eventstore.store import ANY, EventStore, NewEvent
from eventstore.users import User
from mediaops.temporal import data_converter
from workflows.shell import policy_digest

router = APIRouter(prefix="/audit", tags=["audit"])
GONE = (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT)
State = Annotated[AppState, Depends(app_state)]
Auditor = Annotated[User, Depends(allowed(Permission.AUDIT_READ))]
PROCESS_ID = r"^(article|inquiry|promotion|writeup)-[A-Za-z0-9_.:-]{1,180}$"
"""A process's workflow id (an inquiry's carries its platform's message id, `_` and capitals included)."""
WorkflowId = Annotated[str, Path(pattern=PROCESS_ID, description="e.g. article-<id>")]


class ReplayIn(BaseModel):
    workflow_id: str = Field(pattern=PROCESS_ID)


async def recorded(
    state: AppState, user: User, read: Literal["report", "history", "replay"], subject: str
) -> None:
    """The read, appended to the reader's audit stream before anything is shown."""
    event = AuditRead(reader=user.id, read=read, subject=subject, at=datetime.now(UTC))
    store = EventStore(await state.database())
    metadata = {"actor": user.id, "channel": "api", "rule_ids": [RuleId.ACCOUNTABLE.value]}
    await store.append(
        audit_stream(user.id), ANY, [NewEvent(uuid.uuid4(), event.type, event.payload(), metadata)]
    )


@router.get("/reports")
async def report(
    state: State,
    user: Auditor,
    since: Annotated[Instant, Query(alias="from", description="the period's start (RFC 3339)")],
    until: Annotated[Instant, Query(alias="to", description="the period's end, excluded")],
    format: Annotated[
        Literal["json", "html", "pdf"], Query(description="the canonical JSON, the page, or a PDF")
    ] = "json",
) -> Any:
    """Every rule re-judged from the record over [from, to) (see `mediaops audit check`)."""
    if until <= since:
        raise Invalid(RuleId.ACCOUNTABLE, "the period must end after it starts", field="to")
    if until > datetime.now(UTC):
        raise Invalid(
            RuleId.ACCOUNTABLE, "a report is of a period that has ended (its record is fixed)", field="to"
        )
    await recorded(state, user, "report", f"{since.isoformat()}/{until.isoformat()}")
    policy = state.settings.policy
    judged = Judged(
        period=Period(start=since, end=until, as_of=until),
        policy=policy,
        policy_digest=policy_digest(policy),
        in_force=True,
    )
    async with REPORTING:
        made = await asyncio.to_thread(_report_apart, state, judged)
    headers = {"X-Report-Digest": made.digest}
    if format == "html":
        return HTMLResponse(to_html(made), headers=headers)
    if format == "pdf":
        return Response(to_pdf(made), media_type="application/pdf", headers=headers)
    return Response(made.canonical(), media_type="application/json", headers=headers)  # the digested bytes


REPORTING = asyncio.Semaphore(1)
"""One report at a time: each one folds every process of its period."""


def _report_apart(state: AppState, judged: Judged) -> Report:
    """The report made on a thread of its own, with its own connection: its fold is CPU-bound, and
    the API's event loop goes on answering everyone else meanwhile."""

    async def made() -> Report:
        try:
            conn = await connect(state.settings.dsn)
        except (OSError, TimeoutError, asyncpg.PostgresConnectionError, asyncpg.CannotConnectNowError) as exc:
            raise Unreachable("postgresql") from exc
        try:
            return await make_report(conn, judged, data_converter(state.settings.keys))
        finally:
            await conn.close()

    return asyncio.run(made())


@router.get("/workflows/{workflow_id}/history")
async def history(workflow_id: WorkflowId, state: State, user: Auditor) -> dict[str, Any]:
    """The workflow's latest run, its payloads opened: from Temporal, else from the archive."""
    await recorded(state, user, "history", workflow_id)
    found, source = await _history(state, workflow_id)
    events = [await _opened(state, event) for event in found.events]
    return {"workflow_id": workflow_id, "run_id": found.run_id, "source": source, "events": events}


async def _history(state: AppState, workflow_id: str) -> tuple[WorkflowHistory, str]:
    try:
        client = await state.temporal()
        found = await client.get_workflow_handle(workflow_id).fetch_history(
            rpc_timeout=timedelta(seconds=state.settings.query_timeout_s)
        )
        return found, "temporal"
    except RPCError as exc:
        if exc.status not in (*GONE, RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
            raise
    except Unreachable:
        pass  # Temporal is down: the archive still answers for what closed
    kept = await archive.get(await state.database(), workflow_id)
    if kept is None:
        raise HTTPException(404, detail=f"no history of {workflow_id}, in Temporal or the archive")
    return kept.history, "archive"


async def _opened(state: AppState, event: Message) -> dict[str, Any]:
    """One history event as JSON, each payload opened by the codec and shown as the JSON it holds."""
    copy = type(event)()
    copy.CopyFrom(event)
    await _open_payloads(state, copy)
    shown: dict[str, Any] = _readable(json_format.MessageToDict(copy))
    return shown


async def _open_payloads(state: AppState, message: Message) -> None:
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if field.message_type.full_name == Payloads.DESCRIPTOR.full_name:
            opened = await state.codec.decode(list(value.payloads))
            del value.payloads[:]
            value.payloads.extend(opened)
        elif field.message_type.full_name == Payload.DESCRIPTOR.full_name and not _is_map(field):
            if field.is_repeated:
                opened = await state.codec.decode(list(value))
                del value[:]
                value.extend(opened)
            else:
                [one] = await state.codec.decode([value])
                value.CopyFrom(one)
        elif _is_map(field):
            for item in value.values():
                if isinstance(item, Payload):
                    item.CopyFrom((await state.codec.decode([item]))[0])
                elif isinstance(item, Message):
                    await _open_payloads(state, item)
        elif field.is_repeated:
            for item in value:
                await _open_payloads(state, item)
        else:
            await _open_payloads(state, value)


def _is_map(field: Any) -> bool:
    return bool(field.message_type is not None and field.message_type.GetOptions().map_entry)


def _readable(value: Any) -> Any:
    """A payload's bytes shown as the JSON they hold (they are base64 in protobuf's JSON)."""
    if isinstance(value, dict):
        if set(value) >= {"metadata", "data"} and isinstance(value["data"], str):
            try:
                return {**value, "data": json.loads(base64.b64decode(value["data"]))}
            except ValueError:
                return value
        return {k: _readable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_readable(v) for v in value]
    return value


@router.post("/replay")
async def replay_workflow(body: ReplayIn, state: State, user: Auditor) -> dict[str, Any]:
    """Replay every run of the workflow (Temporal's, else the archive's) against this release."""
    await recorded(state, user, "replay", body.workflow_id)
    pool = await state.database()
    try:
        found = await histories_of(await state.temporal(), pool, body.workflow_id)
    except (Unreachable, RPCError):  # Temporal cannot say: the archive's runs are replayed
        found = [kept.history for kept in await archive.runs(pool, body.workflow_id)]
    if not found:
        raise HTTPException(404, detail=f"no history of {body.workflow_id}, in Temporal or the archive")
    results = await replay(found, converter=data_converter(state.settings.keys))
    return {
        "workflow_id": body.workflow_id,
        "ok": all(r.ok for r in results),
        "runs": [
            {
                "run_id": r.run_id,
                "ok": r.ok,
                "nondeterministic": r.nondeterministic,
                "event_id": r.event_id,
                "error": r.error,
            }
            for r in results
        ],
    }
