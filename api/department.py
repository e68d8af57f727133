"""The department's register over HTTP: owners, fixed columns, the meetings' action items.

Who owns each platform, mini program section and fixed column, from which day (R-KPI counts
against them), the fixed columns checked monthly (R-FIXED-MONTHLY), and the action items a meeting
sets (R-WEEKLY, R-MONTHLY). Changes are the operations manager's, each a signed command to the
`department` register's workflow (workflows/department.py); reads come from its read models.
"""

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError

from api.auth import allowed
from api.errors import unavailable
from api.obligations import Key, Owner, check_owner
from api.state import AppState, app_state
from api.updates import UNREACHABLE, run_update
from domain import department as d
from domain.cadence import Column, subjects
from domain.errors import Invalid
from domain.platforms import Platform
from domain.roles import Permission
from domain.rules import RuleId
from domain.text import Text
from eventstore.users import User
from workflows.contracts import DepartmentStart

router = APIRouter(tags=["department"])
State = Annotated[AppState, Depends(app_state)]


class OwnerIn(BaseModel):
    subject: d.SubjectKey = Field(description="website, wechat, ..., miniprogram:<section>, column:<id>")
    user: Owner
    starts_on: date = Field(description="the first day (Asia/Shanghai) the user owns it")


class ColumnIn(BaseModel):
    id: d.ColumnId
    name: Annotated[Text, Field(min_length=1, max_length=60)]
    platform: Platform


class ActionIn(BaseModel):
    report_id: Annotated[str, Field(min_length=1, max_length=120)]
    text: Annotated[Text, Field(min_length=1, max_length=500)]
    owner: Owner
    due: date


async def _change(
    state: AppState, user: User, command: dict[str, Any], answer: dict[str, Any], status: int = 200
) -> JSONResponse:
    """One signed change to the register (its workflow started first if it is not running yet);
    `answer` once it is recorded, else the refusal."""
    client = await state.temporal()
    try:
        await client.start_workflow(
            "Department",
            DepartmentStart(),
            id=d.REGISTER_ID,
            task_queue=state.settings.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
    except RPCError as exc:
        if exc.status in UNREACHABLE:
            return unavailable("temporal")
        raise
    done = await run_update(state, user, d.REGISTER_ID, command, lambda _: answer, update="change")
    return JSONResponse(answer, status_code=status) if done.status_code == 200 else done


async def _known_subjects(state: AppState) -> set[str]:
    rows = await (await state.database()).fetch(
        "SELECT id, name, platform FROM columns WHERE retired_at IS NULL"
    )
    columns = [Column(id=r["id"], name=r["name"], platform=Platform(r["platform"])) for r in rows]
    return {s.key for s in subjects(state.settings.policy, columns)}


def _in_force(rows: list[Any], on: date) -> dict[str, Any]:
    """Each subject's assignment in force on `on`: the latest first day, of those the latest recorded
    (what `Register.owner_on` answers)."""
    found: dict[str, Any] = {}
    for r in rows:
        held = found.get(r["subject"])
        if r["starts_on"] <= on and (
            held is None or (r["starts_on"], r["position"]) > (held["starts_on"], held["position"])
        ):
            found[r["subject"]] = r
    return found


@router.get("/owners")
async def owners(
    state: State,
    _user: Annotated[User, Depends(allowed(Permission.KPI_READ))],
    on: Annotated[
        date | None, Query(description="who owned each subject that day; unset: every assignment")
    ] = None,
) -> list[dict[str, Any]]:
    """Every assignment in the order recorded, or who owned each subject on `on`."""
    rows = await (await state.database()).fetch(
        """SELECT position, subject, "user", starts_on, assigned_by, assigned_at
             FROM owner_assignments ORDER BY position"""
    )
    if on is not None:
        rows = list(_in_force(rows, on).values())
    return [
        {
            "subject": r["subject"],
            "user": r["user"],
            "starts_on": r["starts_on"].isoformat(),
            "assigned_by": r["assigned_by"],
            "assigned_at": r["assigned_at"].isoformat(),
            "position": r["position"],
        }
        for r in sorted(rows, key=lambda r: r["position"])
    ]


@router.post("/owners", status_code=200)
async def assign_owner(
    body: OwnerIn, state: State, user: Annotated[User, Depends(allowed(Permission.DEPARTMENT_MANAGE))]
) -> JSONResponse:
    """Assign a subject's owner from a day on (R-KPI); a later assignment takes over from its day."""
    if body.subject not in await _known_subjects(state):
        raise Invalid(
            RuleId.KPI, "not a cadence subject of the policy or a declared fixed column", field="subject"
        )
    await check_owner(state, body.user, RuleId.KPI, field="user")
    fields = body.model_dump(mode="json")
    return await _change(
        state, user, {"kind": "assign_owner", **fields}, {**fields, "rule": RuleId.KPI.value}
    )


@router.get("/columns")
async def columns(
    state: State, _user: Annotated[User, Depends(allowed(Permission.REPORT_READ))]
) -> list[dict[str, Any]]:
    rows = await (await state.database()).fetch("SELECT * FROM columns ORDER BY id")
    return [
        {
            "id": r["id"],
            "name": r["name"],
            "platform": r["platform"],
            "rule": RuleId.FIXED_MONTHLY.value,
            "declared_at": r["declared_at"].isoformat(),
            "retired_at": r["retired_at"].isoformat() if r["retired_at"] else None,
        }
        for r in rows
    ]


@router.post("/columns")
async def declare_column(
    body: ColumnIn, state: State, user: Annotated[User, Depends(allowed(Permission.DEPARTMENT_MANAGE))]
) -> JSONResponse:
    """Declare a fixed column (R-FIXED-MONTHLY): checked every month from the next cadence run on."""
    command = {
        "kind": "declare_column",
        "column_id": body.id,
        "name": body.name,
        "platform": body.platform.value,
    }
    return await _change(state, user, command, body.model_dump(mode="json"))


@router.post("/columns/{key}/retire")
async def retire_column(
    key: Key, state: State, user: Annotated[User, Depends(allowed(Permission.DEPARTMENT_MANAGE))]
) -> JSONResponse:
    return await _change(
        state, user, {"kind": "retire_column", "column_id": key}, {"id": key, "retired": True}
    )


@router.get("/actions")
async def actions(
    state: State,
    _user: Annotated[User, Depends(allowed(Permission.REPORT_READ))],
    report_id: Annotated[str | None, Query(max_length=120)] = None,
) -> list[dict[str, Any]]:
    rows = await (await state.database()).fetch(
        "SELECT * FROM action_items WHERE $1::text IS NULL OR report_id = $1 ORDER BY position", report_id
    )
    return [
        {
            "id": r["id"],
            "report_id": r["report_id"],
            "text": r["text"],
            "owner": r["owner"],
            "due": r["due"].isoformat(),
            "recorded_by": r["recorded_by"],
            "recorded_at": r["recorded_at"].isoformat(),
            "done_at": r["done_at"].isoformat() if r["done_at"] else None,
            "done_by": r["done_by"],
        }
        for r in rows
    ]


@router.post("/actions", status_code=201)
async def record_action(
    body: ActionIn, state: State, user: Annotated[User, Depends(allowed(Permission.ACTIONS_RECORD))]
) -> JSONResponse:
    """Record an action item the meeting set (R-WEEKLY): what, who, by when, and at which report."""
    known = await (await state.database()).fetchval(
        "SELECT true FROM meeting_reports WHERE id = $1", body.report_id
    )
    if not known:
        raise Invalid(RuleId.WEEKLY, "no meeting report of that id", field="report_id")
    await check_owner(state, body.owner, RuleId.WEEKLY)
    action_id = uuid.uuid4().hex[:12]
    fields = body.model_dump(mode="json")
    command = {"kind": "record_action", "action_id": action_id, **fields}
    return await _change(state, user, command, {"id": action_id, **fields}, status=201)


@router.post("/actions/{key}/done")
async def complete_action(
    key: Key, state: State, user: Annotated[User, Depends(allowed(Permission.REPORT_READ))]
) -> JSONResponse:
    """Mark an action item done: its owner, or the operations manager."""
    return await _change(
        state, user, {"kind": "complete_action", "action_id": key}, {"id": key, "done": True}
    )
