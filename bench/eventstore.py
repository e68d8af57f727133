"""The event store against raw asyncpg on the same database, in the same run: ratios, not times.

    python -m bench.eventstore            # starts its own embedded PostgreSQL (fsync off)
    DATABASE_URL=postgresql://... python -m bench.eventstore

Each figure compares our store with the plainest code that stores the same rows: single-row
INSERTs, `INSERT ... SELECT unnest` batches, a plain SELECT of a stream, and a plain scan plus an
in-memory fold of every event. Rounds alternate raw and ours and the median is kept, so drift of
the machine hits both sides. The last line printed is one JSON object; progress goes to stderr.
The embedded server runs with fsync off so that round trips and CPU, not the disk, are compared.
"""

import asyncio
import json
import os
import random
import statistics
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg

from bench import migrated_database
from deploy.postgres import scratch_server
from eventstore.db import Conn, connect, create_pool
from eventstore.projections import ProjectionRunner
from eventstore.store import ANY, NO_STREAM, EventStore, NewEvent, RecordedEvent

ROUNDS = 3
SINGLE_1CONN = 3000
SINGLE_16CONN = 16 * 600
BATCHES = 150
BATCH = 100
STREAM_LEN = 1000
REBUILD_EVENTS = 1_000_000
FRESHNESS_S = 5.0

RAW_SCHEMA = """
CREATE TABLE raw_events (
    position bigserial PRIMARY KEY, stream_id text NOT NULL, stream_version bigint NOT NULL,
    event_id uuid NOT NULL UNIQUE, type text NOT NULL, schema_version integer NOT NULL,
    data jsonb NOT NULL, metadata jsonb NOT NULL, recorded_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (stream_id, stream_version));
CREATE TABLE rm_totals (stream_id text PRIMARY KEY, n bigint NOT NULL, total bigint NOT NULL);
"""
RAW_COLUMNS = "stream_id, stream_version, event_id, type, schema_version, data, metadata"
RAW_INSERT = f"INSERT INTO raw_events ({RAW_COLUMNS}) VALUES ($1, $2, $3, $4, 1, $5, $6)"  # noqa: S608
RAW_BATCH = f"""INSERT INTO raw_events ({RAW_COLUMNS})
    SELECT $1, v, id, $2, 1, d, m FROM unnest($3::bigint[], $4::uuid[], $5::jsonb[], $6::jsonb[]) AS u(v, id, d, m)"""  # noqa: S608, E501
RAW_STREAM = """SELECT position, stream_id, stream_version, event_id, type, schema_version, data, metadata,
                       recorded_at FROM raw_events WHERE stream_id = $1 ORDER BY stream_version"""
RAW_SCAN = """SELECT position, stream_id, stream_version, event_id, type, schema_version, data, metadata,
                     recorded_at FROM events ORDER BY position"""
METADATA = {"actor": "bench", "role": "content_specialist", "rule_ids": ["R-REVIEW-ALL"]}


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def event(n: int) -> NewEvent:
    return NewEvent(uuid.uuid4(), "bench.happened", {"n": n, "text": "本周推文数据对比"}, METADATA)


def columns(events: Sequence[NewEvent]) -> tuple[list[int], list[uuid.UUID], list[Any], list[Any]]:
    """The raw batch's arrays: the same rows, and the same bytes on the wire, as our append sends."""
    return (
        list(range(1, len(events) + 1)),
        [e.event_id for e in events],
        [e.data for e in events],
        [e.metadata for e in events],
    )


def name() -> str:
    return uuid.uuid4().hex[:12]


async def rate(
    op: Callable[[Conn, int, int], Awaitable[None]], pool: asyncpg.Pool, total: int, conns: int
) -> float:
    """Operations per second, `conns` connections each running its share sequentially."""

    async def worker(w: int) -> None:
        async with pool.acquire() as conn:
            for i in range(total // conns):
                await op(conn, w, i)

    start = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(conns)))
    return (total // conns * conns) / (time.perf_counter() - start)


async def single_event_ratio(store: EventStore, pool: asyncpg.Pool, total: int, conns: int) -> float:
    raw_rates, our_rates = [], []
    for _ in range(ROUNDS):
        streams = [name() for _ in range(conns)]

        async def raw(conn: Conn, w: int, i: int, streams: Sequence[str] = streams) -> None:
            e = event(i)
            await conn.execute(RAW_INSERT, streams[w], i + 1, e.event_id, e.type, e.data, e.metadata)

        async def ours(conn: Conn, w: int, i: int, streams: Sequence[str] = streams) -> None:
            await store.append(streams[w], i, [event(i)], conn=conn)

        raw_rates.append(await rate(raw, pool, total, conns))
        our_rates.append(await rate(ours, pool, total, conns))
    raw, ours = statistics.median(raw_rates), statistics.median(our_rates)
    say(f"  single events, {conns} conn: raw {raw:,.0f}/s, ours {ours:,.0f}/s")
    return ours / raw


async def batch_ratio(store: EventStore, pool: asyncpg.Pool) -> float:
    raw_rates, our_rates = [], []
    for _ in range(ROUNDS):

        async def raw(conn: Conn, _w: int, _i: int) -> None:
            events = [event(n) for n in range(BATCH)]
            await conn.execute(RAW_BATCH, name(), "bench.happened", *columns(events))

        async def ours(conn: Conn, _w: int, _i: int) -> None:
            await store.append(name(), NO_STREAM, [event(n) for n in range(BATCH)], conn=conn)

        raw_rates.append(await rate(raw, pool, BATCHES, 1) * BATCH)
        our_rates.append(await rate(ours, pool, BATCHES, 1) * BATCH)
    raw, ours = statistics.median(raw_rates), statistics.median(our_rates)
    say(f"  {BATCH}-event batches: raw {raw:,.0f} events/s, ours {ours:,.0f} events/s")
    return ours / raw


async def read_stream_ratio(store: EventStore, pool: asyncpg.Pool) -> float:
    stream = name()
    events = [event(n) for n in range(STREAM_LEN)]
    await store.append(stream, NO_STREAM, events)
    await pool.execute(RAW_BATCH, stream, "bench.happened", *columns(events))
    raw_times, our_times = [], []
    for _ in range(ROUNDS * 20):
        start = time.perf_counter()
        rows = await pool.fetch(RAW_STREAM, stream)
        assert len(rows) == STREAM_LEN  # noqa: S101
        raw_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        assert len(await store.read_stream(stream)) == STREAM_LEN  # noqa: S101
        our_times.append(time.perf_counter() - start)
    raw, ours = statistics.median(raw_times), statistics.median(our_times)
    say(f"  read a {STREAM_LEN}-event stream: raw {raw * 1000:.2f} ms, ours {ours * 1000:.2f} ms")
    return raw / ours


class Totals:
    """A read model: events and the sum of `n` per stream, folded in memory, upserted per batch."""

    name = "bench_totals"

    async def apply(self, conn: Conn, events: Sequence[RecordedEvent]) -> None:
        counts: Counter[str] = Counter()
        totals: Counter[str] = Counter()
        for e in events:
            counts[e.stream_id] += 1
            totals[e.stream_id] += e.data.get("n", 0)
        await conn.execute(
            """INSERT INTO rm_totals AS t SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[])
               ON CONFLICT (stream_id)
               DO UPDATE SET n = t.n + EXCLUDED.n, total = t.total + EXCLUDED.total""",
            list(counts),
            list(counts.values()),
            [totals[s] for s in counts],
        )

    async def reset(self, conn: Conn) -> None:
        await conn.execute("TRUNCATE rm_totals")


async def fill(store: EventStore, total: int) -> None:
    have = await store.pool.fetchval("SELECT count(*) FROM events")
    per_stream = 1000

    async def writer(streams: int) -> None:
        for _ in range(streams):
            await store.append(name(), NO_STREAM, [event(n) for n in range(per_stream)])

    needed = max(0, total - have) // per_stream
    await asyncio.gather(*(writer(needed // 4 + (1 if w < needed % 4 else 0)) for w in range(4)))


async def rebuild_ratio(store: EventStore, pool: asyncpg.Pool) -> float:
    say(f"  filling the store to {REBUILD_EVENTS:,} events ...")
    await fill(store, REBUILD_EVENTS)
    count = await pool.fetchval("SELECT count(*) FROM events")
    raw_times, our_times = [], []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        folded: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        async with pool.acquire() as conn, conn.transaction():
            async for row in conn.cursor(RAW_SCAN, prefetch=10_000):
                entry = folded[row["stream_id"]]
                entry[0] += 1
                entry[1] += row["data"].get("n", 0)
        raw_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        applied = await ProjectionRunner(store, Totals(), batch_size=10_000).rebuild()
        our_times.append(time.perf_counter() - start)
        assert applied == count  # noqa: S101
    raw, ours = statistics.median(raw_times), statistics.median(our_times)
    say(f"  rebuild over {count:,} events: raw scan+fold {raw:.2f} s, our projection rebuild {ours:.2f} s")
    return raw / ours


class Stamped:
    """A projection that notes when each event was applied (in its transaction, before commit)."""

    name = "bench_freshness"

    def __init__(self) -> None:
        self.applied: dict[uuid.UUID, float] = {}

    async def apply(self, conn: Conn, events: Sequence[RecordedEvent]) -> None:
        now = time.perf_counter()
        for e in events:
            self.applied[e.event_id] = now

    async def reset(self, conn: Conn) -> None:
        self.applied.clear()


async def freshness(store: EventStore) -> tuple[float, float]:
    """Commit (the writer's acknowledgement) to projection applied, with 16 writers appending."""
    projection = Stamped()
    runner = ProjectionRunner(store, projection)
    await runner.catch_up()
    follower = asyncio.create_task(runner.follow(poll_interval=0.5))
    acknowledged: dict[uuid.UUID, float] = {}
    stop_at = time.perf_counter() + FRESHNESS_S
    rng = random.Random(11)

    async def writer() -> None:
        stream = name()
        while time.perf_counter() < stop_at:
            e = event(0)
            await store.append(stream, ANY, [e])
            acknowledged[e.event_id] = time.perf_counter()
            await asyncio.sleep(rng.uniform(0, 0.002))

    await asyncio.gather(*(writer() for _ in range(16)))
    deadline = time.perf_counter() + 10
    while len(set(acknowledged) - set(projection.applied)) and time.perf_counter() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    follower.cancel()
    lat = sorted(
        max(0.0, projection.applied[i] - t) * 1000 for i, t in acknowledged.items() if i in projection.applied
    )
    missing = len(acknowledged) - len(lat)
    if missing:
        raise RuntimeError(f"{missing} events never reached the projection")
    p50, p99 = lat[len(lat) // 2], lat[int(len(lat) * 0.99)]
    say(f"  freshness over {len(lat):,} events from 16 writers: p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    return p50, p99


async def run(server: str) -> dict[str, Any]:
    async with migrated_database(server, "bench") as dsn:
        conn = await connect(dsn)
        await conn.execute(RAW_SCHEMA)
        await conn.close()
        pool = await create_pool(dsn, min_size=17, max_size=20)
        store = EventStore(pool)
        try:
            say("warming up ...")
            await single_event_ratio(store, pool, 500, 1)
            say("measuring ...")
            result = {
                "append_1conn_ratio": await single_event_ratio(store, pool, SINGLE_1CONN, 1),
                "append_16conn_ratio": await single_event_ratio(store, pool, SINGLE_16CONN, 16),
                "batch_ratio": await batch_ratio(store, pool),
                "read_stream_ratio": await read_stream_ratio(store, pool),
            }
            p50, p99 = await freshness(store)
            result["rebuild_ratio"] = await rebuild_ratio(store, pool)
            result["freshness_p50_ms"], result["freshness_p99_ms"] = p50, p99
            return {k: round(v, 3) for k, v in result.items()}
        finally:
            await store.close()
            await pool.close()


def main() -> None:
    with scratch_server(os.environ.get("DATABASE_URL")) as server:
        result = asyncio.run(run(server))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
