"""The one way workflows record facts: append to the event store, at most once per event.

Activities run at least once (a worker can crash after the append committed but before Temporal
heard back). So every event id is derived from (workflow id, run id, sequence number): a retry
carries the same ids, and the store answers it with the original positions instead of a second
copy. The workflow passes the version it expects, so a concurrent writer is a conflict, never an
overwrite.
"""

import uuid

import asyncpg
from pydantic import BaseModel, ConfigDict, Field
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.events import EventMetadata, JsonObject
from eventstore.store import EventStore, IdempotencyViolation, NewEvent, WrongExpectedVersion

EVENT_ID_NAMESPACE = uuid.UUID("6f1d3c64-3c1e-4d0e-9a55-6d6564696f70")


class EventDraft(BaseModel):
    model_config = ConfigDict(extra="forbid")
    """A worker that does not know a field refuses the append (a data error, flagged) rather than
    record the events without it."""

    type: str
    data: JsonObject
    schema_version: int = Field(default=1, ge=1)
    metadata: EventMetadata | None = None
    """This event's own cause, where one append records events of different causes (a user's
    message and the process's answer to it); unset: the request's."""


class AppendRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stream_id: str
    expected_version: int = Field(ge=-1)
    first_sequence: int = Field(ge=0, description="how many events this workflow run appended before")
    events: list[EventDraft]
    metadata: EventMetadata


class Appended(BaseModel):
    stream_id: str
    positions: list[int]
    last_version: int | None


def event_id(workflow_id: str, run_id: str, sequence: int) -> uuid.UUID:
    """Deterministic: the same workflow run's n-th event always has the same id."""
    return uuid.uuid5(EVENT_ID_NAMESPACE, f"{workflow_id}/{run_id}/{sequence}")


class EventStoreActivities:
    def __init__(self, store: EventStore) -> None:
        self.store = store

    @activity.defn(name="eventstore.append")
    async def append(self, request: AppendRequest) -> Appended:
        info = activity.info()
        where = {"workflow_id": info.workflow_id, "run_id": info.workflow_run_id}
        events = [
            NewEvent(
                event_id=event_id(
                    info.workflow_id or "", info.workflow_run_id or "", request.first_sequence + i
                ),
                type=draft.type,
                schema_version=draft.schema_version,
                data=draft.data,
                metadata=(draft.metadata or request.metadata)
                .model_copy(update=where)
                .model_dump(mode="json", exclude_none=True),
            )
            for i, draft in enumerate(request.events)
        ]
        try:
            result = await self.store.append(request.stream_id, request.expected_version, events)
        except WrongExpectedVersion as exc:
            raise ApplicationError(str(exc), type="WrongExpectedVersion", non_retryable=True) from None
        except IdempotencyViolation as exc:
            raise ApplicationError(str(exc), type="IdempotencyViolation", non_retryable=True) from None
        except (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError) as exc:
            # The store refuses these events as they are (a value PostgreSQL cannot hold): no retry
            # mends that. Only the class is said; the message may quote the data.
            raise ApplicationError(
                f"the event store refused the events ({type(exc).__name__})",
                type="EventRefused",
                non_retryable=True,
            ) from None
        return Appended(
            stream_id=result.stream_id, positions=list(result.positions), last_version=result.last_version
        )
