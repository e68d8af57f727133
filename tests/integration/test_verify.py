"""Guarantee 9, second half: the hash-chain verifier catches edited, deleted and reordered rows.

The tampering is done the way an insider would: as a superuser, with the immutability trigger
switched off for the statement.
"""

import asyncio
import os
import subprocess
import sys
import uuid

import asyncpg

from eventstore.store import NO_STREAM, EventStore, NewEvent
from eventstore.verify import verify


async def new_stream(store: EventStore, n: int = 5) -> str:
    s = f"chain-{uuid.uuid4().hex[:10]}"
    await store.append(s, NO_STREAM, [NewEvent(uuid.uuid4(), "step.taken", {"i": i}) for i in range(n)])
    return s


async def test_an_untouched_store_verifies(store: EventStore, db: asyncpg.Connection) -> None:
    s = await new_stream(store)
    result = await verify(db, s)
    assert result.intact
    assert (result.streams, result.events) == (1, 5)


async def test_an_edited_row_is_caught(store: EventStore, tamper: asyncpg.Connection) -> None:
    s = await new_stream(store)
    await tamper.execute(
        """UPDATE events SET data = '{"i": 99}' WHERE stream_id = $1 AND stream_version = 3""", s
    )
    broken = (await verify(tamper, s)).broken
    assert broken is not None
    assert (broken.stream_id, broken.version) == (s, 3)
    assert "edited" in broken.problem


async def test_an_edit_with_a_recomputed_hash_breaks_the_next_link(
    store: EventStore, tamper: asyncpg.Connection
) -> None:
    s = await new_stream(store)
    await tamper.execute(
        """UPDATE events SET data = '{"i": 99}',
                  hash = mediaops_event_hash(prev_hash, stream_id, stream_version, event_id, type,
                                             schema_version, '{"i": 99}', metadata, recorded_at)
            WHERE stream_id = $1 AND stream_version = 3""",
        s,
    )
    broken = (await verify(tamper, s)).broken
    assert broken is not None
    assert (broken.version, broken.problem) == (4, "does not follow version 3 (its link was changed)")


async def test_a_deleted_row_is_caught(store: EventStore, tamper: asyncpg.Connection) -> None:
    s = await new_stream(store)
    await tamper.execute("DELETE FROM events WHERE stream_id = $1 AND stream_version = 2", s)
    broken = (await verify(tamper, s)).broken
    assert broken is not None
    assert (broken.version, broken.problem) == (2, "version 2 missing (deleted)")


async def test_reordered_rows_are_caught(store: EventStore, tamper: asyncpg.Connection) -> None:
    s = await new_stream(store)
    await tamper.execute(
        """UPDATE events SET stream_version = CASE stream_version WHEN 2 THEN 1000 WHEN 3 THEN 2 END
            WHERE stream_id = $1 AND stream_version IN (2, 3)""",
        s,
    )
    await tamper.execute(
        "UPDATE events SET stream_version = 3 WHERE stream_id = $1 AND stream_version = 1000", s
    )
    broken = (await verify(tamper, s)).broken
    assert broken is not None
    assert (broken.version, broken.problem) == (2, "does not follow version 1 (its link was changed)")


def mediaops(database: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database}
    return subprocess.run(
        [sys.executable, "-m", "cli", *args], env=env, capture_output=True, text=True, check=False
    )


async def test_the_command_exits_1_naming_the_first_broken_link(
    store: EventStore, tamper: asyncpg.Connection, database: str
) -> None:
    intact = await new_stream(store)
    ok = await asyncio.to_thread(mediaops, database, "events", "verify", "--stream", intact)
    assert ok.returncode == 0, ok.stderr
    assert "intact: 5 events in 1 streams" in ok.stdout
    s = await new_stream(store)
    await tamper.execute("DELETE FROM events WHERE stream_id = $1 AND stream_version = 4", s)
    bad = await asyncio.to_thread(mediaops, database, "events", "verify", "--stream", s)
    assert bad.returncode == 1
    assert bad.stderr.strip() == f"broken: stream {s} version 4: version 4 missing (deleted)"
    everything = await asyncio.to_thread(mediaops, database, "events", "verify")
    assert everything.returncode == 1
