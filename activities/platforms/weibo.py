"""Weibo: a link to our article shared as a status; comments polled; fan-service messages answered.

share.json takes at most 140 (Weibo-counted) characters and must carry a URL on the app's bound
domain, so the status is the title plus the article's link. Private messages reach the account by
push and may be answered within 72 hours, three times per message.
"""

import json
from datetime import UTC, date, datetime, timedelta
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
    reading,
    reply_outcome,
)
from activities.platforms.http import json_body, refused, send
from domain.counting import length_problems, weibo_units
from domain.platforms import Platform

RETRYABLE = {10023: 3600, 10024: 3600, 20016: 60, 10001: None, 10002: None, 10009: None}
NEEDS_A_PERSON = {
    20019: "Weibo refused a repeated status (the same text was already posted)",
    21332: "the account's access token has expired: authorise the app again",
    21327: "the account's access token has expired: authorise the app again",
    10014: "the app is not authorised for this API",
    20021: "Weibo's review refused the content",
    20003: "the account does not exist or is banned",
    20101: "the target status or comment has been deleted",
    26001: "the 72-hour reply window has closed: answer the user another way",
    26002: "the user has already received the maximum number of replies to this message",
}


def classify(body: dict[str, Any]) -> PlatformError:
    code = int(body.get("error_code", 0))
    if code in RETRYABLE:
        wait = RETRYABLE[code]
        return PlatformError(
            f"Weibo: {body.get('error', 'busy')}",
            code=str(code),
            retryable=True,
            retry_after=timedelta(seconds=wait) if wait else None,
        )
    return PlatformError(
        NEEDS_A_PERSON.get(code, f"Weibo refused the call: {body.get('error')}"),
        code=str(code),
        retryable=False,
    )


class WeiboAdapter:
    platform = Platform.WEIBO

    def __init__(self, account: Account, client: httpx.AsyncClient | None = None) -> None:
        self.account = account
        self.base = account.base_url.rstrip("/")
        self.client = client or httpx.AsyncClient(timeout=account.timeout_s)

    async def call(self, method: str, path: str, **fields: Any) -> Any:
        token = {"access_token": self.account.token.get_secret_value()}
        if method == "GET":
            response = await send(
                self.client, "GET", f"{self.base}{path}", who="Weibo", params={**fields, **token}
            )
        else:
            response = await send(
                self.client, "POST", f"{self.base}{path}", who="Weibo", data={**fields, **token}
            )
        body = (
            json_body(response, "Weibo")
            if response.headers.get("content-type", "").startswith("application/json")
            else {}
        )
        if "error_code" in body:
            raise classify(body)
        if response.status_code >= 400:
            raise refused(response, "Weibo")
        return body

    def status_text(self, post: Post) -> str:
        link = post.link_url or post.source_url
        room = 140 - weibo_units(link) - 1
        title = post.title
        while weibo_units(title) > room:
            title = title[:-2] + "…"
        return f"{title} {link}"

    async def publish(self, post: Post) -> PublishOutcome:
        if not (post.link_url or post.source_url):
            return PublishOutcome(
                state="failed",
                code=LOCAL_CHECKS,
                reason="weibo: a share needs the article's URL on our domain",
            )
        text = self.status_text(post)
        problems = length_problems(Platform.WEIBO, body_text=text)
        if problems:
            return PublishOutcome(state="failed", code=LOCAL_CHECKS, reason="; ".join(problems))

        def shared(body: dict[str, Any]) -> PublishOutcome:
            uid, mid = str(body["user"]["id"]), str(body["idstr"])
            return PublishOutcome(
                state="published", url=f"https://weibo.com/{uid}/{mid}", platform_ids={"id": mid}
            )

        return await published(
            self.call("POST", "/2/statuses/share.json", status=text),
            shared,
            PublishOutcome(state="unknown", reason="the status may have been posted"),
        )

    async def status(self, handle: str) -> PublishOutcome:
        body = await self.call("GET", "/2/statuses/show.json", id=handle)
        uid = str(body["user"]["id"])
        return PublishOutcome(
            state="published", url=f"https://weibo.com/{uid}/{handle}", platform_ids={"id": handle}
        )

    async def inquiries(self, threads: list[str], since: datetime) -> list[Inbound]:
        body = await self.call("GET", "/2/comments/to_me.json", count=200)
        found = []
        for c in body.get("comments", []):
            sent_at = datetime.strptime(c["created_at"], "%a %b %d %H:%M:%S %z %Y").astimezone(UTC)
            if sent_at > since:
                found.append(
                    Inbound(
                        platform=self.platform,
                        account=self.account.name,
                        message_id=str(c["idstr"]),
                        user=str(c["user"]["id"]),
                        text=str(c["text"]),
                        sent_at=sent_at,
                        kind="comment",
                        thread=str(c["status"]["idstr"]),
                    )
                )
        return found

    async def reply(self, inbound: Inbound, text: str) -> ReplyOutcome:
        if inbound.kind == "comment":
            sent = self.call(
                "POST", "/2/comments/reply.json", cid=inbound.message_id, id=inbound.thread, comment=text
            )
        else:
            data = json.dumps({"text": text}, ensure_ascii=False)
            sent = self.call(
                "POST", "/2/messages/reply.json", receiver_id=inbound.user, type="text", data=data
            )
        return await reply_outcome(sent)

    async def metrics(self, begin: date, end: date) -> Figures:
        """The account's counts as they are now: Weibo keeps no history of them. Whether they may
        stand for the range is the caller's to judge, by `platform_time`."""
        user = await self.call("GET", "/2/users/show.json", uid=self.account.appid)
        with reading("Weibo", "users/show"):
            return Figures(
                platform=self.platform,
                account=self.account.name,
                begin=begin,
                end=end,
                values={
                    "followers_total": int(user["followers_count"]),
                    "posts_total": int(user["statuses_count"]),
                },
                platform_time=datetime.now(UTC),
                sources=("users/show",),
            )
