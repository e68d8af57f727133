"""The snapshot activity: a platform's figures for a range, asked once and kept as an event.

A report compares figures from the record, never from the platform: live figures move (late data,
corrections), and a report made again must say what it said. So the first answer for a platform
account and range is appended to its own stream (`snapshot_stream`) at version 0, under an event id
derived from the stream; every later ask, a retried attempt or another worker racing this one, gets
that stored event back and the platform is not asked again.

What a platform cannot give (no figures API, figures not final yet, a refusal) is answered as
*missing* with the reason, and nothing is stored: a later run may ask again. Only a failure worth
retrying (the platform is busy, down or unreachable) is raised, for Temporal to retry.
"""

import uuid
from datetime import UTC, date, datetime, time, timedelta

import structlog
from pydantic import BaseModel, ConfigDict
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.eventstore import EVENT_ID_NAMESPACE
from activities.platform_calls import PlatformCalls, as_activity_error, counted, heartbeating
from activities.platforms.base import MaybeSent, PlatformError
from domain.durations import Instant
from domain.events import EventMetadata
from domain.metrics import Figures, SnapshotTaken, snapshot_stream
from domain.periods import local
from domain.platforms import Platform
from domain.policy import Policy
from domain.rules import RuleId
from eventstore.store import NO_STREAM, EventStore, IdempotencyViolation, NewEvent, WrongExpectedVersion

log = structlog.get_logger(__name__)

SNAPSHOT_METADATA = EventMetadata(actor="mediaops", rule_ids=(RuleId.WEEKLY, RuleId.MONTHLY))
"""Snapshots are the system's own record, kept for the meetings that compare periods."""


class SnapshotRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    platform: Platform
    account: str
    begin: date
    end: date
    """The range's last day, inclusive."""


class SnapshotAnswer(BaseModel):
    """The stored snapshot (its event id, figures and when they were asked), or why it is missing."""

    model_config = ConfigDict(frozen=True)

    stream_id: str
    event_id: str | None = None
    figures: Figures | None = None
    fetched_at: Instant | None = None
    missing: str | None = None
    """Why there are no figures for this run (None: there are)."""
    code: str | None = None
    """The missing figures' class: `unsupported`, `not_ready`, `at_a_moment`, or the platform's code."""


def snapshot_id(stream_id: str) -> uuid.UUID:
    """The one event id a stream's snapshot can have: a repeated or racing append is the same event."""
    return uuid.uuid5(EVENT_ID_NAMESPACE, stream_id)


class Snapshots:
    """Shares the platform activities' adapters (one token and connection pool per account)."""

    def __init__(self, calls: PlatformCalls, store: EventStore, policy: Policy) -> None:
        self.calls = calls
        self.store = store
        self.policy = policy

    @activity.defn(name="metrics.snapshot")
    async def snapshot(self, request: SnapshotRequest) -> SnapshotAnswer:
        stream = snapshot_stream(request.platform, request.account, request.begin, request.end)
        stored = await self.stored(stream)
        if stored is not None:
            return stored
        ended = local(request.end + timedelta(days=1), time(0), self.policy.zone)
        if datetime.now(UTC) < ended:
            reason = f"the range up to {request.end.isoformat()} is not over yet: its figures are not final"
            return missing(request, stream, reason, "not_ready")
        try:
            adapter = self.calls.adapter(request.platform, request.account)
            figures = await heartbeating(
                counted(request.platform, "metrics", adapter.metrics(request.begin, request.end))
            )
        except MaybeSent as exc:  # a read: asking again is harmless
            raise ApplicationError(str(exc), type="Platform:no_answer") from None
        except PlatformError as exc:
            if exc.retryable:
                raise as_activity_error(exc) from None
            return missing(request, stream, exc.message, exc.code)
        if not self.stands_for_range(figures, ended):
            names = " and ".join(figures.values)
            reason = f"{request.platform} gives {names} only as they are now; this range ended too long ago"
            return missing(request, stream, reason, "at_a_moment")
        return await self.keep(stream, SnapshotTaken(figures=figures, fetched_at=datetime.now(UTC)))

    def stands_for_range(self, figures: Figures, ended: datetime) -> bool:
        """Whether figures may stand for a range that `ended`: any figure of the range does; a count
        as it was at one moment (Weibo's followers now) only if that moment is soon after the end."""
        moment = figures.platform_time
        within = self.policy.accounts.figures_at_a_moment_within
        return moment is None or ended <= moment <= ended + within

    async def stored(self, stream: str) -> SnapshotAnswer | None:
        """The snapshot the stream holds, if one was taken."""
        for event in await self.store.read_stream(stream):
            if event.type == "metrics.snapshot_taken":
                taken = SnapshotTaken.model_validate(event.data)
                return answer(stream, event.event_id, taken)
        return None

    async def keep(self, stream: str, taken: SnapshotTaken) -> SnapshotAnswer:
        """Append the snapshot, unless another attempt did first: then theirs is the one kept."""
        info = activity.info()
        metadata = SNAPSHOT_METADATA.model_copy(
            update={"workflow_id": info.workflow_id, "run_id": info.workflow_run_id}
        )
        event = NewEvent(
            event_id=snapshot_id(stream),
            type=taken.type,
            data=taken.payload(),
            metadata=metadata.model_dump(mode="json", exclude_none=True),
        )
        try:
            await self.store.append(stream, NO_STREAM, [event])
        except (WrongExpectedVersion, IdempotencyViolation):  # the same id, other figures: a race lost
            earlier = await self.stored(stream)
            if earlier is None:
                raise
            return earlier
        log.info("figures snapshot taken", stream=stream)
        return answer(stream, event.event_id, taken)


def answer(stream: str, event_id: uuid.UUID, taken: SnapshotTaken) -> SnapshotAnswer:
    return SnapshotAnswer(
        stream_id=stream, event_id=str(event_id), figures=taken.figures, fetched_at=taken.fetched_at
    )


def missing(request: SnapshotRequest, stream: str, reason: str, code: str | None) -> SnapshotAnswer:
    log.info("figures missing", platform=request.platform, account=request.account, code=code, reason=reason)
    return SnapshotAnswer(stream_id=stream, missing=reason, code=code)
