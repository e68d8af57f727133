"""The contract every platform adapter keeps, and the vocabulary of outcomes and errors.

A publish has exactly four outcomes (platforms.md; Postiz's lesson): published (with the URL and
the platform's ids), pending (a handle to poll, or a person to act), failed (non-retryable, with
the platform's code and a reason a person can act on), or unknown (the call may have gone through;
only a person may decide, so it is never retried blindly).
"""

from datetime import date, datetime, timedelta
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from domain.platforms import Platform


class Post(BaseModel):
    """What is published: the approved version of an article, prepared for one platform."""

    key: str = Field(description="idempotency key: article id, version and platform")
    title: str
    body_html: str
    author: str = ""
    digest: str = ""
    source_url: str = ""
    cover_image_url: str = ""
    link_url: str = Field(default="", description="where a link-sharing platform (Weibo) points")


class PublishOutcome(BaseModel):
    state: Literal["published", "pending", "failed", "unknown"]
    url: str | None = None
    platform_ids: dict[str, str] = Field(default_factory=dict)
    handle: str | None = Field(default=None, description="what to poll (or the manual task) while pending")
    manual: bool = Field(default=False, description="pending on a person: the platform has no API")
    code: str | None = None
    reason: str | None = None


class ReplyOutcome(BaseModel):
    state: Literal["sent", "failed", "unknown"]
    code: str | None = None
    reason: str | None = None


class Inbound(BaseModel):
    """A user's message or comment, as the platform reported it."""

    platform: Platform
    account: str
    message_id: str
    user: str
    text: str
    sent_at: datetime
    kind: Literal["message", "comment"] = "message"
    thread: str | None = Field(default=None, description="e.g. the article a comment is on")


class Metrics(BaseModel):
    platform: Platform
    account: str
    day: date
    figures: dict[str, Any]


class PlatformError(Exception):
    """A classified platform failure: retryable (after `retry_after`) or for a person to act on."""

    def __init__(
        self, message: str, *, code: str | None = None, retryable: bool, retry_after: timedelta | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.retryable = retryable
        self.retry_after = retry_after

    def __str__(self) -> str:
        return f"{self.message} (code {self.code})" if self.code else self.message


class MaybeSent(Exception):
    """The request left and no answer came back: it may have been carried out."""


class PlatformAdapter(Protocol):
    platform: Platform

    async def publish(self, post: Post) -> PublishOutcome: ...

    async def status(self, handle: str) -> PublishOutcome: ...

    async def inquiries(self, threads: list[str], since: datetime) -> list[Inbound]:
        """Messages or comments since `since` that the platform does not push (comments on `threads`)."""
        ...

    async def reply(self, inbound: Inbound, text: str) -> ReplyOutcome: ...

    async def metrics(self, day: date) -> Metrics: ...


def unsupported(platform: Platform, operation: str) -> PlatformError:
    return PlatformError(f"{platform} has no API for {operation}", code="unsupported", retryable=False)
