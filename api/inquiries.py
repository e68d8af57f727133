"""Inquiries over HTTP (R-INQUIRY-12H): record, list, assign, reply, close, and export the record."""

import asyncio
import csv
import io
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, StringConstraints
from temporalio.service import RPCError, RPCStatusCode

from api.auth import allowed
from api.errors import Unreachable
from api.intake import take_inquiry
from api.paging import Page, link_next, next_cursor, page_of
from api.state import AppState, app_state
from api.updates import run_update
from domain import inquiries as q
from domain.commands import USER_ID
from domain.durations import Instant
from domain.errors import Invalid
from domain.inquiries import InquiryStatus
from domain.platforms import Platform
from domain.roles import Permission
from domain.rules import RuleId
from domain.text import Text
from eventstore.users import User

router = APIRouter(prefix="/inquiries", tags=["inquiries"])
State = Annotated[AppState, Depends(app_state)]
ReplyText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2048)]


class InquiryIn(BaseModel):
    platform: q.Channel = Field(description="a platform id, or phone / email")
    user: Text = Field(min_length=1, max_length=200, description="the platform's user reference, or a name")
    text: Text = Field(min_length=1, max_length=5000)
    received_at: Instant = Field(description="when the user wrote, with its time zone (RFC 3339)")
    backfilled: bool = Field(
        default=False, description="recorded after the fact: received_at may be older than the policy's bound"
    )
    account: str = Field(default="demo", max_length=64, description="the account it came to, for a platform")


class AssignIn(BaseModel):
    assignee: Text = Field(min_length=1, max_length=64)


class ReplyIn(BaseModel):
    text: ReplyText


class ReconcileIn(BaseModel):
    delivered: bool = Field(description="whether the reply reached the user (checked on the platform)")


class EscalateIn(BaseModel):
    reason: Text = Field(min_length=1, max_length=500, description="why it is important (R-ESCALATE-4H)")


class CloseIn(BaseModel):
    reason: Literal["answered", "spam", "duplicate"]


def inquiry_json(inquiry_id: str, inquiry: q.Inquiry) -> dict[str, Any]:
    return {
        "id": inquiry_id,
        "status": inquiry.status,
        "platform": inquiry.platform,
        "user": inquiry.user,
        "text": inquiry.text,
        "received_at": inquiry.received_at.isoformat() if inquiry.received_at else None,
        "clock_started_at": inquiry.sent_at.isoformat() if inquiry.sent_at else None,
        "deadline": inquiry.deadline.isoformat() if inquiry.deadline else None,
        "answered_at": inquiry.answered_at.isoformat() if inquiry.answered_at else None,
        "within_sla": inquiry.within_sla,
        "assignee": inquiry.assignee,
        "escalated": inquiry.escalated,
        "reply_in_doubt": inquiry.reply_in_doubt,
        "window_closes": inquiry.window_closes.isoformat() if inquiry.window_closes else None,
        "reopened": inquiry.reopened,
        "messages": [
            {"message_id": m.message_id, "text": m.text, "sent_at": m.sent_at.isoformat()}
            for m in inquiry.messages
        ],
        "replies": [
            {
                "responder": r.responder,
                "at": r.at.isoformat(),
                "state": r.outcome.state,
                "reason": r.outcome.reason,
                "within_sla": r.within_sla,
            }
            for r in inquiry.replies
        ],
    }


async def current_inquiry(state: AppState, inquiry_id: str) -> q.Inquiry:
    """The inquiry from the consultation record (the read model, kept within milliseconds).

    Only an inquiry not projected yet (started a moment ago) is asked of its workflow: a Temporal
    query costs a round trip through the server and a worker, which reading a row does not.
    """
    stored = await (await state.database()).fetchval("SELECT state FROM inquiries WHERE id = $1", inquiry_id)
    if stored is not None:
        return q.Inquiry.model_validate(stored)
    client = await state.temporal()
    try:
        view = await client.get_workflow_handle(inquiry_id).query(
            "current", rpc_timeout=timedelta(seconds=state.settings.query_timeout_s)
        )
    except RPCError as exc:
        if exc.status in (RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.UNAVAILABLE):
            raise Unreachable("temporal") from None  # not recorded yet, and its workflow cannot say
        raise HTTPException(404, detail=f"no inquiry {inquiry_id}") from None
    return q.Inquiry.model_validate(view["inquiry"])


async def _act(state: AppState, user: User, inquiry_id: str, command: dict[str, Any]) -> JSONResponse:
    """A person's command as the workflow's validated update; its view, or the refusal as a 4xx."""

    def render(view: Any) -> dict[str, Any]:
        return inquiry_json(inquiry_id, q.Inquiry.model_validate(view["inquiry"]))

    return await run_update(state, user, inquiry_id, command, render)


RECORDED_WITHIN_S = 5.0
"""How long recording an inquiry waits to answer with its deadline; later, 202: it is taken."""


def known_account(state: AppState, channel: q.Channel, account: str) -> None:
    """An inquiry that came on a platform names one of the department's accounts there (R-ACCOUNTS):
    a reply goes out through that account, and there is no replying through one that does not exist."""
    if not isinstance(channel, Platform):
        return  # phone, email: no account to answer through
    if not any(a.platform == channel and a.name == account for a in state.accounts.all()):
        raise Invalid(
            RuleId.ACCOUNTS, f"no {channel} account named {account!r} is configured", field="account"
        )


@router.post("", status_code=201)
async def record(
    body: InquiryIn, state: State, user: Annotated[User, Depends(allowed(Permission.INQUIRY_CREATE))]
) -> JSONResponse:
    """Record an inquiry that came by phone, mail or an unpushed platform; its clock starts at received_at."""
    q.check_received_at(
        body.received_at, datetime.now(UTC), state.settings.policy, backfilled=body.backfilled
    )
    known_account(state, body.platform, body.account)
    message_id = uuid.uuid4().hex[:16]
    received = q.InquiryReceived(
        platform=body.platform,
        account=body.account,
        message_id=message_id,
        user=body.user,
        text=body.text,
        sent_at=body.received_at,
        detected_at=datetime.now(UTC),
    )
    inquiry_id = (await take_inquiry(state, received, dedupe_key=message_id, recorded_by=user)).workflow_id
    deadline = asyncio.get_running_loop().time() + RECORDED_WITHIN_S
    while asyncio.get_running_loop().time() < deadline:
        try:
            inquiry: q.Inquiry | None = await current_inquiry(state, inquiry_id)
        except (HTTPException, Unreachable):
            inquiry = None  # not started or not recorded yet; taken all the same
        if inquiry is not None and inquiry.deadline is not None:
            return JSONResponse(inquiry_json(inquiry_id, inquiry), status_code=201)
        await asyncio.sleep(0.1)
    return JSONResponse({"id": inquiry_id, "status": "open"}, status_code=202)


@dataclass(frozen=True)
class InquiryFilter:
    """What a list of inquiries is narrowed to; every field unset: every inquiry."""

    status: InquiryStatus | None = None
    statuses: tuple[InquiryStatus, ...] = ()
    """Any of these (the SLA board's "still owed"); empty: no such bound."""
    assignee: str | None = None
    platform: q.Channel | None = None
    since: datetime | None = None
    until: datetime | None = None


async def inquiry_page(
    state: AppState, where: InquiryFilter, page: Page
) -> tuple[list[tuple[str, q.Inquiry]], str | None]:
    """One page of the consultation record, nearest deadline first, and the cursor after it."""
    after_at, after_id = page.after or (None, None)
    rows = await (await state.database()).fetch(
        """SELECT id, state, COALESCE(deadline, received_at, updated_at) AS due FROM inquiries
            WHERE ($1::text IS NULL OR status = $1) AND (cardinality($2::text[]) = 0 OR status = ANY ($2))
              AND ($3::text IS NULL OR assignee = $3) AND ($4::text IS NULL OR platform = $4)
              AND ($5::timestamptz IS NULL OR received_at >= $5)
              AND ($6::timestamptz IS NULL OR received_at < $6)
              AND ($7::timestamptz IS NULL
                   OR (COALESCE(deadline, received_at, updated_at), id) > ($7, $8::text))
            ORDER BY due, id LIMIT $9""",
        where.status, list(where.statuses), where.assignee, where.platform, where.since, where.until,
        after_at, after_id, page.limit + 1,
    )  # fmt: skip
    found = [(r["id"], q.Inquiry.model_validate(r["state"])) for r in rows[: page.limit]]
    return found, next_cursor(rows, page, "due")


@router.get("")
async def list_inquiries(
    request: Request,
    response: Response,
    state: State,
    _user: Annotated[User, Depends(allowed(Permission.INQUIRY_READ))],
    page: Annotated[Page, Depends(page_of(500))],
    status: Annotated[InquiryStatus | None, Query()] = None,
    assignee: Annotated[str | None, Query(max_length=64, pattern=USER_ID)] = None,
    platform: Annotated[q.Channel | None, Query(description="a platform id, or phone / email")] = None,
    since: Annotated[Instant | None, Query(alias="from", description="received at or after")] = None,
    until: Annotated[Instant | None, Query(alias="to", description="received before")] = None,
) -> list[dict[str, Any]]:
    """The consultation record, nearest deadline first, a page at a time (the next page's cursor
    is in `X-Next-Cursor`)."""
    where = InquiryFilter(status=status, assignee=assignee, platform=platform, since=since, until=until)
    found, after = await inquiry_page(state, where, page)
    link_next(response, request, after)
    return [inquiry_json(key, inquiry) for key, inquiry in found]


RECORD_COLUMNS = [
    "id", "platform", "account", "user", "status",
    "received_at", "deadline", "answered_at", "within_sla", "assignee", "reopened",
]  # fmt: skip


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> object:
    """A cell a spreadsheet shows as text: one starting like a formula (`=HYPERLINK(...)`, DDE) is quoted.

    The user names in the record come from the internet (a website comment's author, say); Excel and
    WPS would run them as formulas (OWASP CSV injection), so a leading `'` keeps them as text.
    """
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


@router.get("/export.csv")
async def export(state: State, _user: Annotated[User, Depends(allowed(Permission.INQUIRY_READ))]) -> Response:
    """The consultation record (咨询数据) as CSV: each inquiry, when it came, when and how it was answered."""
    columns = ", ".join(f'"{c}"' for c in RECORD_COLUMNS)
    rows = await (await state.database()).fetch(f"SELECT {columns} FROM inquiries ORDER BY received_at")  # noqa: S608
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(RECORD_COLUMNS)
    for r in rows:
        writer.writerow([spreadsheet_safe(r[c]) for c in RECORD_COLUMNS])
    return Response(
        "\ufeff" + out.getvalue(),  # a BOM, so spreadsheet programs read the Chinese text as UTF-8
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="inquiries.csv"'},
    )


@router.get("/{inquiry_id}")
async def get_inquiry(
    inquiry_id: str, state: State, _user: Annotated[User, Depends(allowed(Permission.INQUIRY_READ))]
) -> dict[str, Any]:
    return inquiry_json(inquiry_id, await current_inquiry(state, inquiry_id))


@router.post("/{inquiry_id}/assign")
async def assign(
    inquiry_id: str,
    body: AssignIn,
    state: State,
    user: Annotated[User, Depends(allowed(Permission.INQUIRY_ASSIGN))],
) -> JSONResponse:
    return await _act(state, user, inquiry_id, {"kind": "assign", **body.model_dump()})


@router.post("/{inquiry_id}/reply")
async def reply(
    inquiry_id: str,
    body: ReplyIn,
    state: State,
    user: Annotated[User, Depends(allowed(Permission.INQUIRY_REPLY))],
) -> JSONResponse:
    """Answer the user on their platform, at most once; a platform's refusal is a 409 with its code.
    Replies given by phone, mail or in a console-only platform are recorded as given."""
    return await _act(state, user, inquiry_id, {"kind": "reply", **body.model_dump()})


@router.post("/{inquiry_id}/reply/reconcile")
async def reconcile_reply(
    inquiry_id: str,
    body: ReconcileIn,
    state: State,
    user: Annotated[User, Depends(allowed(Permission.INQUIRY_REPLY))],
) -> JSONResponse:
    """Settle a reply whose outcome is unknown: delivered (answered then) or not (reply again)."""
    return await _act(state, user, inquiry_id, {"kind": "reconcile_reply", **body.model_dump()})


@router.post("/{inquiry_id}/escalate")
async def escalate(
    inquiry_id: str,
    body: EscalateIn,
    state: State,
    user: Annotated[User, Depends(allowed(Permission.INQUIRY_ESCALATE))],
) -> JSONResponse:
    """Report an important inquiry up (R-ESCALATE-4H); the record says whether it was within 4 hours."""
    return await _act(state, user, inquiry_id, {"kind": "escalate", **body.model_dump()})


@router.post("/{inquiry_id}/close")
async def close(
    inquiry_id: str,
    body: CloseIn,
    state: State,
    user: Annotated[User, Depends(allowed(Permission.INQUIRY_REPLY))],
) -> JSONResponse:
    """Close it: as answered by anyone who may reply; without a reply (spam, duplicate) the manager alone."""
    return await _act(state, user, inquiry_id, {"kind": "close", **body.model_dump()})
