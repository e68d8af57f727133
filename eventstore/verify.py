"""Tamper evidence: walk every stream's hash chain and name the first link that does not hold.

The hash is recomputed here in Python from the stored fields, independently of the SQL function
that wrote it (0002 migration), so a row edited, deleted or moved by someone who bypassed the
immutability trigger is caught: its content no longer matches its hash, its successor no longer
points at it, or the versions no longer follow each other.
"""

import contextlib
import hashlib
from collections.abc import AsyncGenerator
from dataclasses import dataclass

import asyncpg

from eventstore.db import Conn

GENESIS = bytes(32)

_ROWS = """
    SELECT stream_id, stream_version, position, event_id::text, type, schema_version::text,
           data::text, metadata::text, (extract(epoch FROM recorded_at) * 1000000)::bigint::text AS micros,
           prev_hash, hash
      FROM events
     WHERE $1::text IS NULL OR stream_id = $1
     ORDER BY stream_id, stream_version"""


@dataclass(frozen=True)
class BrokenLink:
    stream_id: str
    version: int
    problem: str

    def __str__(self) -> str:
        return f"stream {self.stream_id} version {self.version}: {self.problem}"


@dataclass(frozen=True)
class Verified:
    streams: int
    events: int
    broken: BrokenLink | None

    @property
    def intact(self) -> bool:
        return self.broken is None


def event_hash(prev: bytes, row: asyncpg.Record) -> bytes:
    text = "|".join(
        [
            row["stream_id"],
            str(row["stream_version"]),
            row["event_id"],
            row["type"],
            row["schema_version"],
            row["data"],
            row["metadata"],
            row["micros"],
        ]
    )
    return hashlib.sha256(prev + text.encode()).digest()


async def _rows(conn: Conn, stream_id: str | None) -> AsyncGenerator[asyncpg.Record]:
    async with conn.transaction(readonly=True, isolation="repeatable_read"):
        async for row in conn.cursor(_ROWS, stream_id, prefetch=2000):
            yield row


def check_link(
    row: asyncpg.Record, expected_version: int, prev_hash: bytes, prev_position: int
) -> BrokenLink | None:
    stream, version = row["stream_id"], row["stream_version"]
    if version != expected_version:
        if version > expected_version:
            missing = f"version {expected_version}" + (
                f" to {version - 1}" if version - 1 > expected_version else ""
            )
            return BrokenLink(stream, expected_version, f"{missing} missing (deleted)")
        return BrokenLink(stream, version, "version repeated")
    if row["position"] <= prev_position:
        return BrokenLink(stream, version, "recorded before its predecessor (rows reordered)")
    if bytes(row["prev_hash"]) != prev_hash:
        return BrokenLink(stream, version, f"does not follow version {version - 1} (its link was changed)")
    if event_hash(prev_hash, row) != bytes(row["hash"]):
        return BrokenLink(stream, version, "content does not match its hash (edited)")
    return None


async def verify(conn: Conn, stream_id: str | None = None) -> Verified:
    """Check every stream (or one); stops at the first broken link, which it names."""
    streams = events = 0
    current: str | None = None
    expected, prev_hash, prev_position = 1, GENESIS, 0
    async with contextlib.aclosing(_rows(conn, stream_id)) as rows:
        async for row in rows:
            if row["stream_id"] != current:
                current, streams = row["stream_id"], streams + 1
                expected, prev_hash, prev_position = 1, GENESIS, 0
            broken = check_link(row, expected, prev_hash, prev_position)
            if broken is not None:
                return Verified(streams, events, broken)
            events += 1
            expected, prev_hash, prev_position = expected + 1, bytes(row["hash"]), row["position"]
    return Verified(streams, events, None)
