"""Major event write-ups over HTTP (R-NEWS-3WD): report an event, list, read one, correct its end.

The write-up is due at 24:00 Beijing time of the 3rd working day after the event ends, on China's
calendar (P-EVENT-DAY-END); `due_flagged` says the due time is a Monday-to-Friday guess, for a
year the installed calendar does not know. Each required platform shows its write-up's state.
"""

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.articles import Platforms
from api.auth import allowed
from api.obligations import (
    Key,
    Owner,
    check_owner,
    current,
    first_refusal,
    iso,
    listed,
    new_key,
    platforms_json,
    start,
)
from api.paging import Page, link_next, page_of
from api.state import AppState, app_state
from api.updates import run_update
from domain import writeups as w
from domain.commands import USER_ID, Actor
from domain.durations import Instant
from domain.platforms import Platform
from domain.roles import Permission
from domain.rules import RuleId
from domain.text import Text
from eventstore.users import User
from workflows.contracts import WriteUpStart

router = APIRouter(prefix="/writeups", tags=["writeups"])
State = Annotated[AppState, Depends(app_state)]


class WriteUpIn(BaseModel):
    name: Annotated[Text, Field(min_length=1, max_length=120)]
    ends_at: Instant = Field(description="when the event ended (or ends), with its time zone")
    platforms: Platforms | None = Field(default=None, description="unset: the policy's R-NEWS-3WD platforms")
    owner: Owner | None = Field(default=None, description="a user id; unset: the reporter")


class CorrectIn(BaseModel):
    ends_at: Instant


def writeup_json(writeup: w.WriteUp) -> dict[str, Any]:
    return {
        "id": writeup.id,
        "name": writeup.name,
        "status": writeup.status,
        "rule": RuleId.NEWS_3WD.value,
        "owner": writeup.owner,
        "ends_at": iso(writeup.ends_at),
        "due": iso(writeup.due),
        "remind_at": iso(writeup.remind_at),
        "due_flagged": writeup.due_flagged,
        "flagged_years": list(writeup.flagged_years),
        "missing": writeup.missing(),
        "platforms": platforms_json(writeup.platforms),
    }


def workflow_id(key: str) -> str:
    return w.writeup_id(key)


@router.post("", status_code=201)
async def report(
    body: WriteUpIn, state: State, user: Annotated[User, Depends(allowed(Permission.COVERAGE_REPORT))]
) -> JSONResponse:
    """Report a major event: its write-up's due time is set from China's calendar at once."""
    await check_owner(state, body.owner, RuleId.NEWS_3WD)
    key = new_key()
    command = w.Report(
        actor=Actor(id=user.id, roles=user.roles), writeup_id=key, at=datetime.now(UTC), **body.model_dump()
    )
    view = await start(
        state, user, w.WRITEUPS, command, ("WriteUp", workflow_id(key)),
        lambda signed: WriteUpStart(report=signed), "writeup",
    )  # fmt: skip
    return first_refusal(view) or JSONResponse(
        writeup_json(w.WriteUp.model_validate(view["writeup"])), status_code=201
    )


@router.get("")
async def list_writeups(
    request: Request,
    response: Response,
    state: State,
    _user: Annotated[User, Depends(allowed(Permission.COVERAGE_READ))],
    page: Annotated[Page, Depends(page_of(200, 500))],
    since: Annotated[Instant | None, Query(alias="from", description="ended at or after (RFC 3339)")] = None,
    until: Annotated[Instant | None, Query(alias="to", description="ended before (RFC 3339)")] = None,
    status: Annotated[w.Status | None, Query(description="one status; unset: every one")] = None,
    owner: Annotated[str | None, Query(max_length=64, pattern=USER_ID)] = None,
    platform: Annotated[Platform | None, Query(description="required there")] = None,
) -> list[dict[str, Any]]:
    """Event write-ups by the event's end, with each one's due time and per-platform state."""
    rows, after = await listed(state, "writeups", since, until, status, page, owner, platform)
    link_next(response, request, after)
    return [writeup_json(w.WriteUp.model_validate(row)) for row in rows]


@router.get("/{key}")
async def get_writeup(
    key: Key, state: State, _user: Annotated[User, Depends(allowed(Permission.COVERAGE_READ))]
) -> dict[str, Any]:
    return writeup_json(
        w.WriteUp.model_validate(await current(state, workflow_id(key), "writeups", key, "writeup"))
    )


@router.post("/{key}/correct")
async def correct(
    key: Key,
    body: CorrectIn,
    state: State,
    user: Annotated[User, Depends(allowed(Permission.COVERAGE_REPORT))],
) -> JSONResponse:
    """The event ended at another time: the due time is computed again, and the rule judged at it."""
    command = {"kind": "correct_end", **body.model_dump(mode="json")}
    return await run_update(
        state,
        user,
        workflow_id(key),
        command,
        lambda view: writeup_json(w.WriteUp.model_validate(view["writeup"])),
    )
