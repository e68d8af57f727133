"""What platforms are asked and what they answer, as values workflows decide on.

A publish has exactly four outcomes (platforms.md; Postiz's lesson): published (with the URL and
the platform's ids), pending (a handle to poll, or a person to act), failed (non-retryable, with
the platform's code and a reason a person can act on), or unknown (the call may have gone through;
only a person may decide, so it is never retried blindly).
"""

from datetime import datetime
from typing import Literal

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
