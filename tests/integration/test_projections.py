"""Guarantee 5: exactly-once projection effects, crash-safe, rebuildable, checkpoint only forward."""

import asyncio
import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import Sequence

import asyncpg
import pytest

from eventstore.db import Conn
from eventstore.projections import ProjectionRunner
from eventstore.store import ANY, EventStore, NewEvent, RecordedEvent


class CountPerStream:
    """Counts events per stream, and sums a field: wrong after any double or missed apply."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.table = f"rm_{name}"
        self.pause_after_apply: asyncio.Event | None = None
        self.applied_once = asyncio.Event()

    async def create(self, conn: Conn) -> None:
        await conn.execute(
            f"CREATE TABLE IF NOT EXISTS {self.table} (stream_id text PRIMARY KEY, n bigint, total bigint)"
        )

    async def apply(self, conn: Conn, events: Sequence[RecordedEvent]) -> None:
        await conn.executemany(
            f"""INSERT INTO {self.table} AS t VALUES ($1, 1, $2)
                ON CONFLICT (stream_id) DO UPDATE SET n = t.n + 1, total = t.total + EXCLUDED.total""",  # noqa: S608
            [(e.stream_id, int(e.data.get("amount", 0))) for e in events],
        )
        self.applied_once.set()
        if self.pause_after_apply is not None:
            await self.pause_after_apply.wait()  # "crash" here: between apply and commit

    async def reset(self, conn: Conn) -> None:
        await conn.execute(f"TRUNCATE {self.table}")

    async def rows(self, conn: Conn) -> list[tuple[str, int, int]]:
        return [tuple(r) for r in await conn.fetch(f"SELECT * FROM {self.table} ORDER BY stream_id")]  # noqa: S608


async def fill(store: EventStore, streams: int, per_stream: int) -> list[str]:
    names = [f"p-{uuid.uuid4().hex[:6]}-{s}" for s in range(streams)]
    for name in names:
        for i in range(per_stream):
            await store.append(name, ANY, [NewEvent(uuid.uuid4(), "amount.added", {"amount": i + 1})])
    return names


async def test_killed_between_apply_and_commit_then_restarted_equals_a_clean_rebuild(
    store: EventStore, db: asyncpg.Connection
) -> None:
    crashing = CountPerStream(f"crash_{uuid.uuid4().hex[:6]}")
    clean = CountPerStream(f"clean_{uuid.uuid4().hex[:6]}")
    await crashing.create(db)
    await clean.create(db)
    await fill(store, streams=20, per_stream=15)

    first = ProjectionRunner(store, crashing, batch_size=50)
    assert await first.step() == 50
    checkpoint_before = await first.checkpoint()

    crashing.applied_once.clear()
    crashing.pause_after_apply = asyncio.Event()
    stuck = asyncio.create_task(first.step())
    await crashing.applied_once.wait()
    killed = await db.fetchval(
        """SELECT pg_terminate_backend(pid) FROM pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_backend_pid()
              AND xact_start IS NOT NULL AND state LIKE 'idle in transaction%'"""
    )
    assert killed
    crashing.pause_after_apply.set()
    with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, ConnectionError)):
        await stuck
    assert await first.checkpoint() == checkpoint_before  # the killed batch left no trace

    crashing.pause_after_apply = None
    restarted = ProjectionRunner(store, crashing, batch_size=50)
    await restarted.catch_up()
    rebuilt = ProjectionRunner(store, clean, batch_size=1000)
    await rebuilt.rebuild()
    assert await crashing.rows(db) == await clean.rows(db)
    assert len(await clean.rows(db)) >= 20
    assert (await restarted.lag()).events_behind == 0


async def test_the_checkpoint_only_moves_forward(store: EventStore, db: asyncpg.Connection) -> None:
    projection = CountPerStream(f"fwd_{uuid.uuid4().hex[:6]}")
    await projection.create(db)
    runner = ProjectionRunner(store, projection, batch_size=10)
    seen = [await runner.checkpoint()]
    await fill(store, streams=3, per_stream=10)
    while await runner.step():
        seen.append(await runner.checkpoint())
    assert seen == sorted(seen)
    assert len(set(seen)) == len(seen)
    with pytest.raises(asyncpg.PostgresError, match="may not move backwards"):
        await db.execute(
            "UPDATE projection_checkpoints SET position = position - 1 WHERE name = $1", projection.name
        )


async def test_rebuild_from_zero_equals_incremental(store: EventStore, db: asyncpg.Connection) -> None:
    projection = CountPerStream(f"rb_{uuid.uuid4().hex[:6]}")
    await projection.create(db)
    runner = ProjectionRunner(store, projection, batch_size=7)
    await fill(store, streams=4, per_stream=6)
    await runner.catch_up()
    incremental = await projection.rows(db)
    await runner.rebuild()
    assert await projection.rows(db) == incremental


async def test_following_live_applies_new_events_and_lag_drops_to_zero(
    store: EventStore, db: asyncpg.Connection
) -> None:
    projection = CountPerStream(f"live_{uuid.uuid4().hex[:6]}")
    await projection.create(db)
    runner = ProjectionRunner(store, projection)
    follower = asyncio.create_task(runner.follow(poll_interval=0.2))
    names = await fill(store, streams=2, per_stream=5)
    for _ in range(100):
        if (await runner.lag()).events_behind == 0:
            break
        await asyncio.sleep(0.05)
    follower.cancel()
    assert (await runner.lag()).events_behind == 0
    counted = {stream: (n, total) for stream, n, total in await projection.rows(db)}
    assert [counted[name] for name in names] == [(5, 15), (5, 15)]


async def test_two_runners_of_one_projection_never_apply_twice(
    store: EventStore, db: asyncpg.Connection
) -> None:
    projection = CountPerStream(f"two_{uuid.uuid4().hex[:6]}")
    await projection.create(db)
    await fill(store, streams=5, per_stream=20)
    a, b = (
        ProjectionRunner(store, projection, batch_size=9),
        ProjectionRunner(store, projection, batch_size=13),
    )
    await asyncio.gather(a.catch_up(), b.catch_up())
    clean = CountPerStream(f"twoclean_{uuid.uuid4().hex[:6]}")
    await clean.create(db)
    await ProjectionRunner(store, clean).rebuild()
    assert await projection.rows(db) == await clean.rows(db)


async def test_the_command_shows_each_projections_lag(
    store: EventStore, db: asyncpg.Connection, database: str
) -> None:
    projection = CountPerStream(f"cli_{uuid.uuid4().hex[:6]}")
    await projection.create(db)
    await ProjectionRunner(store, projection).catch_up()
    await fill(store, streams=1, per_stream=3)
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "cli", "events", "projections"],
        env={**os.environ, "DATABASE_URL": database},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    [line] = [line for line in result.stdout.splitlines() if line.startswith(projection.name)]
    assert line.endswith("behind 3")


async def test_a_supervised_follower_survives_its_connections_being_terminated(
    store: EventStore, db: asyncpg.Connection
) -> None:
    """H7: PostgreSQL drops every connection of the running system; the read model catches up."""
    projection = CountPerStream(f"super_{uuid.uuid4().hex[:6]}")
    await projection.create(db)
    runner = ProjectionRunner(store, projection)
    supervised = asyncio.create_task(runner.supervise(poll_interval=0.2))
    first = await fill(store, streams=1, per_stream=3)
    await projection.applied_once.wait()
    terminated = await db.fetchval(
        """SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_backend_pid()"""
    )
    assert terminated >= 1
    second = [f"p-{uuid.uuid4().hex[:6]}-after"]
    for i in range(4):  # each append as the activity does it: retried when its connection had gone
        for _attempt in range(3):
            try:
                await store.append(
                    second[0], ANY, [NewEvent(uuid.uuid4(), "amount.added", {"amount": i + 1})]
                )
                break
            except Exception:
                await asyncio.sleep(0.1)
    for _ in range(200):
        if (await runner.lag()).events_behind == 0:
            break
        await asyncio.sleep(0.05)
    assert not supervised.done()
    supervised.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await supervised  # its connections are back in the pool before the module's pool closes
    counted = {stream: (n, total) for stream, n, total in await projection.rows(db)}
    assert [counted[name] for name in first + second] == [(3, 6), (4, 10)]
