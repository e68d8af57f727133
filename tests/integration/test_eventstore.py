"""The event store's guarantees (docs/reference/eventstore.md), each against a real PostgreSQL."""

import asyncio
import uuid

import asyncpg
import pytest

from eventstore.store import (
    ANY,
    NO_STREAM,
    START,
    EventStore,
    IdempotencyViolation,
    NewEvent,
    WrongExpectedVersion,
)


def ev(kind: str = "thing.happened", **data: object) -> NewEvent:
    return NewEvent(event_id=uuid.uuid4(), type=kind, data=data or {"n": 1}, metadata={"actor": "test"})


def stream() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


async def test_append_and_read_back(store: EventStore) -> None:
    s = stream()
    first = await store.append(s, NO_STREAM, [ev(n=1), ev(n=2)])
    assert first.versions == (1, 2)
    second = await store.append(s, 2, [ev(n=3)])
    assert second.versions == (3,)
    events = await store.read_stream(s)
    assert [e.data["n"] for e in events] == [1, 2, 3]
    assert [e.stream_version for e in events] == [1, 2, 3]
    assert events[0].position < events[1].position < events[2].position
    assert await store.stream_version(s) == 3
    assert [e.stream_version for e in await store.read_stream(s, from_version=2)] == [2, 3]


async def test_a_batch_with_one_conflicting_event_writes_nothing(store: EventStore) -> None:
    """Guarantee 1: atomic multi-event append."""
    taken = ev()
    await store.append(stream(), NO_STREAM, [taken])
    s = stream()
    await store.append(s, NO_STREAM, [ev()])
    with pytest.raises(IdempotencyViolation):
        await store.append(s, 1, [ev(), NewEvent(taken.event_id, "other.type", {"x": 1}), ev()])
    assert await store.stream_version(s) == 1
    with pytest.raises(WrongExpectedVersion):
        await store.append(s, 0, [ev(), ev()])
    assert await store.stream_version(s) == 1


async def test_a_stale_expected_version_is_a_conflict(store: EventStore) -> None:
    s = stream()
    await store.append(s, NO_STREAM, [ev()])
    with pytest.raises(WrongExpectedVersion, match="at version 1, not the expected 3"):
        await store.append(s, 3, [ev()])
    with pytest.raises(WrongExpectedVersion):
        await store.append(s, NO_STREAM, [ev()])


async def test_any_appends_at_the_head(store: EventStore) -> None:
    s = stream()
    await store.append(s, ANY, [ev()])
    results = await asyncio.gather(*(store.append(s, ANY, [ev()]) for _ in range(10)))
    assert sorted(r.versions[0] for r in results) == list(range(2, 12))


async def test_exactly_one_writer_wins_each_of_1000_races(store: EventStore) -> None:
    """Guarantee 2: four writers with the same expected version; 500 new streams, 500 existing."""
    outcomes: list[int] = []

    async def race(expected: int, s: str) -> None:
        results = await asyncio.gather(
            *(store.append(s, expected, [ev(writer=w)]) for w in range(4)), return_exceptions=True
        )
        winners = [r for r in results if not isinstance(r, BaseException)]
        losers = [r for r in results if isinstance(r, WrongExpectedVersion)]
        assert len(winners) + len(losers) == 4, results
        outcomes.append(len(winners))

    existing = [stream() for _ in range(500)]
    for s in existing:
        await store.append(s, NO_STREAM, [ev()])
    for i in range(0, 500, 25):
        await asyncio.gather(*(race(NO_STREAM, stream()) for _ in range(25)))
        await asyncio.gather(*(race(1, s) for s in existing[i : i + 25]))
    assert len(outcomes) == 1000
    assert set(outcomes) == {1}
    for s in existing:
        assert await store.stream_version(s) == 2


async def test_an_empty_append_changes_nothing(store: EventStore) -> None:
    s = stream()
    await store.append(s, NO_STREAM, [ev(), ev()])
    result = await store.append(s, 0, [])
    assert result.versions == ()
    assert await store.stream_version(s) == 2


async def test_a_retried_append_returns_the_original_positions(store: EventStore) -> None:
    """Guarantee 3: the acknowledgement was lost, the activity runs again with the same ids."""
    s = stream()
    batch = [ev(n=1), ev(n=2)]
    original = await store.append(s, NO_STREAM, batch)
    retried = await store.append(s, NO_STREAM, batch)
    assert retried.positions == original.positions
    assert retried.versions == original.versions
    assert await store.stream_version(s) == 2


async def test_a_retry_racing_the_original_is_still_recorded_once(store: EventStore) -> None:
    s = stream()
    batch = [ev(n=1)]
    results = await asyncio.gather(*(store.append(s, ANY, batch) for _ in range(5)))
    assert {r.positions for r in results} == {results[0].positions}
    assert await store.stream_version(s) == 1


async def test_the_same_id_with_another_body_fails_loudly(store: EventStore) -> None:
    s = stream()
    first = ev(n=1)
    await store.append(s, NO_STREAM, [first])
    changed = NewEvent(first.event_id, first.type, {"n": 2}, first.metadata)
    with pytest.raises(IdempotencyViolation, match="different body"):
        await store.append(s, NO_STREAM, [changed])
    with pytest.raises(IdempotencyViolation, match="part of this batch"):
        await store.append(s, 1, [first, ev()])


async def test_events_are_immutable(store: EventStore, db: asyncpg.Connection) -> None:
    """Guarantee 9, first half: the trigger rejects UPDATE, DELETE and TRUNCATE."""
    s = stream()
    await store.append(s, NO_STREAM, [ev()])
    for statement in (
        "UPDATE events SET data = '{}' WHERE stream_id = $1",
        "DELETE FROM events WHERE stream_id = $1",
    ):
        with pytest.raises(asyncpg.PostgresError, match="events are immutable"):
            await db.execute(statement, s)
    with pytest.raises(asyncpg.PostgresError, match="events are immutable"):
        await db.execute("TRUNCATE events")
    assert await store.stream_version(s) == 1


async def test_appending_inside_a_callers_transaction(store: EventStore) -> None:
    s = stream()
    async with store.pool.acquire() as conn:
        async with conn.transaction():
            await store.append(s, NO_STREAM, [ev()], conn=conn)
            with pytest.raises(WrongExpectedVersion):
                await store.append(s, NO_STREAM, [ev()], conn=conn)
            await store.append(s, 1, [ev()], conn=conn)  # the conflict did not doom the transaction
        assert await store.stream_version(s) == 2

        async def append_then_fail() -> None:
            async with conn.transaction():
                await store.append(s, 2, [ev()], conn=conn)
                raise RuntimeError("rolled back")

        with pytest.raises(RuntimeError, match="rolled back"):
            await append_then_fail()
    assert await store.stream_version(s) == 2


@pytest.mark.parametrize("batch_size", [7, 100])
async def test_read_all_pages_add_up_to_one_read_in_global_order(store: EventStore, batch_size: int) -> None:
    for _ in range(30):
        await store.append(stream(), NO_STREAM, [ev(), ev()])
    whole = await store.read_all(START, 1_000_000)
    cursor, pages = START, []
    while page := await store.read_all(cursor, batch_size):
        pages.extend(page)
        cursor = page[-1].cursor
    assert [e.event_id for e in pages] == [e.event_id for e in whole]
    assert [e.cursor for e in whole] == sorted(e.cursor for e in whole)
