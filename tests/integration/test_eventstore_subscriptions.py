"""Guarantees 4 and 6: tailing readers never skip, never repeat, and switch from catch-up to live."""

import asyncio
import random
import time
import uuid
from collections import defaultdict

from eventstore.store import ANY, NO_STREAM, START, Cursor, EventStore, NewEvent, RecordedEvent

WRITERS = 16
DURATION_S = 10.0


def ev(**data: object) -> NewEvent:
    return NewEvent(event_id=uuid.uuid4(), type="load.tick", data=data)


async def collect(store: EventStore, after: Cursor, into: list[RecordedEvent], **options: float) -> None:
    async for event in store.subscribe(after, **options):  # type: ignore[arg-type]
        into.append(event)


async def wait_for_ids(seen: list[RecordedEvent], wanted: set[uuid.UUID], within: float = 30) -> None:
    """Give the reader time to deliver `wanted`; the caller's assertions say what was missed."""
    deadline = time.monotonic() + within
    while not wanted <= {e.event_id for e in seen} and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)


async def test_sixteen_writers_pausing_inside_transactions_nothing_skipped(store: EventStore) -> None:
    """Writers hold their transactions open 0–2 ms after appending; ~5% roll back instead."""
    rng = random.Random(7)
    committed: set[uuid.UUID] = set()
    seen: list[RecordedEvent] = []
    reader = asyncio.create_task(collect(store, START, seen, poll_interval=0.2))
    stop_at = time.monotonic() + DURATION_S

    async def writer(w: int) -> None:
        s, version = f"load-{uuid.uuid4().hex[:8]}-{w}", NO_STREAM
        async with store.pool.acquire() as conn:
            while time.monotonic() < stop_at:
                event = ev(writer=w, version=version + 1)
                rollback = rng.random() < 0.05
                try:
                    async with conn.transaction():
                        await store.append(s, version, [event], conn=conn)
                        await asyncio.sleep(rng.uniform(0, 0.002))
                        if rollback:
                            raise _Rollback
                except _Rollback:
                    continue
                store.hint()
                committed.add(event.event_id)
                version += 1

    await asyncio.gather(*(writer(w) for w in range(WRITERS)))
    await wait_for_ids(seen, committed)
    reader.cancel()
    ids = [e.event_id for e in seen if e.type == "load.tick"]
    assert len(committed) > 1000, "the load was too light to prove anything"
    assert len(ids) == len(set(ids)), "an event was delivered twice"
    assert set(ids) == committed, f"missed {len(committed - set(ids))}, phantom {len(set(ids) - committed)}"
    versions: dict[str, list[int]] = defaultdict(list)
    for e in seen:
        versions[e.stream_id].append(e.stream_version)
    assert all(v == sorted(v) for v in versions.values()), "per-stream order broken"


class _Rollback(Exception):
    pass


async def test_catch_up_then_live_delivers_each_event_once(store: EventStore) -> None:
    s = f"live-{uuid.uuid4().hex[:8]}"
    before = await store.append(s, NO_STREAM, [ev(n=i) for i in range(5)])
    start = (await store.read_stream(s))[1].cursor  # after the second event
    seen: list[RecordedEvent] = []
    reader = asyncio.create_task(collect(store, start, seen, poll_interval=5))
    after = [ev(n=i) for i in range(5, 10)]
    for event in after:
        await store.append(s, ANY, [event])
    await wait_for_ids(seen, {e.event_id for e in after}, within=10)
    reader.cancel()
    mine = [e for e in seen if e.stream_id == s]
    assert [e.data["n"] for e in mine] == list(range(2, 10))
    assert len(before.positions) == 5


async def test_a_dropped_notify_loses_nothing(store: EventStore) -> None:
    """Appends on a bare connection send no hint at all; polling still delivers them."""
    seen: list[RecordedEvent] = []
    reader = asyncio.create_task(collect(store, START, seen, poll_interval=0.2))
    await asyncio.sleep(0.3)
    s = f"quiet-{uuid.uuid4().hex[:8]}"
    events = [ev(n=i) for i in range(3)]
    async with store.pool.acquire() as conn:
        for i, event in enumerate(events):
            await store.append(s, i, [event], conn=conn)  # with conn: no hint is sent
    await wait_for_ids(seen, {e.event_id for e in events}, within=5)
    reader.cancel()
    assert [e.data["n"] for e in seen if e.stream_id == s] == [0, 1, 2]
