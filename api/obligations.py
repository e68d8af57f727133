"""What the promotion and write-up endpoints share: start an obligation's workflow with a person's
signed command, read one (its workflow, else the read model), list them, and render platforms.

The command is decided by the domain here first, with the API's clock and policy, so a bad date,
a start in the past or a plan that cannot meet R-PROMO-3D is a 4xx naming the field and the rule
before any workflow exists; the workflow decides it again on its own time and the directory's roles.
"""

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import HTTPException, Path
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from temporalio.client import WorkflowQueryFailedError
from temporalio.service import RPCError, RPCStatusCode

from api.articles import READ_MODEL_ANSWERS
from api.errors import Unreachable, error_body
from api.errors import refused as refusal_answer
from api.paging import Page, next_cursor
from api.state import AppState
from api.updates import sign
from domain.announcements import Announcement
from domain.commands import USER_ID
from domain.decider import Decider
from domain.errors import Invalid, Refusal
from domain.platforms import Platform
from domain.rules import RuleId
from eventstore.users import User

Key = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$", description="the id the API gave it")]
Owner = Annotated[str, Field(pattern=USER_ID, description="a user id in the directory")]
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)
"""An open end of a period."""
DECIDED_WITHIN_S = 10.0
"""How long a new obligation's first command is waited for (milliseconds, normally)."""


def new_key() -> str:
    return uuid.uuid4().hex[:12]


def platforms_json(platforms: dict[Platform, Announcement]) -> dict[str, Any]:
    """Each required platform's announcement: its state, the article, and when it came out."""
    return {
        platform.value: {
            "state": a.state,
            "article_id": a.article_id,
            "announced_at": a.announced_at.isoformat() if a.announced_at else None,
            "late_by_s": a.late_by_s,
            "stage": a.stage,
        }
        for platform, a in platforms.items()
    }


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


async def check_owner(state: AppState, owner: str | None, rule: RuleId, field: str = "owner") -> None:
    """An owner is an active person in the user directory (R-KPI counts the obligation against them)."""
    if owner is None:
        return
    known = await (await state.database()).fetchval(
        "SELECT true FROM users WHERE id = $1 AND NOT disabled", owner
    )
    if not known:
        raise Invalid(rule, f"no active user {owner!r} in the directory", field=field)


async def start(
    state: AppState,
    user: User,
    decider: Decider[Any],
    command: BaseModel,
    workflow: tuple[str, str],
    start_input: Callable[[dict[str, Any]], BaseModel],
    view_field: str,
) -> dict[str, Any]:
    """Decide `command` (a DomainError is the 4xx), start the workflow with it signed (`start_input`
    wraps the signed command), and return the workflow's view once it has decided it."""
    kind, workflow_id = workflow
    decider.decide(command, decider.initial(), state.settings.policy)
    fields = command.model_dump(mode="json", exclude={"actor", "at"})
    signed = sign(state, user, workflow_id, fields).model_dump(mode="json")
    client = await state.temporal()
    handle = await client.start_workflow(
        kind,
        start_input(signed),
        id=workflow_id,
        task_queue=state.settings.task_queue,
    )
    deadline = asyncio.get_running_loop().time() + DECIDED_WITHIN_S
    while asyncio.get_running_loop().time() < deadline:
        try:
            view: dict[str, Any] = await handle.query("current")
        except RPCError:
            view = {}
        if view.get(view_field, {}).get("id") or any(not d["accepted"] for d in view.get("decisions", [])):
            return view
        await asyncio.sleep(0.05)
    raise Unreachable("the workflow's worker")


def first_refusal(view: dict[str, Any]) -> JSONResponse | None:
    """The workflow refused the command (the directory changed the person's roles meanwhile, or
    its own clock found the start too close): answered as the boundary answers its refusals."""
    refused = [d for d in view.get("decisions", []) if not d["accepted"]]
    if not refused:
        return None
    if refused[0].get("refusal"):
        return refusal_answer(Refusal.model_validate(refused[0]["refusal"]))
    return JSONResponse(error_body("refused", refused[0]["detail"]), status_code=409)


async def current(state: AppState, workflow_id: str, table: str, key: str, view_field: str) -> dict[str, Any]:
    """The obligation as its workflow has it, or as the read model does when the workflow cannot
    answer (closed, its worker restarting, Temporal down)."""
    client = await state.temporal()
    try:
        view: dict[str, Any] = await client.get_workflow_handle(workflow_id).query(
            "current", rpc_timeout=timedelta(seconds=state.settings.query_timeout_s)
        )
    except (RPCError, WorkflowQueryFailedError) as exc:
        if isinstance(exc, RPCError) and exc.status not in READ_MODEL_ANSWERS:
            raise
        stored = await (await state.database()).fetchval(
            f"SELECT state FROM {table} WHERE id = $1",  # noqa: S608 - one of two table names
            key,
        )
        if stored is not None:
            row: dict[str, Any] = stored
            return row
        if isinstance(exc, RPCError) and exc.status not in (
            RPCStatusCode.NOT_FOUND,
            RPCStatusCode.INVALID_ARGUMENT,
        ):
            raise Unreachable("temporal") from None
        raise HTTPException(404, detail=f"no {workflow_id}") from None
    found: dict[str, Any] = view[view_field]
    if not found.get("id"):  # its first command was refused: there is no such obligation
        raise HTTPException(404, detail=f"no {workflow_id}")
    return found


LISTS = {
    "promotions": ("ends_at > $1 AND starts_at < $2", "starts_at"),
    "writeups": ("ends_at >= $1 AND ends_at < $2", "ends_at"),
}
"""Each list's read model, and what matches a period [from, to): a promotion running in it, an
event that ended in it; and the order they are listed in."""


async def listed(
    state: AppState,
    table: str,
    since: datetime | None,
    until: datetime | None,
    status: str | None,
    page: Page,
    owner: str | None = None,
    platform: Platform | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the states in a read model for a period, a status, an owner and a platform, in
    order of their start, and the cursor after it."""
    matches, order = LISTS[table]
    after_at, after_id = page.after or (None, None)
    rows = await (await state.database()).fetch(
        f"""SELECT id, {order} AS sort_at, state FROM {table}
             WHERE {matches} AND ($3::text IS NULL OR status = $3) AND ($4::text IS NULL OR owner = $4)
               AND ($5::text IS NULL OR state->'platforms' ? $5)
               AND ($6::timestamptz IS NULL OR ({order}, id) > ($6, $7::text))
             ORDER BY {order}, id LIMIT $8""",  # noqa: S608 - from LISTS only
        since or EARLIEST, until or LATEST, status, owner, platform, after_at, after_id, page.limit + 1,
    )  # fmt: skip
    return [dict(r["state"]) for r in rows[: page.limit]], next_cursor(rows, page, "sort_at")
