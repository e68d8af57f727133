"""The event store: append with optimistic concurrency, read a stream, follow everything in order.

Guarantees (each proved by a test in tests/integration/test_eventstore*.py against PostgreSQL):
- an append is atomic, and a stale expected version is a conflict, never an overwrite;
- an append retried after a lost acknowledgement returns the original positions; the same
  event id with a different body is an error;
- readers of the global order never skip a committed event (see the 0002 migration);
- events are immutable and each stream is hash-chained (eventstore/verify.py checks it).
"""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

import asyncpg

from domain.events import REGISTRY, EventRegistry
from eventstore.db import Conn

NO_STREAM = 0
"""Expected version of a stream that must not exist yet."""
ANY = -1
"""Expected version that accepts whatever the stream's head is."""

CHANNEL = "mediaops_events"
_CONFLICT = "MOC01"
_RETRIES_FOR_ANY = 20
_MIN_BACKOFF_S = 0.001
_MAX_BACKOFF_S = 0.064


class EventStoreError(Exception):
    pass


class WrongExpectedVersion(EventStoreError):
    """Someone else appended first: re-read the stream and decide again."""

    def __init__(self, stream_id: str, expected: int, detail: str = "") -> None:
        super().__init__(
            f"stream {stream_id}: expected version {expected}" + (f" ({detail})" if detail else "")
        )
        self.stream_id = stream_id
        self.expected = expected


class _StaleHead(Exception):
    """The single-event statement inserted nothing: the stream's head is not the expected one."""


class IdempotencyViolation(EventStoreError):
    """An event id was already recorded with a different body, or a batch was half recorded."""


@dataclass(frozen=True, order=True)
class Cursor:
    """A place in the global order: (writing transaction id, position)."""

    transaction_id: int = 0
    position: int = 0


START = Cursor()


@dataclass(frozen=True)
class NewEvent:
    event_id: UUID
    type: str
    data: Mapping[str, Any]
    metadata: Mapping[str, Any] = field(default_factory=dict)
    schema_version: int = 1


class RecordedEvent(NamedTuple):
    """An event as stored. A named tuple: immutable, and cheap to build by the million (rebuilds)."""

    position: int
    transaction_id: int
    stream_id: str
    stream_version: int
    event_id: UUID
    type: str
    schema_version: int
    data: dict[str, Any]
    metadata: dict[str, Any]
    recorded_at: datetime

    @property
    def cursor(self) -> Cursor:
        return Cursor(self.transaction_id, self.position)


@dataclass(frozen=True)
class AppendResult:
    stream_id: str
    positions: tuple[int, ...]
    versions: tuple[int, ...]
    transaction_id: int | None = None

    @property
    def last_version(self) -> int | None:
        return self.versions[-1] if self.versions else None


_COLUMNS = (
    "position, transaction_id::text::bigint AS transaction_id, stream_id, stream_version, event_id, type, "
    "schema_version, data, metadata, recorded_at"
)
_SELECT = f"SELECT {_COLUMNS} FROM events"  # noqa: S608 - built from constants only
_APPEND = "SELECT out_position, out_version, out_transaction FROM mediaops_append($1, $2, $3, $4, $5, $6, $7)"
_APPEND_ONE = """
    WITH head AS (
        SELECT coalesce(last.v, 0) AS v, coalesce(last.h, $8::bytea) AS h
          FROM (SELECT 1) AS one
          LEFT JOIN LATERAL (SELECT e.stream_version AS v, e.hash AS h FROM events e
                              WHERE e.stream_id = $1 ORDER BY e.stream_version DESC LIMIT 1) AS last ON true)
    INSERT INTO events (stream_id, stream_version, event_id, type, schema_version, data, metadata,
                        recorded_at, prev_hash, hash)
    SELECT $1, head.v + 1, $3, $4, $5, $6, $7, now(), head.h,
           mediaops_event_hash(head.h, $1, head.v + 1, $3, $4, $5, $6, $7, now())
      FROM head
     WHERE $2 < 0 OR $2 = head.v
    RETURNING position, stream_version, transaction_id::text"""
"""One event, one plain statement: the same head check and hash link as mediaops_append, without
the cost of a function call (the common case: a workflow records one decision at a time)."""
_GENESIS = bytes(32)
_READ_STREAM = _SELECT + " WHERE stream_id = $1 AND stream_version >= $2 ORDER BY stream_version"
_HEAD = "SELECT max(stream_version) FROM events WHERE stream_id = $1"
_RECORDED = _SELECT + " WHERE event_id = ANY($1)"
_READ_ALL = (
    _SELECT
    + """
     WHERE (transaction_id, position) > ($1::text::xid8, $2)
       AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
     ORDER BY events.transaction_id, events.position  -- the columns, not the converted output names
     LIMIT $3"""
)


def _statement(stream_id: str, expected: int, events: Sequence[NewEvent]) -> tuple[str, tuple[Any, ...]]:
    """The cheapest statement for the batch: a plain INSERT for one event, the function for more."""
    if len(events) == 1:
        e = events[0]
        return _APPEND_ONE, (
            stream_id,
            expected,
            e.event_id,
            e.type,
            e.schema_version,
            e.data,
            e.metadata,
            _GENESIS,
        )
    return _APPEND, (
        stream_id,
        expected,
        [e.event_id for e in events],
        [e.type for e in events],
        [e.schema_version for e in events],
        [e.data for e in events],
        [e.metadata for e in events],
    )


def _recorded(rows: Sequence[asyncpg.Record], registry: EventRegistry) -> list[RecordedEvent]:
    """Rows as events, each payload brought to the current schema version of its type, if known."""
    events = list(map(RecordedEvent._make, rows))
    current = registry.current_versions()
    for i, event in enumerate(events):
        version = current.get(event.type, event.schema_version)
        if version != event.schema_version:
            data = registry.upcast(event.type, event.schema_version, event.data)
            events[i] = event._replace(data=data, schema_version=version)
    return events


def _canonical(value: Mapping[str, Any]) -> Any:
    """What a mapping looks like after a trip through jsonb, to compare a retry with the original."""
    return json.loads(json.dumps(value))


class EventStore:
    """Events in and out; reads upcast known types to their current schema through `registry`."""

    def __init__(self, pool: asyncpg.Pool, registry: EventRegistry = REGISTRY) -> None:
        self.pool = pool
        self.registry = registry
        self._wake = asyncio.Event()
        self._notifier: asyncio.Task[None] | None = None

    async def append(
        self, stream_id: str, expected_version: int, events: Sequence[NewEvent], *, conn: Conn | None = None
    ) -> AppendResult:
        """Append `events` to `stream_id` if its head is `expected_version` (or ANY).

        With `conn`, the append joins that connection's transaction (committed by the caller).
        """
        if not events:
            return AppendResult(stream_id, (), ())
        if conn is not None:
            return await self._append_on(conn, stream_id, expected_version, events)
        async with self.pool.acquire() as own:
            result = await self._append_on(own, stream_id, expected_version, events)
        self.hint()
        return result

    async def _append_on(
        self, conn: Conn, stream_id: str, expected: int, events: Sequence[NewEvent]
    ) -> AppendResult:
        sql, args = _statement(stream_id, expected, events)
        for _ in range(_RETRIES_FOR_ANY):
            try:
                if conn.is_in_transaction():
                    async with conn.transaction():  # a savepoint: a conflict must not doom the caller's work
                        rows = await conn.fetch(sql, *args)
                else:
                    rows = await conn.fetch(sql, *args)
                if not rows:  # the single-event statement found the head elsewhere than expected
                    raise _StaleHead
            except (asyncpg.PostgresError, _StaleHead) as exc:
                stale = isinstance(exc, _StaleHead) or exc.sqlstate == _CONFLICT
                if not stale and not isinstance(exc, asyncpg.UniqueViolationError):
                    raise
                original = await self._already_recorded(conn, stream_id, events)
                if original is not None:
                    return original
                if getattr(exc, "constraint_name", None) == "events_event_id_key":
                    raise IdempotencyViolation(str(exc)) from None
                if expected == ANY:
                    continue
                head = await conn.fetchval(_HEAD, stream_id)
                raise WrongExpectedVersion(
                    stream_id,
                    expected,
                    f"stream {stream_id} is at version {head or 0}, not the expected {expected}",
                ) from None
            rows = sorted(rows, key=lambda r: r[1])
            return AppendResult(
                stream_id,
                tuple(r[0] for r in rows),
                tuple(r[1] for r in rows),
                int(rows[0][2]) if rows else None,
            )
        raise WrongExpectedVersion(stream_id, expected, "too much contention")

    async def _already_recorded(
        self, conn: Conn, stream_id: str, events: Sequence[NewEvent]
    ) -> AppendResult | None:
        """The original result when this exact batch was recorded before (a retried append)."""
        ids = [e.event_id for e in events]
        rows = await conn.fetch(_RECORDED, ids)
        if not rows:
            return None
        found = {e.event_id: e for e in map(RecordedEvent._make, rows)}
        for event in events:
            original = found.get(event.event_id)
            if original is None:
                raise IdempotencyViolation(f"part of this batch was recorded before, not {event.event_id}")
            same = (
                original.stream_id == stream_id
                and original.type == event.type
                and original.schema_version == event.schema_version
                and original.data == _canonical(event.data)
                and original.metadata == _canonical(event.metadata)
            )
            if not same:
                raise IdempotencyViolation(
                    f"event {event.event_id} was recorded before with a different body "
                    f"(stream {original.stream_id} version {original.stream_version})"
                )
        ordered = sorted(found.values(), key=lambda e: e.stream_version)
        return AppendResult(
            stream_id,
            tuple(e.position for e in ordered),
            tuple(e.stream_version for e in ordered),
            ordered[0].transaction_id,
        )

    async def stream_version(self, stream_id: str) -> int:
        """The stream's head version (NO_STREAM when it has no events)."""
        version = await self.pool.fetchval(
            "SELECT max(stream_version) FROM events WHERE stream_id = $1", stream_id
        )
        return int(version or NO_STREAM)

    async def read_stream(self, stream_id: str, from_version: int = 1) -> list[RecordedEvent]:
        return _recorded(await self.pool.fetch(_READ_STREAM, stream_id, from_version), self.registry)

    async def read_all(
        self, after: Cursor = START, limit: int = 1000, *, conn: Conn | None = None
    ) -> list[RecordedEvent]:
        """Events after `after` in commit-safe global order: nothing committed is ever skipped."""
        source = conn if conn is not None else self.pool
        rows = await source.fetch(_READ_ALL, str(after.transaction_id), after.position, limit)
        return _recorded(rows, self.registry)

    def hint(self) -> None:
        """Wake subscribers after a commit: one NOTIFY for any number of appends in quick succession.

        Sent outside the append's transaction (NOTIFY inside it would serialise every commit on a
        database-wide lock); subscribers also poll, so a lost hint delays but loses nothing.
        """
        self._wake.set()
        if self._notifier is None or self._notifier.done():
            self._notifier = asyncio.get_running_loop().create_task(self._notify_loop())

    async def _notify_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            with contextlib.suppress(asyncpg.PostgresError, OSError, asyncpg.InterfaceError):
                await self.pool.execute(f"NOTIFY {CHANNEL}")

    async def close(self) -> None:
        if self._notifier is not None:
            self._notifier.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._notifier
            self._notifier = None

    async def subscribe(
        self, after: Cursor = START, *, batch_size: int = 1000, poll_interval: float = 1.0
    ) -> AsyncIterator[RecordedEvent]:
        """Every event after `after`, exactly once, in global order: catch-up, then live."""
        async for batch in self.batches(after, batch_size=batch_size, poll_interval=poll_interval):
            for event in batch:
                yield event

    async def batches(
        self, after: Cursor = START, *, batch_size: int = 1000, poll_interval: float = 1.0
    ) -> AsyncIterator[list[RecordedEvent]]:
        """Like `subscribe`, a batch at a time (projections apply a batch per transaction).

        A hint can arrive while the new events still sit behind another running transaction
        (below the xmin horizon they become readable); then we re-read after 1, 2, 4 ... 64 ms
        before going back to waiting for the next hint or the poll interval.
        """
        woken = asyncio.Event()

        def on_notify(*_: object) -> None:
            woken.set()

        listener = await self.pool.acquire()
        await listener.add_listener(CHANNEL, on_notify)
        cursor, backoff = after, 0.0
        try:
            while True:
                woken.clear()
                batch = await self.read_all(cursor, batch_size)
                if batch:
                    cursor, backoff = batch[-1].cursor, 0.0
                    yield batch
                elif backoff:
                    await asyncio.sleep(backoff)
                    backoff = backoff * 2 if backoff < _MAX_BACKOFF_S else 0.0
                elif await _woken(woken, poll_interval):
                    backoff = _MIN_BACKOFF_S
        finally:
            with contextlib.suppress(asyncpg.InterfaceError, asyncpg.PostgresError, OSError):
                await listener.remove_listener(CHANNEL, on_notify)
            await self.pool.release(listener)


async def _woken(event: asyncio.Event, within: float) -> bool:
    """True when a hint arrived, False when the poll interval ran out first."""
    try:
        await asyncio.wait_for(event.wait(), within)
    except TimeoutError:
        return False
    return True
