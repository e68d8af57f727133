"""The WeChat mini program: WeChat's token scheme with its own appid; posts go to its backend.

"Publishing" writes the post into the mini program's CloudBase database (tcb/databaseadd), where
the mini program reads its company moments (企业朋友圈) and recruitment sections from. Replies to
users follow the same customer-service rules as the official account.
"""

import json
from datetime import date, datetime
from typing import Any

from activities.platforms.base import (
    Inbound,
    Metrics,
    Post,
    PublishOutcome,
    published,
    unsupported,
)
from activities.platforms.content import sanitise
from activities.platforms.wechat import WeChatAdapter
from domain.counting import length_problems
from domain.platforms import Platform


class MiniProgramAdapter(WeChatAdapter):
    platform = Platform.MINIPROGRAM

    async def publish(self, post: Post) -> PublishOutcome:
        html = sanitise(post.body_html)
        problems = length_problems(Platform.MINIPROGRAM, title=post.title, body_html=html)
        if problems:
            return PublishOutcome(state="failed", code="checks", reason="; ".join(problems))
        record = {"key": post.key, "title": post.title, "content": html, "author": post.author}
        query = f"db.collection('posts').add({{data: {json.dumps(record, ensure_ascii=False)}}})"

        def added(body: dict[str, Any]) -> PublishOutcome:
            record_id = str(body["id_list"][0])
            return PublishOutcome(
                state="published",
                url=f"miniprogram://{self.account.appid}/posts/{record_id}",
                platform_ids={"id": record_id},
            )

        return await published(
            self.call("/tcb/databaseadd", json={"env": self.account.username or "prod", "query": query}),
            added,
            PublishOutcome(state="unknown", reason="the record may have been added"),
        )

    async def status(self, handle: str) -> PublishOutcome:
        return PublishOutcome(state="published", url=f"miniprogram://{self.account.appid}/posts/{handle}")

    async def inquiries(self, threads: list[str], since: datetime) -> list[Inbound]:
        raise unsupported(self.platform, "comments (messages arrive by push)")

    async def metrics(self, day: date) -> Metrics:
        raise unsupported(self.platform, "metrics")
