"""Promotions over HTTP (R-PROMO-3D): plan, the calendar, one promotion, reschedule, cancel.

A promotion is planned by a promotion specialist or the operations manager (the permission table);
its announcement deadline is the start less the policy's lead, and each required platform shows
whether its announcement is missing, in progress (and where), announced, or late. A major one
planned too close to its start cannot meet the rule: 422 saying `compliance: "cannot_meet"` until
the planner acknowledges it (`acknowledge_late`), and then it is recorded as such.
"""

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.articles import Platforms
from api.auth import allowed
from api.errors import error_body
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
from domain import promotions as p
from domain.commands import USER_ID, Actor
from domain.durations import Instant
from domain.errors import Invalid
from domain.platforms import Platform
from domain.roles import Permission
from domain.rules import RuleId
from domain.text import Text
from eventstore.users import User
from workflows.contracts import PromotionStart

router = APIRouter(prefix="/promotions", tags=["promotions"])
State = Annotated[AppState, Depends(app_state)]


class PromotionIn(BaseModel):
    name: Annotated[Text, Field(min_length=1, max_length=120)]
    starts_at: Instant
    ends_at: Instant
    major: bool
    platforms: Platforms | None = Field(default=None, description="unset: the policy's R-PROMO-3D platforms")
    owner: Owner | None = Field(default=None, description="a user id; unset: the planner")
    acknowledge_late: bool = Field(
        default=False, description="plan a major promotion that starts sooner than the lead (cannot_meet)"
    )


class RescheduleIn(BaseModel):
    starts_at: Instant
    ends_at: Instant
    acknowledge_late: bool = False


class CancelIn(BaseModel):
    reason: Annotated[Text, Field(min_length=1, max_length=500)]


def promotion_json(promotion: p.Promotion) -> dict[str, Any]:
    return {
        "id": promotion.id,
        "name": promotion.name,
        "status": promotion.status,
        "compliance": promotion.compliance,
        "rule": RuleId.PROMO_3D.value,
        "major": promotion.major,
        "owner": promotion.owner,
        "starts_at": iso(promotion.starts_at),
        "ends_at": iso(promotion.ends_at),
        "announce_by": iso(promotion.announce_by),
        "cannot_meet": promotion.cannot_meet,
        "missing": promotion.missing(),
        "follow_up": [x for x, a in promotion.platforms.items() if a.announced_at]
        if promotion.cancelled
        else [],
        "platforms": platforms_json(promotion.platforms),
    }


def workflow_id(key: str) -> str:
    return p.promotion_id(key)


@router.post("", status_code=201)
async def plan(
    body: PromotionIn, state: State, user: Annotated[User, Depends(allowed(Permission.PROMOTION_PLAN))]
) -> JSONResponse:
    """Plan a promotion; its announcement deadline and reminders start at once (P-PROMO-REMIND)."""
    await check_owner(state, body.owner, RuleId.PROMO_3D)
    key = new_key()
    command = p.Plan(
        actor=Actor(id=user.id, roles=user.roles), promotion_id=key, at=datetime.now(UTC), **body.model_dump()
    )
    try:
        view = await start(
            state, user, p.PROMOTIONS, command, ("Promotion", workflow_id(key)),
            lambda signed: PromotionStart(plan=signed), "promotion",
        )  # fmt: skip
    except Invalid as exc:
        if exc.field != "acknowledge_late":
            raise
        body_json = error_body("invalid", exc.message, rule=exc.rule.value, field=exc.field)
        return JSONResponse({**body_json, "compliance": "cannot_meet"}, status_code=422)
    refused = first_refusal(view)
    if refused is not None:
        return refused
    return JSONResponse(promotion_json(p.Promotion.model_validate(view["promotion"])), status_code=201)


@router.get("")
async def calendar(
    request: Request,
    response: Response,
    state: State,
    _user: Annotated[User, Depends(allowed(Permission.PROMOTION_READ))],
    page: Annotated[Page, Depends(page_of(200, 500))],
    since: Annotated[
        Instant | None, Query(alias="from", description="running at or after (RFC 3339)")
    ] = None,
    until: Annotated[Instant | None, Query(alias="to", description="starting before (RFC 3339)")] = None,
    status: Annotated[p.Status | None, Query(description="one status; unset: every one")] = None,
    owner: Annotated[str | None, Query(max_length=64, pattern=USER_ID)] = None,
    platform: Annotated[Platform | None, Query(description="required there")] = None,
) -> list[dict[str, Any]]:
    """The promotion calendar: those running in [from, to), by start, with each one's deadline and
    per-platform announcement state (from the `promotions` read model)."""
    rows, after = await listed(state, "promotions", since, until, status, page, owner, platform)
    link_next(response, request, after)
    return [promotion_json(p.Promotion.model_validate(row)) for row in rows]


@router.get("/{key}")
async def get_promotion(
    key: Key, state: State, _user: Annotated[User, Depends(allowed(Permission.PROMOTION_READ))]
) -> dict[str, Any]:
    found = await current(state, workflow_id(key), "promotions", key, "promotion")
    return promotion_json(p.Promotion.model_validate(found))


def _render(view: Any) -> dict[str, Any]:
    return promotion_json(p.Promotion.model_validate(view["promotion"]))


@router.post("/{key}/reschedule")
async def reschedule(
    key: Key,
    body: RescheduleIn,
    state: State,
    user: Annotated[User, Depends(allowed(Permission.PROMOTION_PLAN))],
) -> JSONResponse:
    """The start moves: the deadline and the reminders move; what is out is judged against it."""
    command = {"kind": "reschedule", **body.model_dump(mode="json")}
    return await run_update(state, user, workflow_id(key), command, _render)


@router.post("/{key}/cancel")
async def cancel(
    key: Key, body: CancelIn, state: State, user: Annotated[User, Depends(allowed(Permission.PROMOTION_PLAN))]
) -> JSONResponse:
    """Call the promotion off: the obligation ends; what is out is listed for a follow-up."""
    return await run_update(state, user, workflow_id(key), {"kind": "cancel", **body.model_dump()}, _render)
