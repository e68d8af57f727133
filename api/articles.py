"""The article review chain over HTTP: submit, revise, review, confirm, withdraw, reconcile, read.

Every action checks the role table first (403 naming the permission and the rule); the command is
then signed for the person and sent to the workflow, whose validators check the state and the
separation of duties (403 / 409 / 422 naming the rule, see api/updates.py). A submission or a
revision answers once its content checks have run (422 with the rule ids when they found
problems). Lists come from the `articles` read model; one article is asked of its workflow.
"""

import asyncio
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, Field, ValidationError
from temporalio.client import WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from api.auth import allowed
from api.errors import Unreachable, error_body
from api.paging import Page, link_next, next_cursor, page_of
from api.state import AppState, app_state
from api.updates import run_update, sign
from domain import articles as a
from domain.announcements import LINKED_AT_MOST
from domain.commands import USER_ID
from domain.durations import Instant
from domain.errors import DomainError, Invalid
from domain.platforms import Platform
from domain.roles import Permission
from domain.rules import RuleId
from domain.text import Text
from eventstore.users import User
from workflows.contracts import ArticleStart

router = APIRouter(prefix="/articles", tags=["articles"])
State = Annotated[AppState, Depends(app_state)]


def _distinct(platforms: list[Platform]) -> list[Platform]:
    if len(set(platforms)) != len(platforms):
        raise ValueError("a platform is named twice")
    return platforms


# The bounds of what a person submits: every field that grows is bounded, and a value out of bounds
# gets a 422 that names its field (M9).
Title = Annotated[Text, Field(min_length=1, max_length=200)]
Body = Annotated[Text, Field(min_length=1, description="HTML (the whole request is at most 1 MiB)")]
Platforms = Annotated[
    list[Platform], Field(min_length=1, max_length=len(Platform)), AfterValidator(_distinct)
]
Source = Annotated[Text, Field(max_length=500, description="where it comes from: a URL or a name")]
Editor = Annotated[Text, Field(max_length=64)]
Version = Annotated[int, Field(ge=1, le=100_000, description="the version the command is about")]
Remark = Annotated[Text, Field(max_length=2000)]


class ArticleIn(BaseModel):
    title: Title
    body: Body
    category: a.Category
    involves_company_project: bool = False
    platforms: Platforms
    publish_at: Instant | None = None
    source: Source = ""
    editor: Editor = ""
    promotion_id: a.LinkKey | None = Field(
        default=None, description="the promotion it announces (R-PROMO-3D)"
    )
    writeup_id: a.LinkKey | None = Field(
        default=None, description="the major event it writes up (R-NEWS-3WD)"
    )
    column_id: a.LinkKey | None = Field(
        default=None, description="the fixed column it updates (R-FIXED-MONTHLY), declared at /columns"
    )


OBLIGATIONS = ("promotion_id", "writeup_id")
"""The links that make an article count for an obligation (each read with at most `LINKED_AT_MOST`)."""
LINKS = {*OBLIGATIONS, "column_id"}
"""What an article is linked to: on its submission, never in its content (whose hash approvals keep)."""


class RevisionIn(BaseModel):
    version: Version
    title: Title | None = None
    body: Body | None = None
    category: a.Category | None = None
    involves_company_project: bool | None = None
    platforms: Platforms | None = None
    publish_at: Instant | None = None
    source: Source | None = None
    editor: Editor | None = None


class ReviewIn(BaseModel):
    decision: Literal["approve", "request_changes", "reject"]
    version: Version
    comment: Remark = ""


class ConfirmIn(BaseModel):
    version: Version
    comment: Remark = ""


class WithdrawIn(BaseModel):
    reason: Remark = ""


class ReconcileIn(BaseModel):
    url: Annotated[Text, Field(max_length=2000, pattern=r"^https?://")] | None = None
    not_published: bool = False


def article_json(article: a.Article) -> dict[str, Any]:
    content = article.content
    return {
        "id": article.id,
        "status": article.status.value,
        "version": article.version,
        "waiting_on_role": article.waiting_on.value if article.waiting_on else None,
        "author": article.author,
        "title": content.title if content else None,
        "category": content.category if content else None,
        "involves_company_project": content.involves_company_project if content else None,
        "publish_at": article.publish_at.isoformat() if article.publish_at else None,
        "problems": [p.model_dump(mode="json") for p in article.problems],
        "approvals": [
            {"version": x.version, "role": x.role.value, "actor": x.actor, "at": x.at.isoformat()}
            for x in article.approvals
        ],
        "promotion_id": article.promotion_id,
        "column_id": article.column_id,
        "writeup_id": article.writeup_id,
        "publications": {
            p.value: {"state": pub.state, "url": pub.url, "manual": pub.manual, "reason": pub.reason}
            for p, pub in article.publications.items()
        },
    }


def workflow_id(article_id: str) -> str:
    return f"article-{article_id}"


async def _handle(state: AppState, article_id: str) -> WorkflowHandle[Any, Any]:
    client = await state.temporal()
    return client.get_workflow_handle(workflow_id(article_id))


async def current_article(state: AppState, article_id: str) -> a.Article:
    """The article as its workflow has it this moment; when the workflow cannot answer at once (it
    is closed, its worker is restarting, Temporal is down or was never reached), as the read model
    has it."""
    try:
        handle = await _handle(state, article_id)
        view = await handle.query(
            "state_and_decisions", rpc_timeout=timedelta(seconds=state.settings.query_timeout_s)
        )
    except Unreachable:
        status = RPCStatusCode.UNAVAILABLE
    except RPCError as exc:
        if exc.status not in READ_MODEL_ANSWERS:
            raise
        status = exc.status
    else:
        return a.Article.model_validate(view["article"])
    stored = await (await state.database()).fetchval("SELECT state FROM articles WHERE id = $1", article_id)
    if stored is not None:
        return a.Article.model_validate(stored)
    if status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
        raise HTTPException(404, detail=f"no article {article_id}") from None
    raise Unreachable("temporal") from None


READ_MODEL_ANSWERS = (
    RPCStatusCode.NOT_FOUND,
    RPCStatusCode.INVALID_ARGUMENT,
    RPCStatusCode.DEADLINE_EXCEEDED,
    RPCStatusCode.UNAVAILABLE,
)
"""The query failures the read model stands in for: no such workflow (a closed or purged one), or
none that can answer now."""


async def _update(state: AppState, user: User, article_id: str, command: dict[str, Any]) -> JSONResponse:
    return await run_update(
        state,
        user,
        workflow_id(article_id),
        command,
        lambda view: article_json(a.Article.model_validate(view["article"])),
    )


async def _checked(handle: WorkflowHandle[Any, Any], version: int, status: int) -> JSONResponse | None:
    """The article once `version`'s content checks have run: 422 naming the rules if they failed."""
    for _ in range(100):  # the checks take milliseconds, normally
        try:
            view = await handle.query("state_and_decisions")
        except RPCError:
            view = None
        if view and view["article"]["checked"] and view["article"]["version"] == version:
            article = a.Article.model_validate(view["article"])
            if article.problems:  # blocked before review; the article stays for the author to revise
                rules = sorted({p.rule.value for p in article.problems})
                detail = "; ".join(p.message for p in article.problems)
                return JSONResponse(
                    error_body("checks_failed", detail, rules=rules, article=article_json(article)),
                    status_code=422,
                )
            return JSONResponse(article_json(article), status_code=status)
        await asyncio.sleep(0.1)
    return None


def accounts_for(state: AppState, platforms: Iterable[Platform]) -> dict[Platform, str] | JSONResponse:
    """The account each platform publishes on (its first configured one), or 422 naming the field."""
    accounts: dict[Platform, str] = {}
    for platform in platforms:
        configured = [acct.name for acct in state.accounts.all() if acct.platform is platform]
        if not configured:
            return JSONResponse(
                error_body("invalid", f"no {platform} account is configured", field="platforms"),
                status_code=422,
            )
        accounts[platform] = configured[0]
    return accounts


async def _check_room(state: AppState, body: ArticleIn) -> None:
    """An obligation is read with at most `LINKED_AT_MOST` articles: a link beyond them is refused."""
    for link in OBLIGATIONS:
        key = getattr(body, link)
        if key is None:
            continue
        linked = await (await state.database()).fetchval(
            f"SELECT count(*) FROM events WHERE type = 'article.submitted' AND data->>'{link}' = $1",  # noqa: S608
            key,
        )
        if linked >= LINKED_AT_MOST:
            rule = RuleId.PROMO_3D if link == "promotion_id" else RuleId.NEWS_3WD
            raise Invalid(rule, f"{LINKED_AT_MOST} articles are linked to it already", field=link)


async def _check_column(state: AppState, body: ArticleIn) -> None:
    """A fixed column's article goes out on the column's platform: the column must be declared."""
    if body.column_id is None:
        return
    row = await (await state.database()).fetchrow(
        "SELECT platform FROM columns WHERE id = $1 AND retired_at IS NULL", body.column_id
    )
    if row is None:
        raise Invalid(RuleId.FIXED_MONTHLY, "no fixed column of that id is declared", field="column_id")
    if row["platform"] not in body.platforms:
        raise Invalid(
            RuleId.FIXED_MONTHLY,
            f"the column is on {row['platform']}: publish the article there",
            field="platforms",
        )


@router.post("", status_code=201)
async def submit(
    body: ArticleIn, state: State, user: Annotated[User, Depends(allowed(Permission.ARTICLE_SUBMIT))]
) -> JSONResponse:
    """Submit an article; it is checked, then reviewed (R-REVIEW-ALL) and, if needed, confirmed."""
    a.check_publish_at(body.publish_at, datetime.now(UTC), state.settings.policy)
    content = a.Content.model_validate(body.model_dump(exclude=LINKS))
    a.check_link(body.promotion_id, body.writeup_id, content)
    await _check_room(state, body)
    await _check_column(state, body)
    accounts = accounts_for(state, body.platforms)
    if isinstance(accounts, JSONResponse):
        return accounts
    article_id = uuid.uuid4().hex[:12]
    submit = {
        "kind": "submit",
        "article_id": article_id,
        "content": body.model_dump(mode="json", exclude=LINKS),
        "accounts": {platform.value: name for platform, name in accounts.items()},
        **body.model_dump(include=LINKS, exclude_none=True),
    }
    signed = sign(state, user, workflow_id(article_id), submit)
    client = await state.temporal()
    handle = await client.start_workflow(
        "Article",
        ArticleStart(submit=signed.model_dump(mode="json"), accounts=accounts),
        id=workflow_id(article_id),
        task_queue=state.settings.task_queue,
    )
    checked = await _checked(handle, 1, 201)
    return checked or JSONResponse({"id": article_id, "status": "submitted"}, status_code=202)


@dataclass(frozen=True)
class ArticleFilter:
    """What a list of articles is narrowed to; every field unset: every article."""

    status: a.Status | None = None
    author: str | None = None
    platform: Platform | None = None
    since: datetime | None = None
    until: datetime | None = None


async def article_page(
    state: AppState, where: ArticleFilter, page: Page
) -> tuple[list[a.Article], str | None]:
    """One page of the `articles` read model, latest change first, and the cursor after it."""
    after_at, after_id = page.after or (None, None)
    rows = await (await state.database()).fetch(
        """SELECT id, updated_at, state FROM articles
            WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR author = $2)
              AND ($3::text IS NULL OR $3 = ANY (platforms))
              AND ($4::timestamptz IS NULL OR updated_at >= $4)
              AND ($5::timestamptz IS NULL OR updated_at < $5)
              AND ($6::timestamptz IS NULL OR (updated_at, id) < ($6, $7::text))
            ORDER BY updated_at DESC, id DESC LIMIT $8""",
        where.status, where.author, where.platform, where.since, where.until, after_at, after_id,
        page.limit + 1,
    )  # fmt: skip
    found = [a.Article.model_validate(r["state"]) for r in rows[: page.limit]]
    return found, next_cursor(rows, page, "updated_at")


@router.get("")
async def list_articles(
    request: Request,
    response: Response,
    state: State,
    _user: Annotated[User, Depends(allowed(Permission.ARTICLE_READ))],
    page: Annotated[Page, Depends(page_of(200))],
    # A status, not free text: PostgreSQL refuses a NUL in a text parameter (that was a 500).
    status: Annotated[a.Status | None, Query(description="one article status; unset: every one")] = None,
    author: Annotated[str | None, Query(max_length=64, pattern=USER_ID, description="the author")] = None,
    platform: Annotated[Platform | None, Query(description="published, or to be, there")] = None,
    since: Annotated[Instant | None, Query(alias="from", description="changed at or after")] = None,
    until: Annotated[Instant | None, Query(alias="to", description="changed before")] = None,
) -> list[dict[str, Any]]:
    """The articles, latest change first, a page at a time (the next page's cursor is in
    `X-Next-Cursor`); another value than those listed is a 422 naming the field."""
    found, after = await article_page(state, ArticleFilter(status, author, platform, since, until), page)
    link_next(response, request, after)
    return [article_json(x) for x in found]


@router.get("/{article_id}")
async def get_article(
    article_id: str, state: State, _user: Annotated[User, Depends(allowed(Permission.ARTICLE_READ))]
) -> dict[str, Any]:
    return article_json(await current_article(state, article_id))


@router.post("/{article_id}/revisions")
async def revise(
    article_id: str,
    body: RevisionIn,
    state: State,
    user: Annotated[User, Depends(allowed(Permission.ARTICLE_REVISE))],
) -> JSONResponse:
    current = await current_article(state, article_id)
    if current.content is None:
        raise HTTPException(404, detail=f"no article {article_id}")
    if current.version != body.version:  # the changes are merged into what we read: it must be that version
        raise DomainError(
            RuleId.REVIEW_ALL,
            f"the article is at version {current.version}, not {body.version}: read it again",
        )
    changes = body.model_dump(exclude={"version"}, exclude_unset=True)
    if "publish_at" in changes:
        a.check_publish_at(body.publish_at, datetime.now(UTC), state.settings.policy)
    try:
        content = a.Content.model_validate({**current.content.model_dump(), **changes})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return JSONResponse(error_body("invalid", f"{where}: {first['msg']}", field=where), status_code=422)
    accounts = accounts_for(state, content.platforms)
    if isinstance(accounts, JSONResponse):
        return accounts  # a revision adding a platform nobody can publish on is refused here
    command = {
        "kind": "revise",
        "version": body.version,
        "content": content.model_dump(mode="json"),
        "accounts": {platform.value: name for platform, name in accounts.items()},
    }
    answer = await _update(state, user, article_id, command)
    if answer.status_code != 200:
        return answer
    handle = await _handle(state, article_id)
    return await _checked(handle, body.version + 1, 200) or answer


@router.post("/{article_id}/review")
async def review(
    article_id: str,
    body: ReviewIn,
    state: State,
    user: Annotated[User, Depends(allowed(Permission.ARTICLE_REVIEW))],
) -> JSONResponse:
    return await _update(state, user, article_id, {"kind": "review", **body.model_dump()})


@router.post("/{article_id}/confirm")
async def confirm(
    article_id: str,
    body: ConfirmIn,
    state: State,
    user: Annotated[User, Depends(allowed(Permission.ARTICLE_CONFIRM))],
) -> JSONResponse:
    return await _update(state, user, article_id, {"kind": "confirm", **body.model_dump()})


@router.post("/{article_id}/withdraw")
async def withdraw(
    article_id: str,
    body: WithdrawIn,
    state: State,
    user: Annotated[User, Depends(allowed(Permission.ARTICLE_WITHDRAW))],
) -> JSONResponse:
    return await _update(state, user, article_id, {"kind": "withdraw", **body.model_dump()})


@router.post("/{article_id}/publications/{platform}/reconcile")
async def reconcile(
    article_id: str,
    platform: Platform,
    body: ReconcileIn,
    state: State,
    user: Annotated[User, Depends(allowed(Permission.ARTICLE_RECONCILE))],
) -> JSONResponse:
    """Say what happened to a publication that is unconfirmed, or pending on a person (the URL)."""
    command = {"kind": "reconcile", "platform": platform.value, **body.model_dump()}
    return await _update(state, user, article_id, command)
