"""Anchors (issue 12): the heads of the hash chains, sealed outside the events table.

A hash chain proves that a stream's events follow each other, not that the stream still ends where
it ended: deleting a whole stream, or the last events of one, leaves chains that verify. A seal
records, at one moment, each stream's head (its version and hash), the global order's last
transaction and position, and the number of events up to there. It is kept in `chain_seals`
(append-only, migration 0016) and can be written to a file for an auditor to keep: a copy the
database's owner cannot reach. `verify_against` then names every stream, version and position the
store no longer holds as the seal saw it. The seal's digest is what reports print.

What a seal covers: the events of transactions older than the oldest one still running when it is
taken (the readers' horizon, see the 0002 migration). Those transactions have all ended, so the
set can never grow: an event committed later has a later transaction id. That is why the count
stays exact while slow writers commit events whose positions lie below the sealed position.
"""

import asyncio
import contextlib
import hashlib
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from typing import Annotated, NamedTuple, TypeAlias

import asyncpg
import structlog
from pydantic import AwareDatetime, BaseModel, ConfigDict, StringConstraints, ValidationError

from eventstore.db import Conn
from eventstore.projections import FIRST_PAUSE_S, LONGEST_PAUSE_S
from eventstore.verify import verify

log = structlog.get_logger(__name__)

Database: TypeAlias = "asyncpg.Pool | Conn"
"""A pool (the worker) or one connection (the command line)."""

HashHex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class SealError(ValueError):
    """A seal that cannot be believed: not a seal at all, or altered since it was taken."""


class Head(NamedTuple):
    """A stream's last event when the seal was taken."""

    version: int
    hash: HashHex


class Seal(BaseModel):
    """The chains' heads at one moment. `digest` covers everything but the id and the time, so a
    seal taken when nothing was appended since the last one is that same seal."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: int
    sealed_at: AwareDatetime
    position: int
    """The highest global position among the sealed events (0: none)."""
    transaction_id: int
    """The last writing transaction sealed: the seal covers every event whose transaction id is at
    most this one (0: none)."""
    events: int
    heads: Mapping[str, Head]

    @property
    def streams(self) -> int:
        return len(self.heads)

    @cached_property
    def digest(self) -> str:
        return chain_digest(self.position, self.transaction_id, self.events, self.heads)

    def to_json(self) -> str:
        """The seal as a file's content; `streams` and `digest` are included for the reader."""
        document = self.model_dump(mode="json")
        return json.dumps({**document, "streams": self.streams, "digest": self.digest}, indent=2)

    @classmethod
    def from_json(cls, text: str) -> "Seal":
        """A seal read back from `to_json`'s text; SealError unless its digest still matches."""
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise SealError(f"not a seal: {exc}") from None
        if not isinstance(document, dict):
            raise SealError("not a seal: the JSON is not an object")
        digest, streams = document.pop("digest", None), document.pop("streams", None)
        try:
            sealed = cls.model_validate(document)
        except ValidationError as exc:
            raise SealError(f"not a seal: {exc}") from None
        if digest != sealed.digest or streams != sealed.streams:
            raise SealError(f"seal {sealed.id} does not match its digest: it was altered")
        return sealed


@dataclass(frozen=True)
class Discrepancy:
    """Something the seal saw that the store no longer holds (or a broken link of a chain)."""

    problem: str
    stream_id: str | None = None
    version: int | None = None
    position: int | None = None

    def __str__(self) -> str:
        where = f"stream {self.stream_id} version {self.version}" if self.stream_id else ""
        return f"{where or f'position {self.position}'}: {self.problem}"


def chain_digest(position: int, transaction_id: int, events: int, heads: Mapping[str, Head]) -> str:
    """SHA-256 (hex) of the canonical JSON of a seal's content, each head as `[version, hash hex]`:
    keys sorted, no spaces, ASCII only. An auditor recomputes it from a seal file with nothing but
    a JSON library; the id and the time are left out, so unchanged heads give the same digest."""
    content = {
        "position": position,
        "transaction_id": transaction_id,
        "events": events,
        "heads": {stream: [head.version, head.hash] for stream, head in heads.items()},
    }
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


_HORIZON = "SELECT pg_snapshot_xmin(pg_current_snapshot())::text"
_TOTALS = """
    SELECT count(*) AS events, coalesce(max(position), 0) AS position,
           coalesce(max(transaction_id::text::bigint), 0) AS transaction_id
      FROM events WHERE transaction_id < $1::text::xid8"""
_HEADS = """
    SELECT DISTINCT ON (stream_id) stream_id, stream_version, hash
      FROM events WHERE transaction_id < $1::text::xid8
     ORDER BY stream_id, stream_version DESC"""
_SEAL_COLUMNS = (
    "id, sealed_at, position, transaction_id::text::bigint AS transaction_id, events, heads, digest"
)
_INSERT = f"""
    INSERT INTO chain_seals (position, transaction_id, events, streams, heads, digest)
    VALUES ($1, $2::text::xid8, $3, $4, $5, $6)
    ON CONFLICT (digest) DO NOTHING
    RETURNING {_SEAL_COLUMNS}"""  # noqa: S608 - built from constants only
_BY_DIGEST = f"SELECT {_SEAL_COLUMNS} FROM chain_seals WHERE digest = $1"  # noqa: S608
_BY_ID = f"SELECT {_SEAL_COLUMNS} FROM chain_seals WHERE id = $1"  # noqa: S608
_LATEST = f"SELECT {_SEAL_COLUMNS} FROM chain_seals ORDER BY id DESC LIMIT 1"  # noqa: S608
_NOT_AS_SEALED = """
    SELECT s.stream_id, s.version, e.hash,
           (SELECT max(h.stream_version) FROM events h WHERE h.stream_id = s.stream_id) AS head
      FROM unnest($1::text[], $2::bigint[], $3::bytea[]) AS s(stream_id, version, hash)
      LEFT JOIN events e ON e.stream_id = s.stream_id AND e.stream_version = s.version
     WHERE e.hash IS DISTINCT FROM s.hash
     ORDER BY s.stream_id"""
_SEALED_COUNT = "SELECT count(*) FROM events WHERE transaction_id <= $1::text::xid8"


@contextlib.asynccontextmanager
async def _connection(db: Database) -> AsyncIterator[Conn]:
    if isinstance(db, asyncpg.Pool):
        async with db.acquire() as conn:
            yield conn
    else:
        yield db


def _from_row(row: asyncpg.Record) -> Seal:
    """A stored seal, refused when its row no longer matches its digest (edited by the owner)."""
    sealed = Seal(
        id=row["id"],
        sealed_at=row["sealed_at"],
        position=row["position"],
        transaction_id=row["transaction_id"],
        events=row["events"],
        heads={stream: Head(version, hash_hex) for stream, (version, hash_hex) in row["heads"].items()},
    )
    if sealed.digest != row["digest"]:
        raise SealError(f"seal {sealed.id} in chain_seals does not match its digest: it was altered")
    return sealed


async def seal(db: Database) -> Seal:
    """Seal the chains' heads now and keep the seal in `chain_seals`.

    The heads, the count and the last position are read in one snapshot. When nothing was appended
    since a seal with the same content, that seal is returned instead of a copy (also when two
    workers seal at once: the digest is unique).
    """
    async with _connection(db) as conn:
        async with conn.transaction(readonly=True, isolation="repeatable_read"):
            horizon = await conn.fetchval(_HORIZON)
            totals = await conn.fetchrow(_TOTALS, horizon)
            rows = await conn.fetch(_HEADS, horizon)
        assert totals is not None  # noqa: S101 - an aggregate without GROUP BY returns one row
        heads = {r["stream_id"]: Head(r["stream_version"], bytes(r["hash"]).hex()) for r in rows}
        position, transaction_id, events = totals["position"], totals["transaction_id"], totals["events"]
        digest = chain_digest(position, transaction_id, events, heads)
        row = await conn.fetchrow(_INSERT, position, str(transaction_id), events, len(heads), heads, digest)
        if row is None:  # the same content was sealed before
            row = await conn.fetchrow(_BY_DIGEST, digest)
        assert row is not None  # noqa: S101 - inserted, or in the way of the insert
        return _from_row(row)


async def latest(db: Database) -> Seal | None:
    """The most recent seal, None before the first."""
    async with _connection(db) as conn:
        row = await conn.fetchrow(_LATEST)
    return None if row is None else _from_row(row)


async def get(db: Database, seal_id: int) -> Seal | None:
    """The seal with this id, None when there is none (a typo, or another database's seal)."""
    async with _connection(db) as conn:
        row = await conn.fetchrow(_BY_ID, seal_id)
    return None if row is None else _from_row(row)


def _missing(stream_id: str, version: int, head: int | None) -> Discrepancy:
    """Why the sealed head is not there: the stream is gone, it ends earlier now, or a hole."""
    if head is None:
        return Discrepancy("the stream is gone (deleted)", stream_id, version)
    if head < version:
        return Discrepancy(
            f"missing: the stream now ends at version {head} (its tail was cut)", stream_id, version
        )
    return Discrepancy("missing (deleted)", stream_id, version)


async def verify_against(db: Database, sealed: Seal) -> list[Discrepancy]:
    """Everything the store no longer holds as `sealed` saw it, then the chains' first broken link.

    Each sealed head must still be there with its hash (a deleted stream, a cut tail, a rewritten
    head), and the sealed transactions must still hold exactly the sealed number of events (one
    deleted from the middle of the global order, even when its stream's chain was re-linked
    after it). Events appended since are fine. Empty: the store holds all the seal saw, intact.
    """
    streams = list(sealed.heads)
    found: list[Discrepancy] = []
    async with _connection(db) as conn:
        async with conn.transaction(readonly=True, isolation="repeatable_read"):
            rows = await conn.fetch(
                _NOT_AS_SEALED,
                streams,
                [sealed.heads[s].version for s in streams],
                [bytes.fromhex(sealed.heads[s].hash) for s in streams],
            )
            count = await conn.fetchval(_SEALED_COUNT, str(sealed.transaction_id))
        for row in rows:
            stream_id, version = row["stream_id"], row["version"]
            if row["hash"] is None:
                found.append(_missing(stream_id, version, row["head"]))
            else:
                found.append(Discrepancy("its hash is not the sealed one (rewritten)", stream_id, version))
        if count != sealed.events:
            change = "deleted" if count < sealed.events else "inserted into the sealed past"
            found.append(
                Discrepancy(
                    f"the seal counted {sealed.events} events up to here, the store holds {count} "
                    f"({abs(sealed.events - count)} {change})",
                    position=sealed.position,
                )
            )
        chains = await verify(conn)
    if chains.broken is not None:
        link = chains.broken
        found.append(Discrepancy(f"hash chain broken: {link.problem}", link.stream_id, link.version))
    return found


async def keep_sealing(pool: asyncpg.Pool, every: timedelta) -> None:
    """Seal every `every` for as long as the worker runs; a failure never ends it quietly (H7).

    A failed seal (PostgreSQL restarting, a connection terminated) is logged and tried again after
    a pause that grows to `LONGEST_PAUSE_S`, then the rhythm resumes.
    """
    pause = FIRST_PAUSE_S
    while True:
        try:
            sealed = await seal(pool)
        except Exception as exc:
            log.error("sealing failed; trying again", error=f"{type(exc).__name__}: {exc}", retry_in_s=pause)
            await asyncio.sleep(pause)
            pause = min(pause * 2, LONGEST_PAUSE_S)
            continue
        pause = FIRST_PAUSE_S
        log.info(
            "hash chains sealed",
            seal=sealed.id,
            position=sealed.position,
            events=sealed.events,
            streams=sealed.streams,
            digest=sealed.digest,
        )
        await asyncio.sleep(every.total_seconds())
