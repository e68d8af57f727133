"""The promotion calendar: a month of promotions (R-PROMO-3D) and event write-ups (R-NEWS-3WD),
each on its days with its deadline and every platform's announcement state; plan, reschedule,
cancel a promotion; report a major event and correct its end.

The month is Beijing's; a promotion shows on each day it runs and its announcement deadline on its
own day, a write-up on the day it is due.
"""

import calendar as months
import re
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from api import promotions as api_promotions
from api import writeups as api_writeups
from api.console.articles import local_instant
from api.console.calls import act
from api.console.web import Form, Signed, done, page
from api.obligations import listed
from api.paging import Page
from api.state import AppState, app_state
from domain import promotions as p
from domain import writeups as w
from domain.platforms import Platform
from domain.roles import Permission, require

router = APIRouter(prefix="/console/calendar", include_in_schema=False)
State = Annotated[AppState, Depends(app_state)]
MONTH = r"^(19[7-9]\d|2\d{3})-(0[1-9]|1[0-2])$"
"""A month from 1970 to 2999: the calendar's range, not all the years Python can hold."""
SHOWN_AT_MOST = 500


def _month(value: str | None, state: AppState) -> date:
    if value:
        year, month = value.split("-")
        return date(int(year), int(month), 1)
    return datetime.now(state.settings.policy.zone).date().replace(day=1)


def _weeks(first: date) -> list[list[date | None]]:
    """The month as weeks Monday to Sunday, None where a day belongs to the month before or after."""
    return [
        [d if d.month == first.month else None for d in week]
        for week in months.Calendar(firstweekday=0).monthdatescalendar(first.year, first.month)
    ]


@router.get("")
async def month(
    request: Request,
    state: State,
    who: Signed,
    month: Annotated[str | None, Query(pattern=MONTH)] = None,
) -> Response:
    require(who.roles, Permission.PROMOTION_READ)
    require(who.roles, Permission.COVERAGE_READ)
    zone = state.settings.policy.zone
    first = _month(month, state)
    following = (first + timedelta(days=32)).replace(day=1)
    since = datetime.combine(first, time(), zone)
    until = datetime.combine(following, time(), zone)
    running, _ = await listed(state, "promotions", since, until, None, Page(SHOWN_AT_MOST, None))
    ending = await (await state.database()).fetch(  # by the day they fall due, as the month shows them
        "SELECT state FROM writeups WHERE due >= $1 AND due < $2 ORDER BY due, id LIMIT $3",
        since, until, SHOWN_AT_MOST,
    )  # fmt: skip
    promotions = [api_promotions.promotion_json(p.Promotion.model_validate(r)) for r in running]
    writeups = [api_writeups.writeup_json(w.WriteUp.model_validate(r["state"])) for r in ending]
    days: dict[date, list[dict[str, Any]]] = {}

    def on(moment: str | None, item: dict[str, Any]) -> None:
        if moment:
            day = datetime.fromisoformat(moment).astimezone(zone).date()
            if first <= day < following:
                days.setdefault(day, []).append(item)

    for promo in promotions:
        on(promo["announce_by"], {"kind": "deadline", "item": promo})
        start = datetime.fromisoformat(promo["starts_at"]).astimezone(zone).date()
        end = datetime.fromisoformat(promo["ends_at"]).astimezone(zone).date()
        day = max(start, first)
        while day <= end and day < following:
            days.setdefault(day, []).append({"kind": "runs", "item": promo})
            day += timedelta(days=1)
    for writeup in writeups:
        on(writeup["due"], {"kind": "due", "item": writeup})
    return page(
        request, state, "calendar.html", who,
        first=first, weeks=_weeks(first), days=days, promotions=promotions, writeups=writeups,
        previous=(first - timedelta(days=1)).strftime("%Y-%m"), following=following.strftime("%Y-%m"),
        platforms=list(Platform),
    )  # fmt: skip


def _back(state: AppState, form: Any, outcome_ok: bool, ok: str, words: str) -> Response:
    """Back to the month the form was on (a month the page gave, else the current one)."""
    shown = str(form.get("month") or "")
    to = f"/console/calendar?month={shown}" if re.fullmatch(MONTH, shown) else "/console/calendar"
    return done(state, to, ok if outcome_ok else words)


@router.post("/promotions")
async def plan(state: State, who: Signed, form: Form) -> Response:
    values = {
        "name": form.get("name", ""),
        "starts_at": local_instant(str(form.get("starts_at") or ""), state),
        "ends_at": local_instant(str(form.get("ends_at") or ""), state),
        "major": form.get("major") == "on",
        "platforms": form.getlist("platforms") or None,
        "owner": form.get("owner") or None,
        "acknowledge_late": form.get("acknowledge_late") == "on",
    }
    outcome = await act(who.user, api_promotions.plan, (api_promotions.PromotionIn, values), state=state)
    return _back(state, form, outcome.ok, "促销已计划，预告截止时间已设定。", outcome.words)


@router.post("/promotions/{key}/reschedule")
async def reschedule(key: str, state: State, who: Signed, form: Form) -> Response:
    values = {
        "starts_at": local_instant(str(form.get("starts_at") or ""), state),
        "ends_at": local_instant(str(form.get("ends_at") or ""), state),
        "acknowledge_late": form.get("acknowledge_late") == "on",
    }
    model = api_promotions.RescheduleIn
    outcome = await act(who.user, api_promotions.reschedule, (model, values), key=key, state=state)
    return _back(state, form, outcome.ok, "已改期，截止时间和提醒随之调整。", outcome.words)


@router.post("/promotions/{key}/cancel")
async def cancel(key: str, state: State, who: Signed, form: Form) -> Response:
    values = {"reason": form.get("reason", "")}
    model = api_promotions.CancelIn
    outcome = await act(who.user, api_promotions.cancel, (model, values), key=key, state=state)
    return _back(state, form, outcome.ok, "促销已取消。", outcome.words)


@router.post("/writeups")
async def report(state: State, who: Signed, form: Form) -> Response:
    values = {
        "name": form.get("name", ""),
        "ends_at": local_instant(str(form.get("ends_at") or ""), state),
        "platforms": form.getlist("platforms") or None,
        "owner": form.get("owner") or None,
    }
    outcome = await act(who.user, api_writeups.report, (api_writeups.WriteUpIn, values), state=state)
    return _back(state, form, outcome.ok, "重大活动已登记，报道截止时间已按工作日计算。", outcome.words)


@router.post("/writeups/{key}/correct")
async def correct(key: str, state: State, who: Signed, form: Form) -> Response:
    values = {"ends_at": local_instant(str(form.get("ends_at") or ""), state)}
    model = api_writeups.CorrectIn
    outcome = await act(who.user, api_writeups.correct, (model, values), key=key, state=state)
    return _back(state, form, outcome.ok, "结束时间已更正，截止时间重新计算。", outcome.words)
