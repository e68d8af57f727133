"""The contract every platform adapter keeps, and how platform failures are classified.

The outcomes themselves (domain/outcomes.py) are domain values: workflows decide on them.
A failure's text travels far (an outcome's reason, an immutable event, a Temporal history, the
API): it is scrubbed by the redactor where the exception is made (R-SECRETS), so neither an
adapter's wording nor a platform's own message that echoes a request can carry a credential.
"""

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import Protocol, TypeVar

from domain.metrics import Figures
from domain.outcomes import Inbound, Post, PublishOutcome, ReplyOutcome
from domain.platforms import Platform
from mediaops.logging import scrub

LOCAL_CHECKS = "checks"
"""The code of a publish an adapter refused itself, calling nothing: a post the platform would refuse."""


class PlatformError(Exception):
    """A classified platform failure: retryable (after `retry_after`) or for a person to act on.

    `in_doubt` says the request may have been carried out although no usable answer came (a 5xx, a
    page instead of JSON): retrying would risk doing it twice. A request that never left (connection
    refused, DNS, pool timeout) and a platform's own refusal (an errcode, a 4xx) are not in doubt.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        retryable: bool,
        retry_after: timedelta | None = None,
        in_doubt: bool = False,
    ) -> None:
        message = scrub(message)
        super().__init__(message)
        self.message = message
        self.code = code
        self.retryable = retryable
        self.retry_after = retry_after
        self.in_doubt = in_doubt

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

    async def metrics(self, begin: date, end: date) -> Figures:
        """The platform's figures for the days `begin` to `end` (inclusive), as its API gives them."""
        ...


T = TypeVar("T")
UNREADABLE_ANSWER = (KeyError, IndexError, TypeError, ValueError)
"""What reading an answer of an unexpected shape raises (`body["id_list"][0]` of an error page, say)."""


async def reply_outcome(call: Awaitable[object]) -> ReplyOutcome:
    """A reply call as an outcome: sent; failed when the platform refused; unknown when it may have
    reached the user (the answer was lost, or a 5xx or a page came back): never sent twice. Only a
    retryable error the platform did not act on propagates, for the activity to retry."""
    try:
        await call
    except MaybeSent as exc:
        return ReplyOutcome(state="unknown", reason=f"{exc}: the user may have received it")
    except PlatformError as exc:
        if exc.in_doubt:
            return ReplyOutcome(
                state="unknown", code=exc.code, reason=f"{exc}: the user may have received it"
            )
        if exc.retryable:
            raise
        return ReplyOutcome(state="failed", code=exc.code, reason=exc.message)
    return ReplyOutcome(state="sent")


async def published(
    call: Awaitable[T], read: Callable[[T], PublishOutcome], doubt: PublishOutcome
) -> PublishOutcome:
    """The publishing call itself (the one that makes a post public): its answer read as the outcome.

    A lost answer, a 5xx, a page instead of JSON or an answer in a shape we cannot read is `doubt`
    (an *unknown* outcome a person reconciles), never an error a retry would answer by posting twice.
    A request that never left, or that the platform refused, propagates as the error it is: retried
    when its class says so, else the failure.
    """
    try:
        answer = await call
    except MaybeSent as exc:
        return doubt.model_copy(update={"reason": f"{exc}: {doubt.reason}"})
    except PlatformError as exc:
        if exc.in_doubt:
            return doubt.model_copy(update={"code": exc.code, "reason": f"{exc}: {doubt.reason}"})
        raise
    try:
        return read(answer)
    except UNREADABLE_ANSWER:
        return doubt.model_copy(update={"reason": f"an answer MediaOps cannot read: {doubt.reason}"})


@contextmanager
def reading(who: str, source: str) -> Iterator[None]:
    """Reading figures out of an answer: one in a shape we cannot read is a refusal a person looks
    at (the API changed), not a crash that Temporal would retry for ever."""
    try:
        yield
    except UNREADABLE_ANSWER:
        raise PlatformError(
            f"{who} answered {source} in a shape MediaOps cannot read", code="unreadable", retryable=False
        ) from None


def unsupported(platform: Platform, operation: str) -> PlatformError:
    return PlatformError(f"{platform} has no API for {operation}", code="unsupported", retryable=False)


__all__ = [
    "Figures",
    "Inbound",
    "MaybeSent",
    "PlatformAdapter",
    "PlatformError",
    "Post",
    "PublishOutcome",
    "ReplyOutcome",
    "published",
    "reading",
    "reply_outcome",
    "unsupported",
]
