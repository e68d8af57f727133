"""WeChat official accounts (and, with its own appid, the mini program's token scheme).

Publishing is draft/add then freepublish/submit, whose errcode 0 only means *accepted*: the result
comes later by the PUBLISHJOBFINISH push or by polling freepublish/get, so a successful submit is a
*pending* outcome with the publish_id as its handle. Images are re-hosted with media/uploadimg and
the cover becomes permanent thumb material, as WeChat strips external images. Every image is
fetched through the guarded fetcher (activities/platforms/images.py), under the account's image
hosts. The cover is the post's first image, else the account's `default_cover` (a URL, or the
media_id of permanent material), so a text-only post publishes too.
"""

import asyncio
import hashlib
import re
import time
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import structlog

from activities.platforms.accounts import Account
from activities.platforms.base import (
    LOCAL_CHECKS,
    Figures,
    Inbound,
    PlatformError,
    Post,
    PublishOutcome,
    ReplyOutcome,
    published,
    reading,
    reply_outcome,
)
from activities.platforms.content import image_sources, rewrite_images, sanitise
from activities.platforms.http import json_body, send
from activities.platforms.images import JPEG, PNG, ImageFetcher, ImageHosts
from domain.counting import length_problems
from domain.metrics import FigureName
from domain.platforms import Platform

log = structlog.get_logger(__name__)
NAME = "WeChat"
"""How errors name the platform (the mini program calls the same API)."""
TOKEN_ERRORS = {40001, 40014, 42001}
RETRY_NOW = {-1, -1000}
SHANGHAI = ZoneInfo("Asia/Shanghai")
TOKEN_MARGIN_S = 300
MAX_IMAGE_BYTES = 1_000_000
IMAGE_FORMATS = (JPEG, PNG)
"""What uploadimg and thumb material take (platforms.md: jpg/png under 1 MB)."""
MEDIA_ID = re.compile(r"[A-Za-z0-9_-]+")
DATACUBE_DAYS = {"getusersummary": 7, "getusercumulate": 7, "getarticlesummary": 1}
"""How many days one call of each datacube API may span (platforms.md)."""
READY_AFTER = timedelta(hours=8)
"""A day's datacube figures are ready after 08:00 Beijing time the day after (platforms.md)."""
Rows = list[dict[str, Any]]

NEEDS_A_PERSON = {
    40013: "the account's appid is invalid",
    40164: "this server's IP address is not on the account's IP whitelist",
    48001: "the account is not authorised for this API (is it verified?)",
    45002: "the content is too long",
    45003: "the title is too long",
    45004: "the description is too long",
    45015: "the 48-hour reply window has closed: answer the user another way",
    45047: "the user has already received the maximum number of replies to this message",
    53503: "the draft did not pass WeChat's checks",
    53504: "the draft needs the account's original-content declaration",
    53505: "the article was not published: it has been deleted or banned",
    88000: "comments are not enabled for this article",
}
PUBLISH_STATUS = {
    2: "the originality check failed",
    3: "publishing failed",
    4: "rejected by WeChat's review",
    5: "deleted by a user",
    6: "banned by WeChat",
}


def until_midnight_shanghai(now: datetime) -> timedelta:
    local = now.astimezone(SHANGHAI)
    midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), SHANGHAI)
    return midnight - local + timedelta(minutes=1)


def classify(errcode: int, errmsg: str, now: datetime) -> PlatformError:
    """platforms.md's retry classes for a WeChat errcode."""
    if errcode in RETRY_NOW:
        return PlatformError(f"WeChat is busy ({errmsg})", code=str(errcode), retryable=True)
    if errcode == 45009:
        return PlatformError(
            "the account's daily API quota is used up; retrying after 00:00 Beijing time",
            code="45009",
            retryable=True,
            retry_after=until_midnight_shanghai(now),
        )
    if errcode == 45011:
        return PlatformError(
            "the per-minute API quota is exceeded",
            code="45011",
            retryable=True,
            retry_after=timedelta(seconds=60),
        )
    reason = NEEDS_A_PERSON.get(errcode, f"WeChat refused the call: {errmsg}")
    return PlatformError(reason, code=str(errcode), retryable=False)


def spans(begin: date, end: date, days: int) -> list[tuple[date, date]]:
    """`begin` to `end` in consecutive pieces of at most `days` days: one API call each."""
    pieces = []
    while begin <= end:
        last = min(begin + timedelta(days=days - 1), end)
        pieces.append((begin, last))
        begin = last + timedelta(days=1)
    return pieces


def require_ready(end: date, now: datetime) -> None:
    """Refuse a range whose last day WeChat has not finished counting: its figures would be partial,
    and a snapshot is kept for ever. Not retried: the run records them missing, a later run asks."""
    ready = datetime.combine(end + timedelta(days=1), datetime.min.time(), SHANGHAI) + READY_AFTER
    if now < ready:
        raise PlatformError(
            f"WeChat's figures up to {end.isoformat()} are ready after {ready:%Y-%m-%d %H:%M} Beijing time",
            code="not_ready",
            retryable=False,
        )


def total(rows: Rows, field: str) -> int:
    return sum(int(row[field]) for row in rows)


def datacube_figures(rows: dict[str, Rows]) -> dict[FigureName, int]:
    """The datacube's rows as figures: counts summed over the range, followers as of its last day."""
    users, articles, cumulate = rows["getusersummary"], rows["getarticlesummary"], rows["getusercumulate"]
    values: dict[FigureName, int] = {
        "followers_gained": total(users, "new_user"),
        "followers_lost": total(users, "cancel_user"),
        "reads": total(articles, "int_page_read_count"),
        "readers": total(articles, "int_page_read_user"),
        "shares": total(articles, "share_count"),
        "favourites": total(articles, "add_to_fav_count"),
    }
    if cumulate:  # no row: no total, rather than a total of 0
        values["followers_total"] = int(max(cumulate, key=lambda row: str(row["ref_date"]))["cumulate_user"])
    return values


def answered_dates(rows: Iterable[Rows]) -> tuple[date, ...]:
    return tuple(sorted({date.fromisoformat(str(row["ref_date"])) for each in rows for row in each}))


class WeChatAdapter:
    platform = Platform.WECHAT

    def __init__(self, account: Account, client: httpx.AsyncClient | None = None) -> None:
        self.account = account
        self.base = account.base_url.rstrip("/")
        self.client = client or httpx.AsyncClient(timeout=account.timeout_s)
        self.images = ImageFetcher(
            ImageHosts.of(account.image_hosts),
            IMAGE_FORMATS,
            max_bytes=MAX_IMAGE_BYTES,
            deadline_s=account.timeout_s,
        )
        self._token: str | None = None
        self._token_until = 0.0
        self._token_lock = asyncio.Lock()
        """One token fetch at a time: a burst of calls on a fresh worker asks stable_token once."""
        self._covers: dict[str, str] = {}
        """Thumb material this worker added, by the SHA-256 of its image: media_id."""

    async def _fetch_token(self, *, force: bool) -> str:
        response = await send(
            self.client,
            "POST",
            f"{self.base}/cgi-bin/stable_token",
            who=NAME,
            json={
                "grant_type": "client_credential",
                "appid": self.account.appid,
                "secret": self.account.secret.get_secret_value(),
                "force_refresh": force,
            },
        )
        body = json_body(response, NAME)
        if body.get("errcode"):
            raise classify(int(body["errcode"]), str(body.get("errmsg", "")), datetime.now(UTC))
        self._token = str(body["access_token"])
        self._token_until = time.monotonic() + int(body.get("expires_in", 7200)) - TOKEN_MARGIN_S
        return self._token

    async def _access_token(self) -> str:
        async with self._token_lock:
            if self._token is not None and time.monotonic() < self._token_until:
                return self._token
            return await self._fetch_token(force=False)

    async def _refresh_after(self, stale: str) -> None:
        """One inline refresh: stable_token again, forced only when it hands back the stale token.
        Calls that met the same stale token at once refresh it once: the later ones find it new."""
        async with self._token_lock:
            if self._token != stale:
                return
            self._token = None
            if await self._fetch_token(force=False) == stale:
                await self._fetch_token(force=True)

    async def call(
        self, path: str, *, json: Any = None, files: Any = None, params: Any = None
    ) -> dict[str, Any]:
        """An authenticated API call; raises PlatformError (classified) or MaybeSent."""
        for attempt in (1, 2):
            token = await self._access_token()
            response = await send(
                self.client,
                "POST",
                f"{self.base}{path}",
                who=NAME,
                params={**(params or {}), "access_token": token},
                json=json,
                files=files,
            )
            body = json_body(response, NAME)
            errcode = int(body.get("errcode", 0) or 0)
            if errcode == 0:
                return body
            if errcode in TOKEN_ERRORS and attempt == 1:
                await self._refresh_after(token)
                continue
            raise classify(errcode, str(body.get("errmsg", "")), datetime.now(UTC))
        raise AssertionError("unreachable")  # pragma: no cover

    async def upload_image(self, url: str) -> str:
        """Re-host an article image on WeChat (uploadimg); returns WeChat's URL for it."""
        image = await self.images.fetch(url)
        body = await self.call("/cgi-bin/media/uploadimg", files={"media": image.upload()})
        return str(body["url"])

    async def cover(self, cover: str) -> str:
        """The cover's media_id: a media_id as it is, else the image at the URL as permanent thumb
        material, added once per distinct image by this worker: permanent material has a quota,
        which a retried publish, or the default cover of every text-only post, would spend (L13)."""
        if MEDIA_ID.fullmatch(cover):
            return cover
        image = await self.images.fetch(cover)
        digest = hashlib.sha256(image.data).hexdigest()
        if digest not in self._covers:
            body = await self.call(
                "/cgi-bin/material/add_material", params={"type": "thumb"}, files={"media": image.upload()}
            )
            self._covers[digest] = str(body["media_id"])
        return self._covers[digest]

    def _forget_cover(self, media_id: str) -> bool:
        """Drop a remembered cover (WeChat no longer has it); whether it was one of ours."""
        remembered = [digest for digest, known in self._covers.items() if known == media_id]
        for digest in remembered:
            del self._covers[digest]
        return bool(remembered)

    async def publish(self, post: Post) -> PublishOutcome:
        html = sanitise(post.body_html)
        problems = length_problems(Platform.WECHAT, title=post.title, body_html=html)
        cover = post.cover_image_url or next(iter(image_sources(html)), "") or self.account.default_cover
        if not cover:
            problems.append(
                "wechat: an article needs a cover image (thumb): this post has no image, and the account "
                "no default cover"
            )
        if problems:
            return PublishOutcome(state="failed", code=LOCAL_CHECKS, reason="; ".join(problems))
        hosted = {src: await self.upload_image(src) for src in image_sources(html)}
        thumb = await self.cover(cover)
        article = {
            "title": post.title,
            "author": post.author[:16],
            "digest": post.digest[:128],
            "content": rewrite_images(html, hosted),
            "content_source_url": post.source_url,
            "thumb_media_id": thumb,
            "need_open_comment": 1,
            "only_fans_can_comment": 0,
        }
        try:
            draft = await self.call("/cgi-bin/draft/add", json={"articles": [article]})
        except PlatformError as exc:
            if exc.code != "40007" or not self._forget_cover(thumb):
                raise
            raise PlatformError(
                "the cover's thumb material is no longer on WeChat; it is added again on the retry",
                code="40007",
                retryable=True,
            ) from None
        media_id = str(draft["media_id"])  # a draft is not public: up to here a retry is harmless

        def submitted(answer: dict[str, Any]) -> PublishOutcome:
            ids = {"media_id": media_id, "publish_id": str(answer["publish_id"])}
            if answer.get("msg_data_id"):
                ids["msg_data_id"] = str(answer["msg_data_id"])
            return PublishOutcome(state="pending", handle=ids["publish_id"], platform_ids=ids)

        return await published(
            self.call("/cgi-bin/freepublish/submit", json={"media_id": media_id}),
            submitted,
            PublishOutcome(
                state="unknown", platform_ids={"media_id": media_id}, reason="it may have been accepted"
            ),
        )

    async def status(self, handle: str) -> PublishOutcome:
        body = await self.call("/cgi-bin/freepublish/get", json={"publish_id": handle})
        return publish_status(handle, body)

    async def reply(self, inbound: Inbound, text: str) -> ReplyOutcome:
        if inbound.kind == "comment":
            msg_data_id, _, index = (inbound.thread or "").partition("/")
            body: dict[str, Any] = {
                "msg_data_id": int(msg_data_id),
                "index": int(index or 0),
                "user_comment_id": int(inbound.message_id),
                "content": text,
            }
            return await reply_outcome(self.call("/cgi-bin/comment/reply/add", json=body))
        body = {"touser": inbound.user, "msgtype": "text", "text": {"content": text}}
        return await reply_outcome(self.call("/cgi-bin/message/custom/send", json=body))

    async def inquiries(self, threads: list[str], since: datetime) -> list[Inbound]:
        """Comments on our articles (WeChat pushes no event for them): `threads` are 'msg_data_id/index'.

        One article's refusal (88000: comments closed; a deleted article) skips that article, logged,
        and never stops the account's other articles (H10); a retryable error still retries the poll.
        """
        found = []
        for thread in threads:
            try:
                found += await self._comments(thread, since)
            except PlatformError as exc:
                if exc.retryable:
                    raise
                log.warning(
                    "comments of an article skipped", thread=thread, code=exc.code, reason=exc.message
                )
        return found

    async def _comments(self, thread: str, since: datetime) -> list[Inbound]:
        """One article's comments since `since`, page by page."""
        found = []
        msg_data_id, _, index = thread.partition("/")
        begin = 0
        while True:
            body = await self.call(
                "/cgi-bin/comment/list",
                json={
                    "msg_data_id": int(msg_data_id),
                    "index": int(index or 0),
                    "begin": begin,
                    "count": 49,
                    "type": 0,
                },
            )
            comments = body.get("comment", [])
            for c in comments:
                sent_at = datetime.fromtimestamp(int(c["create_time"]), UTC)
                if sent_at > since:
                    found.append(
                        Inbound(
                            platform=self.platform,
                            account=self.account.name,
                            message_id=str(c["user_comment_id"]),
                            user=str(c["openid"]),
                            text=str(c["content"]),
                            sent_at=sent_at,
                            kind="comment",
                            thread=thread,
                        )
                    )
            begin += len(comments)
            if not comments or begin >= int(body.get("total", 0)):
                break
        return found

    async def metrics(self, begin: date, end: date) -> Figures:
        require_ready(end, datetime.now(UTC))
        rows = {
            name: await self.datacube(f"/datacube/{name}", spans(begin, end, days))
            for name, days in DATACUBE_DAYS.items()
        }
        with reading(NAME, "datacube"):
            return Figures(
                platform=self.platform,
                account=self.account.name,
                begin=begin,
                end=end,
                values=datacube_figures(rows),
                platform_dates=answered_dates(rows.values()),
                sources=tuple(f"datacube/{name}" for name in DATACUBE_DAYS),
            )

    async def datacube(self, path: str, pieces: list[tuple[date, date]], form: str = "%Y-%m-%d") -> Rows:
        """An analytics API's rows over `pieces` (each a span it accepts), dates written in `form`."""
        rows: Rows = []
        for first, last in pieces:
            span = {"begin_date": first.strftime(form), "end_date": last.strftime(form)}
            rows += (await self.call(path, json=span)).get("list", [])
        return rows


def publish_status(handle: str, body: dict[str, Any]) -> PublishOutcome:
    """freepublish/get's answer (or a PUBLISHJOBFINISH push) as an outcome."""
    status = int(body.get("publish_status", 1))
    ids = {"publish_id": handle}
    if body.get("article_id"):
        ids["article_id"] = str(body["article_id"])
    if status == 0:
        items = body.get("article_detail", {}).get("item", [])
        url = items[0].get("article_url") if items else None
        return PublishOutcome(state="published", url=url, platform_ids=ids)
    if status == 1:
        return PublishOutcome(state="pending", handle=handle, platform_ids=ids)
    reason = PUBLISH_STATUS.get(status, f"publish_status {status}")
    return PublishOutcome(state="failed", code=f"publish_status={status}", reason=reason, platform_ids=ids)
