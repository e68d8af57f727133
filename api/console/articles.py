"""The articles pages: the list, a new article, a revision, one article with its timeline, and the
forms of the review chain (review, confirm, withdraw, reconcile a publication).

Each form calls the API's own endpoint for the signed-in person (calls.act): the permission, the
signed command, the workflow's validators and the refusals are the API's.
"""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from api import articles as api
from api.console.calls import Outcome, act
from api.console.record import difference, last_decided, review_record, timeline, versions
from api.console.web import Form, Signed, Viewer, done, page
from api.paging import Page, decode
from api.state import AppState, app_state
from domain import articles as a
from domain.calendar import calendar_for
from domain.commands import USER_ID
from domain.platforms import Platform
from domain.roles import Permission, Role, require

router = APIRouter(prefix="/console/articles", include_in_schema=False)
State = Annotated[AppState, Depends(app_state)]
PAGE_SIZE = 50


def local_instant(value: str, state: AppState) -> str | None:
    """A `datetime-local` field (no zone: the person typed Beijing time) as RFC 3339; empty: None.
    What is not a time at all goes on as typed, for the API's model to refuse naming the field."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=state.settings.policy.zone)
    return moment.isoformat()


def content_values(form: FormData, state: AppState) -> dict[str, Any]:
    """The article's fields from the form, as the API's body takes them."""
    return {
        "title": form.get("title", ""),
        "body": form.get("body", ""),
        "category": form.get("category", ""),
        "involves_company_project": form.get("involves_company_project") == "on",
        "platforms": form.getlist("platforms"),
        "publish_at": local_instant(str(form.get("publish_at") or ""), state),
        "source": form.get("source", ""),
        "editor": form.get("editor", ""),
    }


def _as_typed(form: FormData) -> dict[str, Any]:
    """The fields a refused form shows again as the person typed them (a `datetime-local` field
    shows nothing for an RFC 3339 value: the schedule would be lost, and the post go out at once)."""
    return {"platforms": form.getlist("platforms"), "publish_at": form.get("publish_at", "")}


def _links(form: FormData) -> dict[str, str]:
    return {k: str(form[k]) for k in ("promotion_id", "writeup_id", "column_id") if form.get(k)}


@router.get("")
async def listed(
    request: Request,
    state: State,
    who: Signed,
    status: Annotated[a.Status | None, Query()] = None,
    author: Annotated[str | None, Query(max_length=64, pattern=f"{USER_ID}|^$")] = None,
    platform: Annotated[Platform | None, Query()] = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> Response:
    require(who.roles, Permission.ARTICLE_READ)
    after = decode(cursor) if cursor else None
    where = api.ArticleFilter(status=status, author=author or None, platform=platform)
    found, next_cursor = await api.article_page(state, where, Page(PAGE_SIZE, after))
    return page(
        request, state, "articles.html", who,
        articles=found, next_cursor=next_cursor, status=status, author=author or "", platform=platform,
        platforms=list(Platform),
    )  # fmt: skip


def _form_page(
    request: Request, state: AppState, who: Viewer, values: dict[str, Any], outcome: Outcome | None,
    article: a.Article | None = None,
) -> Response:  # fmt: skip
    accounts = sorted({acct.platform.value for acct in state.accounts.all()})
    return page(
        request, state, "article_form.html", who, 422 if outcome else 200,
        values=values, outcome=outcome, article=article,
        platforms=[p for p in Platform if p.value in accounts],
    )  # fmt: skip


@router.get("/new")
async def new(request: Request, state: State, who: Signed) -> Response:
    values = {"platforms": [], "category": "company_news", **request.query_params}
    return _form_page(request, state, who, values, None)


@router.post("")
async def submit(request: Request, state: State, who: Signed, form: Form) -> Response:
    values = {**content_values(form, state), **_links(form)}
    outcome = await act(who.user, api.submit, (api.ArticleIn, values), state=state)
    if not outcome.ok:
        # a submission whose checks failed is an article all the same: show it with what they said
        made = outcome.body.get("article") if isinstance(outcome.body, dict) else None
        if made:
            return done(
                state, f"/console/articles/{made['id']}", "已提交，但内容检查未通过：" + outcome.detail
            )
        return _form_page(request, state, who, {**values, **_as_typed(form)}, outcome)
    key = outcome.body["id"]
    return done(state, f"/console/articles/{key}", "已提交，内容检查通过，等待审核。")


def approval_clock(state: AppState, requested_at: datetime) -> list[tuple[str, datetime]]:
    """When a pending approval reminds and escalates (P-APPROVAL-REMIND), as the workflow waits."""
    policy = state.settings.policy
    calendar = calendar_for(policy)
    hours = policy.working_hours
    words = {a.Remind: "提醒", a.Escalate: "升级"}
    return [
        (words[step], calendar.add_working_hours(requested_at, after, hours.start, hours.end, policy.zone))
        for step, after in a.approval_steps(policy)
    ]


async def review_view(state: AppState, who: Viewer, article: a.Article) -> dict[str, Any]:
    """What a reviewer needs of an article: its content, and the change since the version they
    last decided on (None: they have not seen it before)."""
    entries = await review_record(state, api.workflow_id(article.id))
    contents = versions(entries)
    seen = last_decided(entries, who.user.id)
    changes = None
    if seen is not None and seen != article.version and seen in contents and article.content:
        changes = difference(contents[seen], article.content)
    requested = [
        e.at for e in entries if e.type == "article.review_requested" and e.data["version"] == article.version
    ]
    return {
        "seen": seen,
        "changes": changes,
        "clock": approval_clock(state, requested[-1]) if requested else [],
        "requested_at": requested[-1] if requested else None,
    }


def _may_decide(who: Viewer, article: a.Article) -> dict[str, bool]:
    waiting = article.waiting_on
    open_ = article.closed is None and article.status not in (a.Status.PUBLISHED, a.Status.PUBLISHING)
    own = article.author == who.user.id
    return {
        "review": waiting is Role.OPERATIONS_MANAGER and who.may("article.review"),
        "confirm": waiting is Role.GENERAL_MANAGER and who.may("article.confirm"),
        "revise": open_ and who.may("article.revise") and (own or who.may("article.change_others")),
        "withdraw": open_ and who.may("article.withdraw") and (own or who.may("article.change_others")),
        "reconcile": who.may("article.reconcile"),
    }


async def _read(state: AppState, who: Viewer, article_id: str) -> tuple[Outcome, a.Article | None]:
    """The article as the API shows it to `who` (its permission, its workflow's answer), and its
    whole state (the page shows more than the API's JSON: its content); None when refused."""
    outcome = await act(who.user, api.get_article, article_id=article_id, state=state)
    if not outcome.ok:
        return outcome, None
    stored = await (await state.database()).fetchval("SELECT state FROM articles WHERE id = $1", article_id)
    if stored is not None and stored["version"] >= outcome.body["version"]:
        return outcome, a.Article.model_validate(stored)
    return outcome, await api.current_article(state, article_id)  # the read model is behind


@router.get("/{article_id}")
async def one(article_id: str, request: Request, state: State, who: Signed) -> Response:
    outcome, article = await _read(state, who, article_id)
    if article is None:
        return page(request, state, "refused.html", who, outcome.status, outcome=outcome)
    entries = await timeline(state, api.workflow_id(article_id))
    return page(
        request, state, "article.html", who,
        article=article, json=outcome.body, entries=entries, may=_may_decide(who, article),
        review=await review_view(state, who, article),
        workflow_id=api.workflow_id(article_id),
    )  # fmt: skip


@router.get("/{article_id}/publications")
async def publications(article_id: str, request: Request, state: State, who: Signed) -> Response:
    """The platforms' states alone: the article page refreshes them while a publication runs."""
    outcome, article = await _read(state, who, article_id)
    if article is None:
        return page(request, state, "refused.html", who, outcome.status, outcome=outcome)
    return page(request, state, "_publications.html", who, json=outcome.body, may=_may_decide(who, article))


@router.get("/{article_id}/revise")
async def revise_form(article_id: str, request: Request, state: State, who: Signed) -> Response:
    outcome, article = await _read(state, who, article_id)
    if article is None:
        return page(request, state, "refused.html", who, outcome.status, outcome=outcome)
    if article.content is None:
        return done(state, f"/console/articles/{article_id}", "这篇文章还没有内容。")
    values = article.content.model_dump(mode="json")
    values["platforms"] = [p.value for p in article.content.platforms]
    if article.content.publish_at:
        values["publish_at"] = article.content.publish_at.astimezone(state.settings.policy.zone).strftime(
            "%Y-%m-%dT%H:%M"
        )
    return _form_page(request, state, who, values, None, article)


def _back(state: AppState, article_id: str, outcome: Outcome, success: str) -> Response:
    return done(state, f"/console/articles/{article_id}", success if outcome.ok else outcome.words)


@router.post("/{article_id}/revisions")
async def revise(article_id: str, request: Request, state: State, who: Signed, form: Form) -> Response:
    values = {"version": form.get("version"), **content_values(form, state)}
    outcome = await act(who.user, api.revise, (api.RevisionIn, values), article_id=article_id, state=state)
    if (
        not outcome.ok
        and outcome.status == 422
        and not (isinstance(outcome.body, dict) and "article" in outcome.body)
    ):
        _, article = await _read(state, who, article_id)
        return _form_page(request, state, who, {**values, **_as_typed(form)}, outcome, article)
    return _back(state, article_id, outcome, "已修改，新版本需要重新审核。")


@router.post("/{article_id}/review")
async def review(article_id: str, state: State, who: Signed, form: Form) -> Response:
    values = {k: form.get(k) for k in ("decision", "version")} | {"comment": form.get("comment", "")}
    outcome = await act(who.user, api.review, (api.ReviewIn, values), article_id=article_id, state=state)
    words = {"approve": "已批准。", "request_changes": "已要求修改。", "reject": "已驳回。"}
    return _back(state, article_id, outcome, words.get(str(values["decision"]), "已处理。"))


@router.post("/{article_id}/confirm")
async def confirm(article_id: str, state: State, who: Signed, form: Form) -> Response:
    values = {"version": form.get("version"), "comment": form.get("comment", "")}
    outcome = await act(who.user, api.confirm, (api.ConfirmIn, values), article_id=article_id, state=state)
    return _back(state, article_id, outcome, "总经理已确认。")


@router.post("/{article_id}/withdraw")
async def withdraw(article_id: str, state: State, who: Signed, form: Form) -> Response:
    values = {"reason": form.get("reason", "")}
    outcome = await act(who.user, api.withdraw, (api.WithdrawIn, values), article_id=article_id, state=state)
    return _back(state, article_id, outcome, "已撤回。")


@router.post("/{article_id}/publications/{platform}/reconcile")
async def reconcile(article_id: str, platform: Platform, state: State, who: Signed, form: Form) -> Response:
    if form.get("not_published") == "on":
        values: dict[str, Any] = {"not_published": True}
    else:
        values = {"url": form.get("url") or None}
    outcome = await act(
        who.user,
        api.reconcile,
        (api.ReconcileIn, values),
        article_id=article_id,
        platform=platform,
        state=state,
    )
    return _back(state, article_id, outcome, f"{platform.value} 的发布结果已登记。")
