"""我的工作 (my work): what waits on the signed-in person now, by their roles.

Managers see the approvals waiting for their role, oldest first, with when each reminds and
escalates (P-APPROVAL-REMIND), the content as it will be published and the change since the
version they last decided on, and the decision form. Specialists see their drafts with what the
checks said, and the inquiries assigned to them by deadline. The operations manager also sees the
breached inquiries and the publications a person must resolve; an owner, their promotions and
write-ups still to be kept; the auditor, the way to the audits.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from api.console.articles import review_view
from api.console.inquiries import board_rows
from api.console.web import Signed, Viewer, page
from api.inquiries import InquiryFilter
from api.paging import Page
from api.promotions import promotion_json
from api.state import AppState, app_state
from api.writeups import writeup_json
from domain import articles as a
from domain import promotions as p
from domain import writeups as w
from domain.inquiries import STILL_OWED
from domain.roles import Permission, Role, require

router = APIRouter(include_in_schema=False)
State = Annotated[AppState, Depends(app_state)]
SHOWN_AT_MOST = 50


async def approvals_waiting(state: AppState, who: Viewer) -> list[dict[str, Any]]:
    """The approvals waiting for one of `who`'s roles, oldest request first, each with its review."""
    roles = [r.value for r in who.roles if r in (Role.OPERATIONS_MANAGER, Role.GENERAL_MANAGER)]
    if not roles:
        return []
    rows = await (await state.database()).fetch(
        """SELECT ar.state FROM approvals ap
             JOIN articles ar ON ar.id = ap.article_id AND ar.version = ap.version
                             AND ar.waiting_on_role = ap.role
            WHERE ap.decided_at IS NULL AND ap.role = ANY ($1)
            ORDER BY ap.requested_at, ap.article_id LIMIT $2""",
        roles,
        SHOWN_AT_MOST,
    )
    waiting = []
    for row in rows:
        article = a.Article.model_validate(row["state"])
        waiting.append({"article": article, **await review_view(state, who, article)})
    return waiting


async def my_drafts(state: AppState, who: Viewer) -> list[a.Article]:
    """The person's articles not out yet, latest change first, with their problems."""
    rows = await (await state.database()).fetch(
        """SELECT state FROM articles
            WHERE author = $1 AND status = ANY ($2) ORDER BY updated_at DESC LIMIT $3""",
        who.user.id,
        ["checks_failed", "changes_requested", "in_review", "approved", "needs_attention"],
        SHOWN_AT_MOST,
    )
    return [a.Article.model_validate(r["state"]) for r in rows]


async def needing_a_person(state: AppState) -> list[a.Article]:
    """Articles with a publication a person must resolve (unconfirmed, failed, a manual platform)."""
    rows = await (await state.database()).fetch(
        """SELECT state FROM articles
            WHERE status = 'needs_attention'
               OR (status = 'publishing' AND EXISTS (
                     SELECT 1 FROM jsonb_each(state->'publications') p
                      WHERE (p.value->>'manual')::boolean AND p.value->>'state' = 'publishing'))
            ORDER BY updated_at LIMIT $1""",
        SHOWN_AT_MOST,
    )
    return [a.Article.model_validate(r["state"]) for r in rows]


async def owned(state: AppState, who: Viewer) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The person's promotions still to be announced or watched, and write-ups still to be kept."""
    db = await state.database()
    promotions = await db.fetch(
        """SELECT state FROM promotions WHERE owner = $1 AND status IN ('planned', 'announced')
            ORDER BY starts_at LIMIT $2""",
        who.user.id,
        SHOWN_AT_MOST,
    )
    writeups = await db.fetch(
        "SELECT state FROM writeups WHERE owner = $1 AND status = 'open' ORDER BY due LIMIT $2",
        who.user.id,
        SHOWN_AT_MOST,
    )
    return (
        [promotion_json(p.Promotion.model_validate(r["state"])) for r in promotions],
        [writeup_json(w.WriteUp.model_validate(r["state"])) for r in writeups],
    )


@router.get("/")
async def my_work(request: Request, state: State, who: Signed) -> Response:
    for read in (Permission.ARTICLE_READ, Permission.INQUIRY_READ, Permission.PROMOTION_READ):
        require(who.roles, read)
    mine, _ = await board_rows(
        state, InquiryFilter(statuses=STILL_OWED, assignee=who.user.id), Page(SHOWN_AT_MOST, None)
    )
    breached: list[Any] = []
    attention: list[a.Article] = []
    if Role.OPERATIONS_MANAGER in who.roles:
        breached, _ = await board_rows(state, InquiryFilter(status="breached"), Page(SHOWN_AT_MOST, None))
        attention = await needing_a_person(state)
    promotions, writeups = await owned(state, who)
    return page(
        request, state, "work.html", who,
        approvals=await approvals_waiting(state, who),
        drafts=await my_drafts(state, who) if who.may("article.submit") else [],
        inquiries=mine, breached=breached, attention=attention,
        promotions=promotions, writeups=writeups,
    )  # fmt: skip
