"""A fake WeChat official-account API (and server-URL pusher), stateful and faithful enough to test
the adapter and to run the system offline. Behaviour follows docs/reference/platforms.md.

Its figures (the official account's datacube, the mini program's visit trends) are made up from
each day's date, so they are the same every time they are asked, until `/__fake__/figures` shifts
them all."""

import asyncio
import secrets
import time
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse, Response

from activities.platforms.wechat_crypto import WeChatCipher, signature, to_xml
from deploy.fakes.shared import TINY_JPEG, Common, Follower, after, before, common_routes, figures_route

REPLY_WINDOW_S = 48 * 3600
REPLIES_PER_MESSAGE = 5
DATACUBE_DAYS = {"getusersummary": 7, "getusercumulate": 7, "getarticlesummary": 1}
"""How many days one call of each official-account API may span: a longer span is errcode 61501."""
USER_SOURCES = (0, 30)
"""getusersummary answers a row per source of new followers (0: search, 30: a QR code)."""
DISTINCT_VISITORS = {"daily": 1.0, "weekly": 0.6, "monthly": 0.4}
"""The share of the days' visitors a visit trend counts once: more of them come back over a month."""


@dataclass
class FakeApp:
    appid: str
    original_id: str
    """What WeChat puts in ToUserName of every push (`gh_...`); the appid is never there."""
    secret: str
    token: str
    aes_key: str | None
    callback_url: str | None


class WeChatState(Common):
    """Saved: tokens (a client's token outlives a restart, as on WeChat), uploads, drafts, publish
    jobs, followers, comments and pushes. Not saved: the apps (from the accounts), the token
    lifetime and the publish delay (how the fake behaves, not what it remembers), the pusher."""

    apps: dict[str, FakeApp] = Field(default_factory=dict, exclude=True)
    token_ttl_s: int = Field(default=7200, exclude=True)
    publish_delay_s: float = Field(default=0.0, exclude=True)
    tokens: dict[str, tuple[str, float]] = Field(default_factory=dict)
    current: dict[str, str] = Field(default_factory=dict)
    images: list[str] = Field(default_factory=list)
    materials: dict[str, str] = Field(default_factory=dict)
    drafts: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)
    jobs: dict[str, dict[str, Any]] = Field(default_factory=dict)
    followers: dict[str, dict[str, Follower]] = Field(default_factory=dict)
    """appid -> openid -> who wrote to that account."""
    comments: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)
    pusher: httpx.AsyncClient | None = Field(default=None, exclude=True, repr=False)
    pushes: list[dict[str, Any]] = Field(default_factory=list)


def _err(code: int, message: str) -> JSONResponse:
    return JSONResponse({"errcode": code, "errmsg": message})


def days(begin: date, end: date) -> list[date]:
    return [begin + timedelta(days=n) for n in range((end - begin).days + 1)]


def datacube_rows(name: str, day: date, shift: int) -> list[dict[str, Any]]:
    """One day's rows of an official-account datacube API: from the date, plus `shift`."""
    seed, ref = day.toordinal(), day.isoformat()
    if name == "getusersummary":
        return [
            {
                "ref_date": ref,
                "user_source": source,
                "new_user": (seed + source) % 50 + shift,
                "cancel_user": (seed + source) % 7 + shift,
            }
            for source in USER_SOURCES
        ]
    if name == "getusercumulate":
        return [{"ref_date": ref, "cumulate_user": 10_000 + seed % 1000 + shift}]
    return [
        {
            "ref_date": ref,
            "msgid": f"{seed}_1",
            "title": f"{ref} 推送",
            "int_page_read_user": seed % 300 + shift,
            "int_page_read_count": seed % 400 + shift,
            "share_user": seed % 30 + shift,
            "share_count": seed % 40 + shift,
            "add_to_fav_user": seed % 20 + shift,
            "add_to_fav_count": seed % 25 + shift,
        }
    ]


def yyyymmdd(text: str) -> date:
    if len(text) != 8 or not text.isdigit():
        raise ValueError(f"{text!r} is not yyyymmdd")
    return date(int(text[:4]), int(text[4:6]), int(text[6:8]))


def last_of_month(day: date) -> date:
    following = day.replace(day=28) + timedelta(days=4)
    return following - timedelta(days=following.day)


VISIT_TRENDS = {f"getweanalysisappid{kind}visittrend": kind for kind in DISTINCT_VISITORS}
"""The mini program's visit trends, by API name."""


def accepts(kind: str, begin: date, end: date) -> bool:
    """The spans a visit trend takes: one day; Monday to Sunday; the 1st to the month's last day."""
    if kind == "daily":
        return begin == end
    if kind == "weekly":
        return begin.weekday() == 0 and end == begin + timedelta(days=6)
    return begin.day == 1 and end == last_of_month(begin)


def ref_date(kind: str, begin: date, end: date) -> str:
    """How a visit trend names its span: yyyymmdd, yyyymmdd-yyyymmdd or yyyymm."""
    if kind == "daily":
        return f"{begin:%Y%m%d}"
    if kind == "weekly":
        return f"{begin:%Y%m%d}-{end:%Y%m%d}"
    return f"{begin:%Y%m}"


def visit_trend(kind: str, begin: date, end: date, shift: int) -> dict[str, Any]:
    """A visit trend's row for the span: visits add up over its days, visitors partly repeat."""
    seeds = [day.toordinal() for day in days(begin, end)]
    distinct = DISTINCT_VISITORS[kind]
    return {
        "ref_date": ref_date(kind, begin, end),
        "session_cnt": sum(300 + s % 200 for s in seeds) + shift,
        "visit_pv": sum(500 + s % 400 for s in seeds) + shift,
        "visit_uv": int(sum(100 + s % 150 for s in seeds) * distinct) + shift,
        "visit_uv_new": sum(10 + s % 40 for s in seeds) + shift,
        "stay_time_uv": 60.0 + seeds[0] % 90,
        "stay_time_session": 30.0 + seeds[0] % 45,
        "visit_depth": 1.5 + seeds[0] % 10 / 10,
    }


def figures(name: str, begin_date: str, end_date: str, shift: int) -> JSONResponse:
    """A datacube API's answer: the official account's (YYYY-MM-DD dates, a row per day) or a mini
    program visit trend (yyyymmdd dates, one row for the span)."""
    kind = VISIT_TRENDS.get(name)
    try:
        begin, end = (yyyymmdd(d) if kind else date.fromisoformat(d) for d in (begin_date, end_date))
    except ValueError:
        return _err(61500, "date format error")
    if kind is not None:
        if not accepts(kind, begin, end):
            return _err(61501, "date range error")
        return JSONResponse({"list": [visit_trend(kind, begin, end, shift)]})
    if name not in DATACUBE_DAYS:
        return _err(40001, "unknown datacube api")
    if not 0 <= (end - begin).days < DATACUBE_DAYS[name]:
        return _err(61501, "date range error")
    return JSONResponse(
        {"list": [row for day in days(begin, end) for row in datacube_rows(name, day, shift)]}
    )


def signed(app: FakeApp, plain_xml: str) -> tuple[dict[str, str], str]:
    """The query string and body WeChat sends to a server URL: plain, or safe mode with a key."""
    timestamp, nonce = str(int(time.time())), secrets.token_hex(5)
    query = {"signature": signature(app.token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce}
    if app.aes_key is None:
        return query, plain_xml
    encrypted = WeChatCipher([app.aes_key], app.appid).encrypt(plain_xml.encode())
    query.update(encrypt_type="aes", msg_signature=signature(app.token, timestamp, nonce, encrypted))
    return query, to_xml({"ToUserName": app.original_id, "Encrypt": encrypted})


async def deliver(state: "WeChatState", app: FakeApp, plain_xml: str) -> dict[str, Any]:
    """Push to the app's server URL as WeChat does: up to 3 tries, 5 s each.

    One client for every push: a new one per push would spend its time loading CA certificates,
    which is the fake's cost, not the system's.
    """
    if not app.callback_url:
        return {"delivered": False, "reason": "no callback_url configured"}
    if state.pusher is None:
        state.pusher = httpx.AsyncClient(timeout=5)
    query, body = signed(app, plain_xml)
    last: dict[str, Any] = {"delivered": False}
    for attempt in range(1, 4):
        try:
            response = await state.pusher.post(app.callback_url, params=query, content=body.encode())
        except httpx.HTTPError as exc:
            last = {"delivered": False, "attempt": attempt, "reason": type(exc).__name__}
            continue
        return {
            "delivered": True,
            "attempt": attempt,
            "status": response.status_code,
            "body": response.text,
        }
    return last


async def _upload(request: Request) -> bytes | None:
    form = await request.form()
    media = form.get("media")
    return await media.read() if media is not None and not isinstance(media, str) else None


class UserMessage(BaseModel):
    appid: str
    openid: str
    text: str
    msg_id: str | None = None
    deliver: bool = True
    """False: only note that the user wrote (their reply window opens), for a message that reaches
    the server URL another way (`mediaops dev wechat-message` posts it itself)."""


class UserComment(BaseModel):
    msg_data_id: str
    index: int = 0
    openid: str
    text: str


def router(state: WeChatState) -> APIRouter:
    api = APIRouter()
    common_routes(
        api,
        state,
        lambda: {
            "images": state.images,
            "drafts": [a["content"] for articles in state.drafts.values() for a in articles],
            "jobs": {
                k: {"ready": state.now() >= v["ready_at"], "pushed": v["pushed"]}
                for k, v in state.jobs.items()
            },
            "pushes": state.pushes,
            "materials": list(state.materials),
        },
    )
    figures_route(api, state)

    async def guarded(request: Request, handler: Any) -> Response:
        fault = state.arrived(request.url.path, request.method)
        forced = await before(fault, url=str(request.url))
        if forced is not None:
            return forced
        if request.url.path.endswith("/stable_token"):
            return await after(fault, await handler(None))
        token = request.query_params.get("access_token", "")
        known = state.tokens.get(token)
        if known is None:
            return _err(40001, "invalid credential, access_token is invalid or not latest")
        if known[1] < state.now():
            return _err(42001, "access_token expired")
        return await after(fault, await handler(known[0]))

    @api.post("/cgi-bin/stable_token")
    async def stable_token(request: Request) -> Response:
        body = await request.json()

        async def handle(_: Any) -> Response:
            app = state.apps.get(body.get("appid", ""))
            if app is None:
                return _err(40013, "invalid appid")
            if body.get("secret") != app.secret:
                return _err(40125, "invalid appsecret")
            token = state.current.get(app.appid)
            valid = token is not None and state.tokens[token][1] > state.now()
            if body.get("force_refresh") or not valid:
                token = "fake_" + secrets.token_urlsafe(24)
                state.tokens[token] = (app.appid, state.now() + state.token_ttl_s)
                state.current[app.appid] = token
                state.save()
            assert token is not None  # noqa: S101
            remaining = int(state.tokens[token][1] - state.now())
            return JSONResponse({"access_token": token, "expires_in": remaining})

        return await guarded(request, handle)

    @api.post("/cgi-bin/media/uploadimg")
    async def uploadimg(request: Request) -> Response:
        async def handle(_: str) -> Response:
            data = await _upload(request)
            if not data:
                return _err(41005, "media data missing")
            if len(data) > 1_000_000:
                return _err(40009, "invalid image size")
            if not (data[:3] == b"\xff\xd8\xff" or data[:8] == b"\x89PNG\r\n\x1a\n"):
                return _err(40113, "unsupported file type")
            url = f"http://mmbiz.qpic.cn/mmbiz_jpg/fake{state.next_id()!s}/0"
            state.images.append(url)
            state.save()
            return JSONResponse({"url": url})

        return await guarded(request, handle)

    @api.post("/cgi-bin/material/add_material")
    async def add_material(request: Request) -> Response:
        async def handle(_: str) -> Response:
            if not await _upload(request):
                return _err(41005, "media data missing")
            media_id = f"thumb_{state.next_id()!s}"
            state.materials[media_id] = request.query_params.get("type", "image")
            state.save()
            return JSONResponse({"media_id": media_id, "url": f"http://mmbiz.qpic.cn/thumb/{media_id}"})

        return await guarded(request, handle)

    @api.post("/cgi-bin/material/del_material")
    async def del_material(request: Request) -> Response:
        body = await request.json()

        async def handle(_: str) -> Response:
            if state.materials.pop(str(body.get("media_id")), None) is None:
                return _err(40007, "invalid media_id")
            state.save()
            return JSONResponse({"errcode": 0, "errmsg": "ok"})

        return await guarded(request, handle)

    @api.post("/cgi-bin/draft/add")
    async def draft_add(request: Request) -> Response:
        body = await request.json()

        async def handle(_: str) -> Response:
            articles = body.get("articles") or []
            for article in articles:
                if len(article.get("title", "")) > 32:
                    return _err(45003, "title size out of limit")
                if len(article.get("content", "")) >= 20_000:
                    return _err(45002, "content size out of limit")
                if article.get("thumb_media_id") not in state.materials:
                    return _err(40007, "invalid media_id")
            media_id = f"draft_{state.next_id()!s}"
            state.drafts[media_id] = articles
            state.save()
            return JSONResponse({"media_id": media_id})

        return await guarded(request, handle)

    @api.post("/cgi-bin/freepublish/submit")
    async def submit(request: Request) -> Response:
        body = await request.json()

        async def handle(appid: str) -> Response:
            media_id = body.get("media_id")
            if media_id not in state.drafts:
                return _err(40007, "invalid media_id")
            publish_id, msg_data_id = str(state.next_id()), str(state.next_id())
            job = {
                "appid": appid,
                "media_id": media_id,
                "msg_data_id": msg_data_id,
                "article_id": f"article_{publish_id}",
                "url": f"https://mp.weixin.qq.com/s/fake_{publish_id}",
                "ready_at": state.now() + state.publish_delay_s,
                "pushed": False,
            }
            state.jobs[publish_id] = job
            state.published.append(
                {"publish_id": publish_id, "title": state.drafts[media_id][0].get("title")}
            )
            state.comments.setdefault(msg_data_id, [])
            state.save()
            asyncio.get_running_loop().create_task(_finish_later(publish_id))
            return JSONResponse(
                {"errcode": 0, "errmsg": "ok", "publish_id": publish_id, "msg_data_id": msg_data_id}
            )

        return await guarded(request, handle)

    async def _finish_later(publish_id: str) -> None:
        """When the job is done, push PUBLISHJOBFINISH to the server URL (which may be lost)."""
        job = state.jobs[publish_id]
        await asyncio.sleep(max(0.0, job["ready_at"] - state.now()))
        app = state.apps[job["appid"]]
        header = to_xml(
            {
                "ToUserName": app.original_id,
                "FromUserName": "mphelper",
                "CreateTime": int(state.now()),
                "MsgType": "event",
                "Event": "PUBLISHJOBFINISH",
            }
        ).removesuffix("</xml>")
        info = (
            f"<PublishEventInfo><publish_id>{publish_id}</publish_id><publish_status>0</publish_status>"
            f"<article_id>{job['article_id']}</article_id><article_detail><count>1</count>"
            f"<item><idx>1</idx><article_url><![CDATA[{job['url']}]]></article_url></item></article_detail>"
            "</PublishEventInfo>"
        )
        result = await deliver(state, app, header + info + "</xml>")
        state.pushes.append({"event": "PUBLISHJOBFINISH", "publish_id": publish_id, **result})
        job["pushed"] = True
        state.save()

    @api.post("/cgi-bin/freepublish/get")
    async def freepublish_get(request: Request) -> Response:
        body = await request.json()

        async def handle(_: str) -> Response:
            job = state.jobs.get(str(body.get("publish_id")))
            if job is None:
                return _err(40007, "invalid publish_id")
            if state.now() < job["ready_at"]:
                return JSONResponse({"publish_id": body["publish_id"], "publish_status": 1})
            return JSONResponse(
                {
                    "publish_id": body["publish_id"],
                    "publish_status": 0,
                    "article_id": job["article_id"],
                    "article_detail": {"count": 1, "item": [{"idx": 1, "article_url": job["url"]}]},
                    "fail_idx": [],
                }
            )

        return await guarded(request, handle)

    @api.post("/cgi-bin/message/custom/send")
    async def custom_send(request: Request) -> Response:
        body = await request.json()

        async def handle(appid: str) -> Response:
            user = str(body.get("touser", ""))
            follower = state.followers.get(appid, {}).get(user)
            if follower is None or state.now() - follower.last_wrote > REPLY_WINDOW_S:
                return _err(45015, "response out of time limit or subscription is canceled")
            if follower.replies >= REPLIES_PER_MESSAGE:
                return _err(45047, "out of response count limit")
            follower.replies += 1
            state.messages_sent.append({"touser": user, "text": body.get("text", {}).get("content", "")})
            state.save()
            return JSONResponse({"errcode": 0, "errmsg": "ok"})

        return await guarded(request, handle)

    @api.post("/cgi-bin/comment/list")
    async def comment_list(request: Request) -> Response:
        body = await request.json()

        async def handle(_: str) -> Response:
            comments = state.comments.get(str(body.get("msg_data_id")))
            if comments is None:
                return _err(88000, "without comment privilege")
            begin, count = int(body.get("begin", 0)), int(body.get("count", 0))
            if count >= 50:
                return _err(40097, "invalid args: count must be below 50")
            return JSONResponse(
                {"errcode": 0, "total": len(comments), "comment": comments[begin : begin + count]}
            )

        return await guarded(request, handle)

    @api.post("/cgi-bin/comment/reply/add")
    async def comment_reply(request: Request) -> Response:
        body = await request.json()

        async def handle(_: str) -> Response:
            for comment in state.comments.get(str(body.get("msg_data_id")), []):
                if comment["user_comment_id"] == body.get("user_comment_id"):
                    comment["reply"] = {"content": body.get("content"), "create_time": int(state.now())}
                    state.messages_sent.append(
                        {"comment": comment["user_comment_id"], "text": body.get("content")}
                    )
                    state.save()
                    return JSONResponse({"errcode": 0, "errmsg": "ok"})
            return _err(88001, "comment not found")

        return await guarded(request, handle)

    @api.post("/datacube/{name}")
    async def datacube(name: str, request: Request) -> Response:
        body = await request.json()

        async def handle(_: str) -> Response:
            return figures(name, str(body.get("begin_date")), str(body.get("end_date")), state.figures_shift)

        return await guarded(request, handle)

    @api.post("/tcb/databaseadd")
    async def databaseadd(request: Request) -> Response:
        """The mini program's CloudBase database: where its sections read their records."""
        body = await request.json()

        async def handle(_: str) -> Response:
            record_id = f"rec_{state.next_id()!s}"
            state.published.append(
                {"id": record_id, "env": body.get("env"), "query": body.get("query", "")[:200]}
            )
            state.save()
            return JSONResponse({"errcode": 0, "errmsg": "ok", "id_list": [record_id]})

        return await guarded(request, handle)

    @api.post("/__fake__/expire-tokens")
    async def expire_tokens() -> dict[str, Any]:
        for token, (appid, _) in list(state.tokens.items()):
            state.tokens[token] = (appid, state.now() - 1)
        state.save()
        return {"expired": len(state.tokens)}

    @api.post("/__fake__/publish-delay")
    async def publish_delay(seconds: float) -> dict[str, Any]:
        """How long publishing jobs take from now on (freepublish/get says 1 until then)."""
        state.publish_delay_s = seconds
        return {"publish_delay_s": seconds}

    @api.post("/__fake__/user-message")
    async def user_message(message: UserMessage) -> dict[str, Any]:
        """A follower writes to the account: recorded, then pushed to the server URL, signed."""
        app = state.apps.get(message.appid)
        if app is None:
            return {"delivered": False, "reason": f"unknown appid {message.appid}"}
        state.followers.setdefault(app.appid, {})[message.openid] = Follower(last_wrote=state.now())
        if not message.deliver:
            state.save()
            return {"recorded": True, "delivered": False}
        fields: dict[str, str | int] = {
            "ToUserName": app.original_id,
            "FromUserName": message.openid,
            "CreateTime": int(state.now()),
            "MsgType": "text",
            "Content": message.text,
            "MsgId": int(message.msg_id or state.next_id()),
        }
        state.save()
        return await deliver(state, app, to_xml(fields))

    @api.post("/__fake__/comment")
    async def user_comment(comment: UserComment) -> dict[str, Any]:
        comments = state.comments.setdefault(comment.msg_data_id, [])
        entry = {
            "user_comment_id": state.next_id(),
            "openid": comment.openid,
            "create_time": int(state.now()),
            "content": comment.text,
            "comment_type": 0,
        }
        comments.append(entry)
        state.save()
        return entry

    return api


def assets() -> APIRouter:
    api = APIRouter()

    @api.get("/{name}.jpg")
    async def jpeg(name: str) -> Response:
        return Response(TINY_JPEG, media_type="image/jpeg")

    return api
