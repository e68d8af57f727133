"""Zhihu, Sohu, Toutiao and Baidu Zhidao: no public publishing API, so a person publishes.

The outcome of a publish is pending on a person (the promotion specialist): the workflow waits for
the published URL to be reported and escalates at its deadline. Browser automation is out of scope.
"""

from datetime import date, datetime

from activities.platforms.accounts import Account
from activities.platforms.base import Figures, Inbound, Post, PublishOutcome, ReplyOutcome, unsupported
from domain.platforms import Platform

MANUAL_PLATFORMS = frozenset({Platform.ZHIHU, Platform.SOHU, Platform.TOUTIAO, Platform.BAIDU_ZHIDAO})


class ManualAdapter:
    def __init__(self, account: Account) -> None:
        self.account = account
        self.platform = account.platform

    async def publish(self, post: Post) -> PublishOutcome:
        return PublishOutcome(
            state="pending",
            handle=post.key,
            manual=True,
            reason=f"{self.platform} has no publishing API: publish it by hand and report the URL",
        )

    async def status(self, handle: str) -> PublishOutcome:
        return PublishOutcome(
            state="pending", handle=handle, manual=True, reason="waiting for the URL to be reported"
        )

    async def inquiries(self, threads: list[str], since: datetime) -> list[Inbound]:
        raise unsupported(self.platform, "reading messages")

    async def reply(self, inbound: Inbound, text: str) -> ReplyOutcome:
        raise unsupported(self.platform, "replies")

    async def metrics(self, begin: date, end: date) -> Figures:
        raise unsupported(self.platform, "figures")
