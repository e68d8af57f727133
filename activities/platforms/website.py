"""The company website, through the WordPress REST API with an application password.

The rulebook does not name the CMS; WordPress is the reference adapter. WordPress has no
idempotency key, so the post's slug is derived from our key and looked up before creating: a
publish repeated after a lost answer finds the first post instead of making a second.
"""

import hashlib
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from activities.platforms.accounts import Account
from activities.platforms.base import (
    Figures,
    Inbound,
    MaybeSent,
    PlatformError,
    Post,
    PublishOutcome,
    ReplyOutcome,
    reading,
    reply_outcome,
)
from activities.platforms.content import sanitise
from activities.platforms.http import refused, send
from domain.platforms import Platform

NAME = "WordPress"
"""How errors name the website's CMS."""
BEIJING = ZoneInfo("Asia/Shanghai")
"""Where the site's days begin and end."""


def midnight(day: date) -> str:
    """The start of `day` in Beijing, as the ISO 8601 instant WordPress's `after`/`before` take."""
    return datetime.combine(day, datetime.min.time(), BEIJING).isoformat()


def slug_for(key: str) -> str:
    return "mo-" + hashlib.sha256(key.encode()).hexdigest()[:20]


def _check(response: httpx.Response) -> Any:
    if response.status_code in (401, 403):
        raise PlatformError(
            f"WordPress refused the credentials (HTTP {response.status_code}): check the app password",
            code=str(response.status_code),
            retryable=False,
        )
    if response.status_code == 429:
        wait = float(response.headers.get("retry-after", "60"))
        raise PlatformError(
            "WordPress is rate-limiting", code="429", retryable=True, retry_after=timedelta(seconds=wait)
        )
    if response.status_code >= 400:
        raise refused(response, NAME)
    return response.json()


class WebsiteAdapter:
    platform = Platform.WEBSITE

    def __init__(self, account: Account, client: httpx.AsyncClient | None = None) -> None:
        self.account = account
        self.api = account.base_url.rstrip("/") + "/wp-json/wp/v2"
        auth = (account.username, account.password.get_secret_value())
        self.client = client or httpx.AsyncClient(timeout=account.timeout_s, auth=auth)

    async def publish(self, post: Post) -> PublishOutcome:
        slug = slug_for(post.key)
        existing = _check(
            await send(
                self.client, "GET", f"{self.api}/posts", who=NAME, params={"slug": slug, "status": "any"}
            )
        )
        if existing:
            return _outcome(existing[0])
        body = {"title": post.title, "content": sanitise(post.body_html), "status": "publish", "slug": slug}
        try:
            created = _check(await send(self.client, "POST", f"{self.api}/posts", who=NAME, json=body))
        except MaybeSent as exc:
            return PublishOutcome(state="unknown", platform_ids={"slug": slug}, reason=f"{exc}: it may exist")
        return _outcome(created)

    async def status(self, handle: str) -> PublishOutcome:
        return _outcome(_check(await send(self.client, "GET", f"{self.api}/posts/{handle}", who=NAME)))

    async def inquiries(self, threads: list[str], since: datetime) -> list[Inbound]:
        params = {"after": since.isoformat(), "per_page": 100, "orderby": "date", "order": "asc"}
        comments = _check(await send(self.client, "GET", f"{self.api}/comments", who=NAME, params=params))
        return [
            Inbound(
                platform=self.platform,
                account=self.account.name,
                message_id=str(c["id"]),
                user=str(c.get("author_name") or c.get("author") or "visitor"),
                text=str(c.get("content", {}).get("rendered", "")),
                sent_at=datetime.fromisoformat(c["date_gmt"] + "+00:00"),
                kind="comment",
                thread=str(c["post"]),
            )
            for c in comments
        ]

    async def reply(self, inbound: Inbound, text: str) -> ReplyOutcome:
        body = {"post": int(inbound.thread or 0), "parent": int(inbound.message_id), "content": text}

        async def create() -> None:
            _check(await send(self.client, "POST", f"{self.api}/comments", who=NAME, json=body))

        return await reply_outcome(create())

    async def metrics(self, begin: date, end: date) -> Figures:
        """The posts published in the range: WordPress counts them for us (X-WP-Total), one post
        asked for. It has no analytics API, so that is the site's one figure."""
        params = {
            "after": midnight(begin),
            "before": midnight(end + timedelta(days=1)),
            "per_page": 1,
            "status": "publish",
        }
        response = await send(self.client, "GET", f"{self.api}/posts", who=NAME, params=params)
        _check(response)
        with reading(NAME, "wp/v2/posts"):
            return Figures(
                platform=self.platform,
                account=self.account.name,
                begin=begin,
                end=end,
                values={"posts_published": int(response.headers["X-WP-Total"])},
                sources=("wp/v2/posts",),
            )


def _outcome(post: dict[str, Any]) -> PublishOutcome:
    ids = {"post_id": str(post["id"]), "slug": str(post.get("slug", ""))}
    if post.get("status") == "publish":
        return PublishOutcome(state="published", url=post.get("link"), platform_ids=ids)
    return PublishOutcome(state="pending", handle=str(post["id"]), platform_ids=ids)
