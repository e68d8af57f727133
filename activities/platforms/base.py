"""The contract every platform adapter keeps, and how platform failures are classified.

The outcomes themselves (domain/outcomes.py) are domain values: workflows decide on them.
A failure's text travels far (an outcome's reason, an immutable event, a Temporal history, the
API): it is scrubbed by the redactor where the exception is made (R-SECRETS), so neither an
adapter's wording nor a platform's own message that echoes a request can carry a credential.
"""

from collections.abc import Awaitable
from datetime import date, datetime, timedelta
from typing import Protocol

from domain.outcomes import Inbound, Metrics, Post, PublishOutcome, ReplyOutcome
from domain.platforms import Platform
from mediaops.logging import scrub


class PlatformError(Exception):
    """A classified platform failure: retryable (after `retry_after`) or for a person to act on."""

    def __init__(
        self, message: str, *, code: str | None = None, retryable: bool, retry_after: timedelta | None = None
    ) -> None:
        message = scrub(message)
        super().__init__(message)
        self.message = message
        self.code = code
        self.retryable = retryable
        self.retry_after = retry_after

    def __str__(self) -> str:
        return f"{self.message} (code {self.code})" if self.code else self.message


class MaybeSent(Exception):
    """The request left and no answer came back: it may have been carried out."""

    def __init__(self, message: str) -> None:
        super().__init__(scrub(message))


class PlatformAdapter(Protocol):
    platform: Platform

    async def publish(self, post: Post) -> PublishOutcome: ...

    async def status(self, handle: str) -> PublishOutcome: ...

    async def inquiries(self, threads: list[str], since: datetime) -> list[Inbound]:
        """Messages or comments since `since` that the platform does not push (comments on `threads`)."""
        ...

    async def reply(self, inbound: Inbound, text: str) -> ReplyOutcome: ...

    async def metrics(self, day: date) -> Metrics: ...


async def reply_outcome(call: Awaitable[object]) -> ReplyOutcome:
    """A reply call as an outcome: sent; unknown when the answer was lost (the user may have it);
    failed when the platform refused. Retryable errors propagate, for the activity to retry."""
    try:
        await call
    except MaybeSent as exc:
        return ReplyOutcome(state="unknown", reason=f"{exc}: the user may have received it")
    except PlatformError as exc:
        if exc.retryable:
            raise
        return ReplyOutcome(state="failed", code=exc.code, reason=exc.message)
    return ReplyOutcome(state="sent")


def unsupported(platform: Platform, operation: str) -> PlatformError:
    return PlatformError(f"{platform} has no API for {operation}", code="unsupported", retryable=False)


__all__ = [
    "Inbound",
    "MaybeSent",
    "Metrics",
    "PlatformAdapter",
    "PlatformError",
    "Post",
    "PublishOutcome",
    "ReplyOutcome",
    "reply_outcome",
    "unsupported",
]
