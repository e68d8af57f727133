"""Platform activities: publish and reply at most once; read (status, inquiries) freely.

Temporal runs an activity at least once, and a platform call that timed out may still have been
carried out. So a publish or a reply first *claims* its key in `platform_calls`:
- a later attempt that finds a finished claim returns the recorded outcome, calling nothing;
- one that finds an unfinished claim (a worker died, was stopped or timed out mid-call, or the call
  raised something unforeseen) returns `unknown`: a person decides;
- only a retryable failure the platform did not act on (it was never reached, or it refused, e.g.
  WeChat's daily quota) releases the claim, to be retried by Temporal after the delay the platform
  asks for. A call in doubt (a 5xx, a page, a lost answer) is never retried: its outcome is `unknown`.
Credentials never leave this process: requests name an account, the worker holds its secrets.
"""

import asyncio
from collections.abc import Awaitable
from datetime import datetime, timedelta
from typing import Any, TypeVar

import asyncpg
from pydantic import BaseModel, Field
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.platforms.accounts import Accounts
from activities.platforms.base import (
    LOCAL_CHECKS,
    Inbound,
    MaybeSent,
    PlatformAdapter,
    PlatformError,
    Post,
    PublishOutcome,
    ReplyOutcome,
)
from activities.platforms.registry import adapter_for
from domain.platforms import Platform
from mediaops.observability import PLATFORM_CALLS, PLATFORM_ERRORS, PUBLICATIONS

T = TypeVar("T")


class PublishRequest(BaseModel):
    platform: Platform
    account: str
    post: Post


class StatusRequest(BaseModel):
    platform: Platform
    account: str
    handle: str


class ReplyRequest(BaseModel):
    platform: Platform
    account: str
    key: str
    inbound: Inbound
    text: str


class InquiriesRequest(BaseModel):
    platform: Platform
    account: str
    threads: list[str] = []
    since: datetime


def as_activity_error(exc: PlatformError) -> ApplicationError:
    """A classified platform error in Temporal's terms: retry later, or stop and tell a person."""
    return ApplicationError(
        str(exc),
        type=f"Platform:{exc.code or 'error'}",
        non_retryable=not exc.retryable,
        next_retry_delay=exc.retry_after,
    )


HEARTBEAT_EVERY_S = 5.0
"""Well inside the workflows' heartbeat timeout (workflows/recording.py `HEARTBEAT_TIMEOUT`)."""


async def heartbeating(call: Awaitable[T]) -> T:
    """`call`, telling Temporal every few seconds that this worker is still at it.

    A worker killed mid-call is then noticed within the heartbeat timeout and the next attempt
    finds the call in doubt, instead of waiting out the whole start-to-close bound; and a cancelled
    activity hears of it. A cancellation reaches the call itself, which keeps its claim.
    """
    task = asyncio.ensure_future(call)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=HEARTBEAT_EVERY_S)
            if done:
                return task.result()
            activity.heartbeat()
    finally:
        task.cancel()


async def counted(platform: Platform, call: str, work: Awaitable[T]) -> T:
    """`work`, counted as a call to `platform` and, when it fails or ends in doubt, as an error by
    the platform's code (`mediaops_platform_calls_total`, `mediaops_platform_errors_total`)."""
    PLATFORM_CALLS.labels(platform, call).inc()
    try:
        result = await work
    except PlatformError as exc:
        PLATFORM_ERRORS.labels(platform, exc.code or "error").inc()
        raise
    except MaybeSent:
        PLATFORM_ERRORS.labels(platform, "maybe_sent").inc()
        raise
    if isinstance(result, PublishOutcome | ReplyOutcome):
        failed = result.state in ("failed", "unknown")
        if failed and result.code != LOCAL_CHECKS:  # our own checks stopped it uncalled: not the platform's
            PLATFORM_ERRORS.labels(platform, result.code or result.state).inc()
    return result


class PlatformCalls:
    def __init__(self, accounts: Accounts, pool: asyncpg.Pool) -> None:
        self.accounts = accounts
        self.pool = pool
        self._adapters: dict[tuple[Platform, str], PlatformAdapter] = {}

    def adapter(self, platform: Platform, account: str) -> PlatformAdapter:
        key = (platform, account)
        if key not in self._adapters:
            self._adapters[key] = adapter_for(self.accounts.get(platform, account))
        return self._adapters[key]

    async def _claim(self, key: str, platform: Platform, account: str, operation: str) -> tuple[bool, Any]:
        """(True, None) when this attempt owns the call; else (False, the earlier outcome or None)."""
        info = activity.info()
        inserted = await self.pool.fetchval(
            """INSERT INTO platform_calls (key, platform, account, operation, workflow_id, run_id)
               VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (key) DO NOTHING RETURNING true""",
            key,
            platform.value,
            account,
            operation,
            info.workflow_id,
            info.workflow_run_id,
        )
        if inserted:
            return True, None
        return False, await self.pool.fetchval("SELECT outcome FROM platform_calls WHERE key = $1", key)

    async def _finish(self, key: str, outcome: BaseModel, handle: str | None = None) -> None:
        await self.pool.execute(
            "UPDATE platform_calls SET finished_at = now(), outcome = $2, handle = $3 WHERE key = $1",
            key,
            outcome.model_dump(mode="json"),
            handle,
        )

    async def _release(self, key: str) -> None:
        await self.pool.execute("DELETE FROM platform_calls WHERE key = $1 AND finished_at IS NULL", key)

    @activity.defn(name="platform.publish")
    async def publish(self, request: PublishRequest) -> PublishOutcome:
        key = f"publish:{request.platform}/{request.account}:{request.post.key}"
        adapter = self.adapter(request.platform, request.account)  # an unknown account: before the claim
        owned, earlier = await self._claim(key, request.platform, request.account, "publish")
        if not owned:
            if earlier is None:
                PUBLICATIONS.labels(request.platform, "unknown").inc()  # found in doubt: a person looks
                return PublishOutcome(
                    state="unknown",
                    reason=f"an earlier attempt was interrupted after it may have reached {request.platform}",
                )
            return PublishOutcome.model_validate(earlier)
        try:
            outcome = await heartbeating(counted(request.platform, "publish", adapter.publish(request.post)))
        except MaybeSent as exc:
            # Adapters turn a lost answer to the publishing call itself into `unknown`; a MaybeSent
            # that escapes came from a preparatory step (an image upload, a draft): safe to repeat.
            await self._release(key)
            raise ApplicationError(str(exc), type="Platform:preparation") from None
        except PlatformError as exc:
            if exc.retryable:
                await self._release(key)
                raise as_activity_error(exc) from None
            outcome = PublishOutcome(state="failed", code=exc.code, reason=exc.message)
        # Anything else (a cancellation, a worker stopping, an unforeseen error) keeps the claim
        # unfinished: the next attempt answers `unknown`, and a person looks at the platform.
        await self._finish(key, outcome, outcome.handle if outcome.state == "pending" else None)
        PUBLICATIONS.labels(request.platform, outcome.state).inc()
        return outcome

    @activity.defn(name="platform.reply")
    async def reply(self, request: ReplyRequest) -> ReplyOutcome:
        key = f"reply:{request.platform}/{request.account}:{request.key}"
        adapter = self.adapter(request.platform, request.account)
        owned, earlier = await self._claim(key, request.platform, request.account, "reply")
        if not owned:
            if earlier is None:
                return ReplyOutcome(state="unknown", reason="an earlier attempt was interrupted mid-call")
            return ReplyOutcome.model_validate(earlier)
        try:
            outcome = await heartbeating(
                counted(request.platform, "reply", adapter.reply(request.inbound, request.text))
            )
        except PlatformError as exc:  # not in doubt (reply_outcome made those `unknown`)
            await self._release(key)
            raise as_activity_error(exc) from None
        await self._finish(key, outcome)
        return outcome

    @activity.defn(name="platform.status")
    async def status(self, request: StatusRequest) -> PublishOutcome:
        try:
            adapter = self.adapter(request.platform, request.account)
            return await counted(request.platform, "status", adapter.status(request.handle))
        except PlatformError as exc:
            raise as_activity_error(exc) from None

    @activity.defn(name="platform.inquiries")
    async def inquiries(self, request: InquiriesRequest) -> list[Inbound]:
        try:
            adapter = self.adapter(request.platform, request.account)
            return await heartbeating(
                counted(request.platform, "inquiries", adapter.inquiries(request.threads, request.since))
            )
        except PlatformError as exc:
            raise as_activity_error(exc) from None


async def publication_waiter(pool: asyncpg.Pool, platform: Platform, handle: str) -> str | None:
    """The workflow that published `handle` (a WeChat publish_id), for forwarding its callback."""
    workflow_id = await pool.fetchval(
        "SELECT workflow_id FROM platform_calls WHERE platform = $1 AND handle = $2", platform.value, handle
    )
    return str(workflow_id) if workflow_id else None


COMMENT_PLATFORMS = frozenset({Platform.WECHAT, Platform.WEBSITE, Platform.WEIBO, Platform.BAIJIAHAO})
"""Platforms whose comments we read by polling (they push none)."""

THREAD_IDS = {Platform.WECHAT: ("msg_data_id", "{}/0"), Platform.BAIJIAHAO: ("article_id", "{}")}
"""Where comments are read per article: the publication's platform id that names the article, and
the thread it makes (WeChat: 'msg_data_id/index'). The website and Weibo list comments to us whole."""


class ThreadsRequest(BaseModel):
    platform: Platform
    account: str


class PollWindowRequest(BaseModel):
    platform: Platform
    account: str
    fallback: datetime = Field(description="where a first poll starts (the workflow's lookback)")
    overlap: timedelta = Field(description="read this much before the last poll's end: late comments")
    longest: timedelta = Field(description="never further back than this (an account idle for months)")


class PolledRequest(BaseModel):
    platform: Platform
    account: str
    until: datetime


class CommentThreads:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @activity.defn(name="inquiries.poll_since")
    async def poll_since(self, request: PollWindowRequest) -> datetime:
        """Where this poll reads from: the last successful poll's end (less the overlap), else the
        workflow's own lookback; never before `fallback - longest`."""
        polled_to: datetime | None = await self.pool.fetchval(
            "SELECT polled_to FROM comment_poll_cursors WHERE platform = $1 AND account = $2",
            request.platform.value,
            request.account,
        )
        if polled_to is None:
            return request.fallback
        return max(min(polled_to - request.overlap, request.fallback), request.fallback - request.longest)

    @activity.defn(name="inquiries.polled")
    async def polled(self, request: PolledRequest) -> None:
        """Every comment up to `until` has become an inquiry: the next poll may start there."""
        await self.pool.execute(
            """INSERT INTO comment_poll_cursors (platform, account, polled_to) VALUES ($1, $2, $3)
               ON CONFLICT (platform, account) DO UPDATE
               SET polled_to = greatest(comment_poll_cursors.polled_to, EXCLUDED.polled_to)""",
            request.platform.value,
            request.account,
            request.until,
        )

    @activity.defn(name="inquiries.comment_threads")
    async def threads(self, request: ThreadsRequest) -> list[str]:
        """Our published articles whose comments to read, as threads (see THREAD_IDS)."""
        if request.platform not in THREAD_IDS:
            return []
        id_name, thread = THREAD_IDS[request.platform]
        rows = await self.pool.fetch(
            """SELECT DISTINCT outcome->'platform_ids'->>$3 AS article FROM platform_calls
                WHERE platform = $1 AND account = $2 AND operation = 'publish'
                  AND outcome->'platform_ids'->>$3 IS NOT NULL""",
            request.platform.value,
            request.account,
            id_name,
        )
        return [thread.format(r["article"]) for r in rows]
