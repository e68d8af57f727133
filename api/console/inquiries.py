"""The SLA board (R-INQUIRY-12H): open inquiries by deadline, the time left, at risk and breached
marked, the platform's reply window; one inquiry's conversation with reply, assign, escalate,
close and reconcile; the consultation record as CSV.

The board's rows refresh themselves (htmx, every few seconds) and each countdown ticks in the
browser from the deadline the server gave; the deadline itself is the workflow's.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from api import inquiries as api
from api.console.calls import act
from api.console.record import timeline
from api.console.web import Form, Signed, done, download, page
from api.inquiries import InquiryFilter
from api.paging import Page, decode
from api.state import AppState, app_state
from domain import inquiries as q
from domain.commands import USER_ID
from domain.inquiries import STILL_OWED, InquiryStatus
from domain.platforms import Platform
from domain.roles import PERMISSIONS, Permission, require
from eventstore.users import list_users

router = APIRouter(prefix="/console/inquiries", include_in_schema=False)
State = Annotated[AppState, Depends(app_state)]
PAGE_SIZE = 50


@dataclass(frozen=True)
class Row:
    """One inquiry on the board, with its time left (negative: overdue) as of this page."""

    id: str
    inquiry: q.Inquiry
    left_s: float | None
    window_left_s: float | None


def _left(moment: datetime | None) -> float | None:
    return (moment - datetime.now(UTC)).total_seconds() if moment else None


async def board_rows(state: AppState, where: InquiryFilter, at: Page) -> tuple[list[Row], str | None]:
    found, after = await api.inquiry_page(state, where, at)
    rows = [Row(key, i, _left(i.deadline), _left(i.window_closes)) for key, i in found]
    return rows, after


def _where(status: InquiryStatus | None, assignee: str | None, platform: Platform | None) -> InquiryFilter:
    """The board's filters; no status asked: every inquiry still owed an answer."""
    owed = () if status else STILL_OWED
    return InquiryFilter(status=status, statuses=owed, assignee=assignee or None, platform=platform)


Channel = Annotated[Platform | None, Query()]


@router.get("")
async def board(
    request: Request,
    state: State,
    who: Signed,
    status: Annotated[InquiryStatus | None, Query()] = None,
    assignee: Annotated[str | None, Query(max_length=64, pattern=f"{USER_ID}|^$")] = None,
    platform: Channel = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    rows_only: Annotated[bool, Query(alias="rows")] = False,
) -> Response:
    require(who.roles, Permission.INQUIRY_READ)
    rows, next_cursor = await board_rows(
        state, _where(status, assignee, platform), Page(PAGE_SIZE, decode(cursor) if cursor else None)
    )
    context: dict[str, Any] = {
        "rows": rows, "next_cursor": next_cursor, "status": status, "assignee": assignee or "",
        "platform": platform, "platforms": list(Platform),
    }  # fmt: skip
    return page(request, state, "_sla_rows.html" if rows_only else "sla.html", who, **context)


@router.get("/export.csv")
async def export(state: State, who: Signed) -> Response:
    """The consultation record (咨询数据), the API's CSV, for the signed-in person."""
    made = await act(who.user, api.export, state=state)
    return download(made.status, made.body, made.words, "text/csv; charset=utf-8", "inquiries.csv")


@router.get("/{inquiry_id}")
async def one(inquiry_id: str, request: Request, state: State, who: Signed) -> Response:
    outcome = await act(who.user, api.get_inquiry, inquiry_id=inquiry_id, state=state)
    if not outcome.ok:
        return page(request, state, "refused.html", who, outcome.status, outcome=outcome)
    inquiry = await api.current_inquiry(state, inquiry_id)
    async with (await state.database()).acquire() as conn:
        people = [u for u in await list_users(conn) if u.roles & PERMISSIONS[Permission.INQUIRY_REPLY].roles]
    return page(
        request, state, "inquiry.html", who,
        key=inquiry_id, inquiry=inquiry, json=outcome.body, entries=await timeline(state, inquiry_id),
        left_s=_left(inquiry.deadline), window_left_s=_left(inquiry.window_closes), people=people,
    )  # fmt: skip


async def _command(
    inquiry_id: str, state: AppState, who: Signed, endpoint: Any, model: Any, values: dict[str, Any], ok: str
) -> Response:
    outcome = await act(who.user, endpoint, (model, values), inquiry_id=inquiry_id, state=state)
    return done(state, f"/console/inquiries/{inquiry_id}", ok if outcome.ok else outcome.words)


@router.post("/{inquiry_id}/reply")
async def reply(inquiry_id: str, state: State, who: Signed, form: Form) -> Response:
    values = {"text": form.get("text", "")}
    return await _command(inquiry_id, state, who, api.reply, api.ReplyIn, values, "答复已发出。")


@router.post("/{inquiry_id}/assign")
async def assign(inquiry_id: str, state: State, who: Signed, form: Form) -> Response:
    values = {"assignee": form.get("assignee", "")}
    return await _command(inquiry_id, state, who, api.assign, api.AssignIn, values, "已分派。")


@router.post("/{inquiry_id}/escalate")
async def escalate(inquiry_id: str, state: State, who: Signed, form: Form) -> Response:
    values = {"reason": form.get("reason", "")}
    return await _command(inquiry_id, state, who, api.escalate, api.EscalateIn, values, "已上报。")


@router.post("/{inquiry_id}/close")
async def close(inquiry_id: str, state: State, who: Signed, form: Form) -> Response:
    values = {"reason": form.get("reason", "")}
    return await _command(inquiry_id, state, who, api.close, api.CloseIn, values, "已关闭。")


@router.post("/{inquiry_id}/reconcile")
async def reconcile(inquiry_id: str, state: State, who: Signed, form: Form) -> Response:
    values = {"delivered": form.get("delivered") == "yes"}
    return await _command(
        inquiry_id, state, who, api.reconcile_reply, api.ReconcileIn, values, "答复结果已核实登记。"
    )
