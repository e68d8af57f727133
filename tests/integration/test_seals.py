"""Issue 12, anchors: a seal of the chains' heads catches what the chains alone cannot.

A whole stream deleted, or the last events of one, leaves chains that verify; checked against a
seal taken before, the store names the stream and the version it no longer holds. The tampering is
done as in test_verify.py: as the owner, with the immutability triggers switched off.
"""

import asyncio
import os
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

from audit import seals
from audit.seals import Seal, SealError, get, keep_sealing, latest, seal, verify_against
from eventstore.store import NO_STREAM, EventStore, NewEvent
from eventstore.verify import verify


def steps(n: int) -> list[NewEvent]:
    return [NewEvent(uuid.uuid4(), "step.taken", {"i": i}) for i in range(n)]


async def new_stream(store: EventStore, n: int = 3) -> str:
    s = f"sealed-{uuid.uuid4().hex[:10]}"
    await store.append(s, NO_STREAM, steps(n))
    return s


async def test_a_seal_of_an_untouched_store_verifies_and_growth_is_fine(store: EventStore) -> None:
    first, second = await new_stream(store), await new_stream(store, 5)
    sealed = await seal(store.pool)  # as the application role, as the worker seals
    assert sealed.heads[first].version == 3
    assert sealed.heads[second].version == 5
    assert sealed.events == await store.pool.fetchval("SELECT count(*) FROM events")
    assert sealed.streams == len(sealed.heads)
    assert await verify_against(store.pool, sealed) == []
    await store.append(first, 3, steps(2))
    await new_stream(store)
    assert await verify_against(store.pool, sealed) == []


async def test_a_slow_writer_committing_below_the_sealed_position_is_no_problem(store: EventStore) -> None:
    slow_stream = f"slow-{uuid.uuid4().hex[:10]}"
    async with store.pool.acquire() as slow, slow.transaction():
        await store.append(slow_stream, NO_STREAM, steps(1), conn=slow)  # the lower position
        fast = await new_stream(store, 1)
        sealed = await seal(store.pool)
        assert slow_stream not in sealed.heads
        assert fast not in sealed.heads  # behind the slow writer: not yet past the readers' horizon
    assert await verify_against(store.pool, sealed) == []
    assert {slow_stream, fast} <= set((await seal(store.pool)).heads)


async def test_nothing_appended_since_gives_the_same_seal(store: EventStore) -> None:
    await new_stream(store)
    sealed = await seal(store.pool)
    again = await seal(store.pool)
    assert (again.id, again.digest) == (sealed.id, sealed.digest)
    assert await latest(store.pool) == sealed
    assert await get(store.pool, sealed.id) == sealed
    await new_stream(store)
    later = await seal(store.pool)
    assert later.id > sealed.id
    assert later.digest != sealed.digest


async def test_a_cut_tail_is_named_by_stream_and_version(
    store: EventStore, tamper: asyncpg.Connection
) -> None:
    s = await new_stream(store, 4)
    sealed = await seal(store.pool)
    await tamper.execute("DELETE FROM events WHERE stream_id = $1 AND stream_version = 4", s)
    assert (await verify(tamper)).intact  # the chain alone cannot tell
    problems = await verify_against(tamper, sealed)
    assert [(p.stream_id, p.version) for p in problems if p.stream_id] == [(s, 4)]
    assert str(problems[0]) == (
        f"stream {s} version 4: missing: the stream now ends at version 3 (its tail was cut)"
    )
    assert [p.position for p in problems if p.stream_id is None] == [sealed.position]
    assert "1 deleted" in str(problems[-1])


async def test_a_deleted_stream_is_named(store: EventStore, tamper: asyncpg.Connection) -> None:
    s = await new_stream(store, 2)
    sealed = await seal(store.pool)
    await tamper.execute("DELETE FROM events WHERE stream_id = $1", s)
    problems = await verify_against(tamper, sealed)
    assert str(problems[0]) == f"stream {s} version 2: the stream is gone (deleted)"
    assert str(problems[1]) == (
        f"position {sealed.position}: the seal counted {sealed.events} events up to here, "
        f"the store holds {sealed.events - 2} (2 deleted)"
    )
    assert len(problems) == 2


async def test_a_rewritten_head_is_named(store: EventStore, tamper: asyncpg.Connection) -> None:
    s = await new_stream(store)
    sealed = await seal(store.pool)
    await tamper.execute(
        """UPDATE events SET data = '{"i": 99}',
                  hash = mediaops_event_hash(prev_hash, stream_id, stream_version, event_id, type,
                                             schema_version, '{"i": 99}', metadata, recorded_at)
            WHERE stream_id = $1 AND stream_version = 3""",
        s,
    )
    assert (await verify(tamper)).intact
    assert [str(p) for p in await verify_against(tamper, sealed)] == [
        f"stream {s} version 3: its hash is not the sealed one (rewritten)"
    ]


async def test_an_event_deleted_from_the_middle_is_counted_even_when_its_chain_was_relinked(
    store: EventStore, tamper: asyncpg.Connection
) -> None:
    s = await new_stream(store)
    sealed = await seal(store.pool)
    await tamper.execute("DELETE FROM events WHERE stream_id = $1 AND stream_version = 2", s)
    await tamper.execute(
        """UPDATE events e SET stream_version = 2, prev_hash = first.hash,
                  hash = mediaops_event_hash(first.hash, e.stream_id, 2, e.event_id, e.type,
                                             e.schema_version, e.data, e.metadata, e.recorded_at)
             FROM events first
            WHERE e.stream_id = $1 AND e.stream_version = 3
              AND first.stream_id = $1 AND first.stream_version = 1""",
        s,
    )
    assert (await verify(tamper)).intact
    problems = [str(p) for p in await verify_against(tamper, sealed)]
    assert (
        problems[0] == f"stream {s} version 3: missing: the stream now ends at version 2 (its tail was cut)"
    )
    assert problems[1].startswith(f"position {sealed.position}: ")
    assert problems[1].endswith("(1 deleted)")


async def test_an_event_slipped_into_the_sealed_past_is_counted(
    store: EventStore, tamper: asyncpg.Connection
) -> None:
    await new_stream(store)
    sealed = await seal(store.pool)
    await tamper.execute(
        """INSERT INTO events (transaction_id, stream_id, stream_version, event_id, type, schema_version,
                               data, metadata, recorded_at, prev_hash, hash)
           VALUES ('3'::xid8, 'slipped-in', 1, $2, 'step.taken', 1, '{}', '{}', now(), $1,
                   mediaops_event_hash($1, 'slipped-in', 1, $2, 'step.taken', 1, '{}', '{}', now()))""",
        bytes(32),
        uuid.uuid4(),
    )
    assert (await verify(tamper)).intact  # a well-formed chain of its own, written in the sealed past
    assert [str(p) for p in await verify_against(tamper, sealed)] == [
        f"position {sealed.position}: the seal counted {sealed.events} events up to here, "
        f"the store holds {sealed.events + 1} (1 inserted into the sealed past)"
    ]


async def test_the_chains_are_verified_too(store: EventStore, tamper: asyncpg.Connection) -> None:
    s = await new_stream(store)
    await tamper.execute(
        """UPDATE events SET data = '{"i": 7}' WHERE stream_id = $1 AND stream_version = 1""", s
    )
    try:
        sealed = await seal(store.pool)
        problems = await verify_against(tamper, sealed)
        assert [(p.stream_id, p.version) for p in problems] == [(s, 1)]
        assert "edited" in str(problems[0])
    finally:  # the rest of this module checks intact chains
        await tamper.execute("DELETE FROM events WHERE stream_id = $1", s)


async def test_a_seal_round_trips_through_a_file_and_verifies_the_same(
    store: EventStore, tamper: asyncpg.Connection, tmp_path: Path
) -> None:
    s = await new_stream(store, 2)
    sealed = await seal(store.pool)
    copy = tmp_path / "seal.json"
    copy.write_text(sealed.to_json(), encoding="utf-8")
    kept = Seal.from_json(copy.read_text(encoding="utf-8"))
    assert kept == sealed
    assert kept.digest == sealed.digest
    assert await verify_against(tamper, kept) == []
    await tamper.execute("DELETE FROM events WHERE stream_id = $1 AND stream_version = 2", s)
    assert [str(p) for p in await verify_against(tamper, kept)] == [
        str(p) for p in await verify_against(tamper, sealed)
    ]


def test_an_altered_seal_file_is_refused() -> None:
    sealed = Seal.from_json(
        Seal(
            id=1, sealed_at="2024-05-01T08:00:00+08:00", position=2, transaction_id=9, events=2, heads={}
        ).to_json()
    )
    altered = sealed.to_json().replace('"events": 2', '"events": 1')
    with pytest.raises(SealError, match="altered"):
        Seal.from_json(altered)
    with pytest.raises(SealError, match="not a seal"):
        Seal.from_json("[]")


async def test_seals_are_kept_once_and_never_changed(
    store: EventStore, db: asyncpg.Connection, app_database: str
) -> None:
    await new_stream(store)
    sealed = await seal(store.pool)
    app = await asyncpg.connect(app_database)
    try:
        for statement in (
            "UPDATE chain_seals SET events = 0",
            "DELETE FROM chain_seals",
            "TRUNCATE chain_seals",
            # backdated into a past period's report: the time is the database's
            "INSERT INTO chain_seals (sealed_at, position, transaction_id, events, streams, heads, digest)"
            " VALUES ('2020-01-01Z', 0, '0', 0, 0, '{}', repeat('0', 64))",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await app.execute(statement)
    finally:
        await app.close()
    for statement in ("UPDATE chain_seals SET events = 0", "DELETE FROM chain_seals", "TRUNCATE chain_seals"):
        with pytest.raises(asyncpg.PostgresError, match="seals are immutable"):
            await db.execute(statement)
    await db.execute("ALTER TABLE chain_seals DISABLE TRIGGER USER")
    try:
        await db.execute("UPDATE chain_seals SET events = events + 1 WHERE id = $1", sealed.id)
        with pytest.raises(SealError, match=f"seal {sealed.id} in chain_seals does not match its digest"):
            await get(db, sealed.id)
        await db.execute("UPDATE chain_seals SET events = events - 1 WHERE id = $1", sealed.id)
    finally:
        await db.execute("ALTER TABLE chain_seals ENABLE TRIGGER USER")


async def test_the_worker_keeps_sealing_through_a_failure(
    store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = await new_stream(store)
    attempts: list[str] = []

    async def flaky(pool: asyncpg.Pool) -> Seal:
        attempts.append("sealing")
        if len(attempts) == 1:
            raise ConnectionResetError("the server went away")
        return await seal(pool)

    monkeypatch.setattr(seals, "seal", flaky)
    sealing = asyncio.create_task(keep_sealing(store.pool, timedelta(hours=1)))
    try:
        for _ in range(100):
            found = await latest(store.pool)
            if found is not None and s in found.heads:
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("no seal after the failure")
        assert not sealing.done()
        assert attempts == ["sealing", "sealing"]
    finally:
        sealing.cancel()
        with pytest.raises(asyncio.CancelledError):
            await sealing


def mediaops(database: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database}
    return subprocess.run(
        [sys.executable, "-m", "cli", *args], env=env, capture_output=True, text=True, check=False
    )


async def test_the_command_seals_and_verifies_against_a_seal(
    store: EventStore, tamper: asyncpg.Connection, app_database: str, tmp_path: Path
) -> None:
    s = await new_stream(store, 3)
    copy = tmp_path / "seal.json"
    sealed = await asyncio.to_thread(mediaops, app_database, "events", "seal", "--out", str(copy))
    assert sealed.returncode == 0, sealed.stderr
    kept = Seal.from_json(copy.read_text(encoding="utf-8"))
    assert sealed.stdout.strip() == f"seal {kept.id}: position {kept.position}, digest {kept.digest}"
    for against in ("latest", str(kept.id), str(copy)):
        ok = await asyncio.to_thread(mediaops, app_database, "events", "verify", "--against", against)
        assert ok.returncode == 0, ok.stderr
        assert ok.stdout.startswith(f"intact: the store holds the {kept.events} events")

    await tamper.execute("DELETE FROM events WHERE stream_id = $1 AND stream_version = 3", s)
    for against in ("latest", str(copy)):
        bad = await asyncio.to_thread(mediaops, app_database, "events", "verify", "--against", against)
        assert bad.returncode == 1
        assert bad.stderr.splitlines() == [
            f"broken: stream {s} version 3: missing: the stream now ends at version 2 (its tail was cut)",
            f"broken: position {kept.position}: the seal counted {kept.events} events up to here, "
            f"the store holds {kept.events - 1} (1 deleted)",
        ]
    unchanged = await asyncio.to_thread(mediaops, app_database, "events", "verify")
    assert unchanged.returncode == 0, unchanged.stderr
    assert unchanged.stdout.startswith("intact: ")
    missing = await asyncio.to_thread(mediaops, app_database, "events", "verify", "--against", "999999")
    assert missing.returncode == 1
    assert "no seal 999999" in missing.stderr
