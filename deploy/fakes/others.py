"""Fake WordPress (website), Weibo, Baijiahao and the manual platforms' (empty) state.

The figures they serve (the site's posts per period, Weibo's follower and status counts) are made
up from the date, so they are the same every time they are asked, until `/__fake__/figures` shifts
them all."""

import base64
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse, Response

from deploy.fakes.shared import Common, Follower, after, before, common_routes, figures_route
from domain.counting import weibo_units

BEIJING = ZoneInfo("Asia/Shanghai")

# --- WordPress -------------------------------------------------------------------------------


class WordPressState(Common):
    users: dict[str, str] = Field(default_factory=dict, exclude=True)
    """user -> application password, from the accounts."""
    posts: list[dict[str, Any]] = Field(default_factory=list)
    comments: list[dict[str, Any]] = Field(default_factory=list)


def _instant(text: str) -> datetime:
    """An ISO 8601 `after`/`before`: with its offset, else in the site's time zone (as WordPress)."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=BEIJING)


def _within(post: dict[str, Any], first: datetime | None, last: datetime | None) -> bool:
    """Whether the post was published inside the window (one saved without a date: only when the
    window is unbounded)."""
    if "date_gmt" not in post:
        return first is None and last is None
    posted = datetime.fromisoformat(post["date_gmt"]).replace(tzinfo=UTC)
    return (first is None or posted > first) and (last is None or posted < last)


def archive(first: datetime, last: datetime) -> Iterator[dict[str, Any]]:
    """The site's older posts between two instants: from 0 to 2 a day at 10:00 Beijing time, by the
    date. Only a window bounded both ways shows them (an unbounded one would be endless)."""
    day = first.astimezone(BEIJING).date()
    while day <= last.astimezone(BEIJING).date():
        for n in range(day.toordinal() % 3):
            post_id = day.toordinal() * 10 + n
            posted = datetime.combine(day, time(10), BEIJING) + timedelta(minutes=n)
            yield {
                "id": post_id,
                "slug": f"archive-{day.isoformat()}-{n}",
                "status": "publish",
                "date_gmt": posted.astimezone(UTC).replace(tzinfo=None).isoformat(),
                "title": {"rendered": f"{day.isoformat()} 新闻 {n + 1}"},
                "link": f"https://www.example.com/?p={post_id}",
            }
        day += timedelta(days=1)


def listed(state: WordPressState, query: dict[str, str]) -> list[dict[str, Any]]:
    """The posts a list query matches: its slug, its status (publish by default) and its window
    (`after` and `before` exclusive, as WordPress's)."""
    slug, status = query.get("slug"), query.get("status", "publish")
    first = _instant(query["after"]) if "after" in query else None
    last = _instant(query["before"]) if "before" in query else None
    posts = [*state.posts, *(archive(first, last) if first and last else [])]
    return [
        p
        for p in posts
        if (slug is None or p["slug"] == slug) and status in ("any", p["status"]) and _within(p, first, last)
    ]


def wordpress(state: WordPressState) -> APIRouter:
    api = APIRouter()
    common_routes(api, state, lambda: {"comments": state.comments})
    figures_route(api, state)

    def authorised(request: Request) -> bool:
        header = request.headers.get("authorization", "")
        if not header.startswith("Basic "):
            return False
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return state.users.get(user) == password

    async def guarded(request: Request, handler: Any) -> Response:
        fault = state.arrived(request.url.path, request.method)
        forced = await before(
            fault, {"code": "injected", "message": "injected fault", "data": {"status": 500}}
        )
        if forced is not None:
            return forced
        if not authorised(request):
            return JSONResponse({"code": "rest_not_logged_in", "message": "not logged in"}, status_code=401)
        return await after(fault, await handler())

    @api.get("/wp-json/wp/v2/posts")
    async def list_posts(request: Request) -> Response:
        async def handle() -> Response:
            query = dict(request.query_params)
            matching = listed(state, query)
            size, page = int(query.get("per_page", 10)), int(query.get("page", 1))
            total = len(matching) + (state.figures_shift if "after" in query and "before" in query else 0)
            return JSONResponse(
                matching[(page - 1) * size : page * size],
                headers={"X-WP-Total": str(total), "X-WP-TotalPages": str(-(-total // size))},
            )

        return await guarded(request, handle)

    @api.post("/wp-json/wp/v2/posts")
    async def create_post(request: Request) -> Response:
        body = await request.json()

        async def handle() -> Response:
            post_id = state.next_id()
            post = {
                "id": post_id,
                "slug": body.get("slug") or f"post-{post_id}",
                "status": body.get("status", "draft"),
                "title": {"rendered": body.get("title", "")},
                "content": {"rendered": body.get("content", "")},
                "date_gmt": datetime.fromtimestamp(state.now(), UTC)
                .replace(tzinfo=None)
                .isoformat("T", "seconds"),
                "link": f"https://www.example.com/?p={post_id}",
            }
            state.posts.append(post)
            if post["status"] == "publish":
                state.published.append({"id": post_id, "title": body.get("title")})
            state.save()
            return JSONResponse(post, status_code=201)

        return await guarded(request, handle)

    @api.get("/wp-json/wp/v2/posts/{post_id}")
    async def get_post(post_id: int, request: Request) -> Response:
        async def handle() -> Response:
            for post in state.posts:
                if post["id"] == post_id:
                    return JSONResponse(post)
            return JSONResponse(
                {"code": "rest_post_invalid_id", "message": "Invalid post ID."}, status_code=404
            )

        return await guarded(request, handle)

    @api.get("/wp-json/wp/v2/comments")
    async def list_comments(request: Request) -> Response:
        async def handle() -> Response:
            after_iso = request.query_params.get("after")
            since = datetime.fromisoformat(after_iso) if after_iso else datetime.min.replace(tzinfo=UTC)
            return JSONResponse(
                [c for c in state.comments if datetime.fromisoformat(c["date_gmt"] + "+00:00") > since]
            )

        return await guarded(request, handle)

    @api.post("/wp-json/wp/v2/comments")
    async def create_comment(request: Request) -> Response:
        body = await request.json()

        async def handle() -> Response:
            comment = {
                "id": state.next_id(),
                "post": body.get("post"),
                "parent": body.get("parent", 0),
                "author_name": "MediaOps",
                "content": {"rendered": body.get("content", "")},
                "date_gmt": datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="seconds"),
            }
            state.messages_sent.append({"parent": comment["parent"], "text": body.get("content")})
            state.save()
            return JSONResponse(comment, status_code=201)

        return await guarded(request, handle)

    class VisitorComment(BaseModel):
        post: int
        author_name: str
        text: str

    @api.post("/__fake__/comment")
    async def visitor_comment(comment: VisitorComment) -> dict[str, Any]:
        entry = {
            "id": state.next_id(),
            "post": comment.post,
            "parent": 0,
            "author_name": comment.author_name,
            "content": {"rendered": comment.text},
            "date_gmt": datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="seconds"),
        }
        state.comments.append(entry)
        state.save()
        return entry

    return api


# --- Weibo -----------------------------------------------------------------------------------


class WeiboState(Common):
    tokens: dict[str, str] = Field(default_factory=dict, exclude=True)
    """access token -> uid, from the accounts."""
    statuses: dict[str, dict[str, Any]] = Field(default_factory=dict)
    comments: list[dict[str, Any]] = Field(default_factory=list)
    fans: dict[str, dict[str, Follower]] = Field(default_factory=dict)
    """uid -> user -> who wrote to that account."""


def _weibo_error(code: int, message: str, path: str) -> JSONResponse:
    return JSONResponse({"request": path, "error_code": code, "error": message}, status_code=400)


def weibo(state: WeiboState) -> APIRouter:
    api = APIRouter()
    common_routes(api, state)
    figures_route(api, state)

    async def guarded(request: Request, handler: Any) -> Response:
        path = request.url.path
        fault = state.arrived(path, request.method)
        forced = await before(
            fault, {"request": path, "error_code": fault.errcode if fault else 0, "error": "injected"}
        )
        if forced is not None:
            if fault is not None and fault.kind == "errcode":
                forced.status_code = 400
            return forced
        fields = dict(await request.form()) if request.method == "POST" else dict(request.query_params)
        uid = state.tokens.get(str(fields.get("access_token", "")))
        if uid is None:
            return _weibo_error(21332, "expired_token", path)
        return await after(fault, await handler(uid, fields))

    @api.post("/2/statuses/share.json")
    async def share(request: Request) -> Response:
        async def handle(uid: str, fields: dict[str, Any]) -> Response:
            text = str(fields.get("status", ""))
            if weibo_units(text) > 140:
                return _weibo_error(
                    20012, "Text too long, please input text less than 140 characters!", request.url.path
                )
            if "http://" not in text and "https://" not in text:
                return _weibo_error(
                    10017, "the status must contain a link on the app's domain", request.url.path
                )
            if any(s["text"] == text for s in state.statuses.values()):
                return _weibo_error(20019, "repeat content!", request.url.path)
            mid = str(state.next_id())
            state.statuses[mid] = {"idstr": mid, "text": text, "user": {"id": int(uid)}}
            state.published.append({"id": mid, "text": text})
            state.save()
            return JSONResponse(state.statuses[mid])

        return await guarded(request, handle)

    @api.get("/2/statuses/show.json")
    async def show(request: Request) -> Response:
        async def handle(uid: str, fields: dict[str, Any]) -> Response:
            status = state.statuses.get(str(fields.get("id")))
            return (
                JSONResponse(status)
                if status
                else _weibo_error(20101, "target weibo does not exist", request.url.path)
            )

        return await guarded(request, handle)

    @api.get("/2/comments/to_me.json")
    async def to_me(request: Request) -> Response:
        async def handle(uid: str, fields: dict[str, Any]) -> Response:
            return JSONResponse({"comments": state.comments, "total_number": len(state.comments)})

        return await guarded(request, handle)

    @api.post("/2/comments/reply.json")
    async def reply_comment(request: Request) -> Response:
        async def handle(uid: str, fields: dict[str, Any]) -> Response:
            if not any(c["idstr"] == fields.get("cid") for c in state.comments):
                return _weibo_error(20101, "target comment does not exist", request.url.path)
            state.messages_sent.append({"cid": fields.get("cid"), "text": fields.get("comment")})
            reply_id = str(state.next_id())
            state.save()
            return JSONResponse({"idstr": reply_id, "text": fields.get("comment")})

        return await guarded(request, handle)

    @api.post("/2/messages/reply.json")
    async def reply_message(request: Request) -> Response:
        async def handle(uid: str, fields: dict[str, Any]) -> Response:
            user = str(fields.get("receiver_id"))
            fan = state.fans.get(uid, {}).get(user)
            if fan is None or state.now() - fan.last_wrote > 72 * 3600:
                return _weibo_error(26001, "reply time window closed", request.url.path)
            if fan.replies >= 3:
                return _weibo_error(26002, "reply count limit", request.url.path)
            fan.replies += 1
            state.messages_sent.append({"receiver_id": user, "data": fields.get("data")})
            state.save()
            return JSONResponse({"result": True})

        return await guarded(request, handle)

    @api.get("/2/users/show.json")
    async def users_show(request: Request) -> Response:
        async def handle(uid: str, fields: dict[str, Any]) -> Response:
            """The account's counts now: followers by the fake's date, statuses as shared (and the
            account's 300 older ones)."""
            today = datetime.fromtimestamp(state.now(), BEIJING).date()
            return JSONResponse(
                {
                    "id": int(uid),
                    "followers_count": 12_000 + today.toordinal() % 1000 + state.figures_shift,
                    "friends_count": 67,
                    "statuses_count": 300 + len(state.statuses) + state.figures_shift,
                }
            )

        return await guarded(request, handle)

    class FanMessage(BaseModel):
        uid: str
        user: str
        text: str = ""

    @api.post("/__fake__/fan-message")
    async def fan_message(message: FanMessage) -> dict[str, Any]:
        state.fans.setdefault(message.uid, {})[message.user] = Follower(last_wrote=state.now())
        state.save()
        return {"recorded": True}

    class FanComment(BaseModel):
        status_id: str
        user: str
        text: str

    @api.post("/__fake__/comment")
    async def comment(body: FanComment) -> dict[str, Any]:
        entry = {
            "idstr": str(state.next_id()),
            "text": body.text,
            "created_at": datetime.now(UTC).strftime("%a %b %d %H:%M:%S %z %Y"),
            "user": {"id": body.user},
            "status": {"idstr": body.status_id},
        }
        state.comments.append(entry)
        state.save()
        return entry

    return api


# --- Baijiahao -------------------------------------------------------------------------------


class BaijiahaoState(Common):
    apps: dict[str, str] = Field(default_factory=dict, exclude=True)
    """app_id -> app_token, from the accounts."""
    articles: dict[str, dict[str, Any]] = Field(default_factory=dict)
    review_polls: int = Field(default=1, exclude=True)
    """How many status polls an article stays in review: how the fake behaves, not what it remembers."""
    comments: list[dict[str, Any]] = Field(default_factory=list)


COMMENT_PAGE_MAX = 20


def baijiahao(state: BaijiahaoState) -> APIRouter:
    api = APIRouter()
    common_routes(api, state)

    async def guarded(request: Request, handler: Any) -> Response:
        fault = state.arrived(request.url.path, request.method)
        forced = await before(fault, {"errno": fault.errcode if fault else 0, "errmsg": "injected"})
        if forced is not None:
            return forced
        body = await request.json()
        if state.apps.get(str(body.get("app_id"))) != body.get("app_token"):
            return JSONResponse({"errno": 10000003, "errmsg": "app_token invalid"})
        return await after(fault, await handler(body))

    @api.post("/builderinner/open/resource/article/publish")
    async def publish(request: Request) -> Response:
        async def handle(body: dict[str, Any]) -> Response:
            title = str(body.get("title", ""))
            if not 8 <= len(title) <= 40:
                return JSONResponse({"errno": 10000010, "errmsg": "title must have 8 to 40 characters"})
            if len(str(body.get("content", ""))) > 20_000:
                return JSONResponse({"errno": 10000011, "errmsg": "content too long"})
            article_id = str(state.next_id())
            state.articles[article_id] = {"title": title, "polls": 0}
            state.published.append({"article_id": article_id, "title": title})
            state.save()
            return JSONResponse({"errno": 0, "errmsg": "success", "data": {"article_id": article_id}})

        return await guarded(request, handle)

    @api.post("/builderinner/open/resource/article/status")
    async def status(request: Request) -> Response:
        async def handle(body: dict[str, Any]) -> Response:
            article = state.articles.get(str(body.get("article_id")))
            if article is None:
                return JSONResponse({"errno": 10000020, "errmsg": "article not found"})
            article["polls"] += 1
            state.save()
            if article["polls"] <= state.review_polls:
                return JSONResponse({"errno": 0, "data": {"status": "review"}})
            url = f"https://baijiahao.baidu.com/s?id={body['article_id']}"
            return JSONResponse({"errno": 0, "data": {"status": "publish", "url": url}})

        return await guarded(request, handle)

    @api.post("/builderinner/open/resource/comment/list")
    async def comments(request: Request) -> Response:
        """Readers' comments on one article after `start_time`, oldest first, a page at a time."""

        async def handle(body: dict[str, Any]) -> Response:
            article_id = str(body.get("article_id"))
            if article_id not in state.articles:
                return JSONResponse({"errno": 10000020, "errmsg": "article not found"})
            size, page = int(body.get("page_size", 20)), int(body.get("page_no", 1))
            if not 1 <= size <= COMMENT_PAGE_MAX or page < 1:
                return JSONResponse({"errno": 10000012, "errmsg": "page_size must be 1 to 20"})
            since = int(body.get("start_time", 0))
            matching = [
                c for c in state.comments if c["article_id"] == article_id and c["create_time"] >= since
            ]
            chunk = matching[(page - 1) * size : page * size]
            data = {"list": chunk, "has_more": page * size < len(matching)}
            return JSONResponse({"errno": 0, "errmsg": "success", "data": data})

        return await guarded(request, handle)

    class ReaderComment(BaseModel):
        article_id: str
        uid: str
        content: str

    @api.post("/__fake__/comment")
    async def reader_comment(body: ReaderComment) -> dict[str, Any]:
        entry = {
            "reply_id": str(state.next_id()),
            "article_id": body.article_id,
            "uid": body.uid,
            "uname": f"读者{body.uid[-4:]}",
            "content": body.content,
            "create_time": int(state.now()),
        }
        state.comments.append(entry)
        state.save()
        return entry

    return api


def manual(state: Common) -> APIRouter:
    """Platforms published by hand: the fake only keeps the contract's state shape."""
    api = APIRouter()
    common_routes(api, state)
    return api
