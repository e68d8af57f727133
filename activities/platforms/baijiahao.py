"""Baijiahao (百家号): publishing goes through the platform's own review; status is polled."""

from datetime import UTC, date, datetime
from typing import Any

import httpx

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
    unsupported,
)
from activities.platforms.content import image_sources, sanitise
from activities.platforms.http import json_body, send
from domain.counting import length_problems
from domain.platforms import Platform

PUBLISHED = {"publish"}
COMMENT_PAGE = 20
ARTICLE_NOT_FOUND = "10000020"
PENDING = {"pre_publish", "publishing", "review", "draft"}


class BaijiahaoAdapter:
    platform = Platform.BAIJIAHAO

    def __init__(self, account: Account, client: httpx.AsyncClient | None = None) -> None:
        self.account = account
        self.base = account.base_url.rstrip("/") + "/builderinner/open/resource"
        self.client = client or httpx.AsyncClient(timeout=account.timeout_s)

    async def call(self, path: str, body: dict[str, object]) -> dict[str, object]:
        credentials = {"app_id": self.account.appid, "app_token": self.account.token.get_secret_value()}
        answer = json_body(
            await send(
                self.client, "POST", f"{self.base}{path}", who="Baijiahao", json={**credentials, **body}
            ),
            "Baijiahao",
        )
        errno = int(str(answer.get("errno", 0)))
        if errno:
            message = str(answer.get("errmsg", "refused"))
            raise PlatformError(
                f"Baijiahao: {message}", code=str(errno), retryable=errno in (20000001, 10000002)
            )
        data = answer.get("data")
        return data if isinstance(data, dict) else {}

    async def publish(self, post: Post) -> PublishOutcome:
        html = sanitise(post.body_html)
        problems = length_problems(Platform.BAIJIAHAO, title=post.title, body_html=html)
        if problems:
            return PublishOutcome(state="failed", code=LOCAL_CHECKS, reason="; ".join(problems))
        covers = [post.cover_image_url] if post.cover_image_url else image_sources(html)[:1]
        body = {
            "title": post.title,
            "content": html,
            "origin_url": post.source_url,
            "cover_images": covers,
            "is_original": 1,
        }

        def submitted(data: dict[str, Any]) -> PublishOutcome:
            article_id = str(data["article_id"])
            return PublishOutcome(state="pending", handle=article_id, platform_ids={"article_id": article_id})

        return await published(
            self.call("/article/publish", body),
            submitted,
            PublishOutcome(state="unknown", reason="the article may have been submitted"),
        )

    async def status(self, handle: str) -> PublishOutcome:
        data = await self.call("/article/status", {"article_id": handle})
        status = str(data.get("status"))
        ids = {"article_id": handle}
        if status in PUBLISHED:
            return PublishOutcome(state="published", url=str(data.get("url") or ""), platform_ids=ids)
        if status in PENDING:
            return PublishOutcome(state="pending", handle=handle, platform_ids=ids)
        reason = str(data.get("audit_msg") or f"status {status}")
        return PublishOutcome(
            state="failed", code=status, reason=f"Baijiahao's review: {reason}", platform_ids=ids
        )

    async def inquiries(self, threads: list[str], since: datetime) -> list[Inbound]:
        """Readers' comments on our articles (`threads` are article ids) since `since`, page by page.

        Baijiahao pushes nothing, so comments are polled like WeChat's. The list call follows the
        open API's conventions (app credentials in the body, `errno`/`data`); an article the platform
        no longer knows (deleted, or refused in review) has no comments to read and is skipped.
        """
        found: list[Inbound] = []
        for article_id in threads:
            page = 1
            while True:
                try:
                    data = await self.call(
                        "/comment/list",
                        {
                            "article_id": article_id,
                            "start_time": int(since.timestamp()),
                            "page_no": page,
                            "page_size": COMMENT_PAGE,
                        },
                    )
                except PlatformError as exc:
                    if exc.code == ARTICLE_NOT_FOUND:
                        break
                    raise
                entries = data.get("list")
                for entry in entries if isinstance(entries, list) else []:
                    found.append(
                        Inbound(
                            platform=self.platform,
                            account=self.account.name,
                            message_id=str(entry["reply_id"]),
                            user=str(entry["uid"]),
                            text=str(entry.get("content", "")),
                            sent_at=datetime.fromtimestamp(int(entry["create_time"]), UTC),
                            kind="comment",
                            thread=article_id,
                        )
                    )
                if not data.get("has_more"):
                    break
                page += 1
        return found

    async def reply(self, inbound: Inbound, text: str) -> ReplyOutcome:
        raise unsupported(self.platform, "replies (no reply API: answer in Baijiahao's console)")

    async def metrics(self, begin: date, end: date) -> Figures:
        raise unsupported(self.platform, "figures")
