"""Projections: read models kept up to date from the event store, exactly once per event.

A projection applies a batch of events to its tables and moves its checkpoint in the same
transaction, so a crash between the two cannot happen: either both are committed or neither is,
and the batch is simply applied again after a restart. The checkpoint only ever moves forward.
A projection can always be rebuilt from position 0, which is how a read model's shape changes.
"""

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import structlog

from eventstore.db import Conn
from eventstore.store import START, Cursor, EventStore, RecordedEvent

log = structlog.get_logger(__name__)

FIRST_PAUSE_S = 0.5
LONGEST_PAUSE_S = 30.0
HEALTHY_AFTER_S = 60.0
"""A follower that ran this long before it failed starts its backoff over."""


class Projection(Protocol):
    """A read model. `apply` and `reset` run inside the runner's transaction."""

    name: str

    async def apply(self, conn: Conn, events: Sequence[RecordedEvent]) -> None: ...

    async def reset(self, conn: Conn) -> None: ...


@dataclass(frozen=True)
class Lag:
    name: str
    checkpoint: Cursor
    events_behind: int


_CHECKPOINT = "SELECT transaction_id::text::bigint, position FROM projection_checkpoints WHERE name = $1"
_LOCK_CHECKPOINT = _CHECKPOINT + " FOR UPDATE"
_ADVANCE = """UPDATE projection_checkpoints
                 SET transaction_id = $2::text::xid8, position = $3, updated_at = now()
               WHERE name = $1"""


class ProjectionRunner:
    def __init__(self, store: EventStore, projection: Projection, *, batch_size: int = 1000) -> None:
        self.store = store
        self.projection = projection
        self.batch_size = batch_size

    async def _locked_checkpoint(self, conn: Conn) -> Cursor:
        """The checkpoint, row-locked: a second runner of the same projection waits its turn."""
        await conn.execute(
            "INSERT INTO projection_checkpoints (name) VALUES ($1) ON CONFLICT (name) DO NOTHING",
            self.projection.name,
        )
        row = await conn.fetchrow(_LOCK_CHECKPOINT, self.projection.name)
        assert row is not None  # noqa: S101 - inserted just above
        return Cursor(row[0], row[1])

    async def checkpoint(self) -> Cursor:
        row = await self.store.pool.fetchrow(_CHECKPOINT, self.projection.name)
        return START if row is None else Cursor(row[0], row[1])

    async def _apply(self, conn: Conn, checkpoint: Cursor, events: Sequence[RecordedEvent]) -> int:
        """Apply the events after `checkpoint` and move it past them (caller holds the transaction)."""
        fresh = [e for e in events if e.cursor > checkpoint]
        if not fresh:
            return 0
        await self.projection.apply(conn, fresh)
        new = fresh[-1].cursor
        await conn.execute(_ADVANCE, self.projection.name, str(new.transaction_id), new.position)
        return len(fresh)

    async def step(self) -> int:
        """Apply the next batch (if any) and move the checkpoint, atomically; returns its size."""
        async with self.store.pool.acquire() as conn, conn.transaction():
            checkpoint = await self._locked_checkpoint(conn)
            events = await self.store.read_all(checkpoint, self.batch_size, conn=conn)
            return await self._apply(conn, checkpoint, events)

    async def catch_up(self) -> int:
        """Apply batches until nothing readable is left; returns how many events were applied."""
        total = 0
        while applied := await self.step():
            total += applied
        return total

    async def rebuild(self) -> int:
        """Empty the read model and replay every event from position 0."""
        async with self.store.pool.acquire() as conn, conn.transaction():
            await self._locked_checkpoint(conn)
            await self.projection.reset(conn)
            await conn.execute(_ADVANCE, self.projection.name, "0", 0)
        return await self.catch_up()

    async def follow(self, *, poll_interval: float = 1.0) -> None:
        """Keep the read model current for ever: catch up, then apply each live batch as it comes.

        Every batch is applied under the checkpoint's row lock and filtered against it, so two
        runners of one projection (two workers) never apply an event twice.
        """
        await self.catch_up()
        async for batch in self.store.batches(
            await self.checkpoint(), batch_size=self.batch_size, poll_interval=poll_interval
        ):
            async with self.store.pool.acquire() as conn, conn.transaction():
                await self._apply(conn, await self._locked_checkpoint(conn), batch)

    async def supervise(self, *, poll_interval: float = 1.0) -> None:
        """`follow` for as long as the process runs: a failure never ends it quietly (H7).

        PostgreSQL restarting, a connection terminated, an event this code cannot read yet: each is
        logged with the projection's name and followed again after a pause that grows to
        `LONGEST_PAUSE_S`; `mediaops events projections` and `/readyz` show how far it trails.
        """
        pause = FIRST_PAUSE_S
        while True:
            began = time.monotonic()
            try:
                await self.follow(poll_interval=poll_interval)
            except Exception as exc:
                if time.monotonic() - began > HEALTHY_AFTER_S:
                    pause = FIRST_PAUSE_S
                log.error(
                    "projection stopped; following again",
                    projection=self.projection.name,
                    error=f"{type(exc).__name__}: {exc}",
                    retry_in_s=pause,
                )
            await asyncio.sleep(pause)
            pause = min(pause * 2, LONGEST_PAUSE_S)

    async def lag(self) -> Lag:
        """How far the read model trails the store (committed events it has not applied)."""
        async with self.store.pool.acquire() as conn:
            found = await lags(conn, self.projection.name)
            if found:
                return found[0]
            behind = await conn.fetchval("SELECT count(*) FROM events")
        return Lag(self.projection.name, START, int(behind))


_LAGS = """
    SELECT c.name, c.transaction_id::text::bigint, c.position,
           (SELECT count(*) FROM events e
             WHERE (e.transaction_id, e.position) > (c.transaction_id, c.position)) AS behind
      FROM projection_checkpoints c
     WHERE $1::text IS NULL OR c.name = $1
     ORDER BY c.name"""


async def lags(conn: Conn, name: str | None = None) -> list[Lag]:
    """Every projection's (or one's) checkpoint and the committed events it has yet to apply."""
    rows = await conn.fetch(_LAGS, name)
    return [Lag(r["name"], Cursor(r[1], r[2]), int(r["behind"])) for r in rows]
