"""The history archive: every closed workflow's history, kept in PostgreSQL beyond Temporal's retention.

Temporal deletes a closed history once the namespace's retention has passed (R-ACCOUNTABLE's
`history_retention`), yet an audit must be able to replay any run against the code of the day, and
prove the record is the one Temporal wrote. So the workers sweep every `archive_every`: each
workflow that closed since the last sweep is fetched and kept once, under (workflow id, run id),
exactly as Temporal returned it (payloads still sealed by the codec: nothing is decoded here, nor
logged), as JSON with sorted keys, with the SHA-256 of that text. A run kept before is never
overwritten; if Temporal's history of it no longer matches, that is reported. The table refuses
UPDATE, DELETE and TRUNCATE (0015).
"""

import asyncio
import enum
import hashlib
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import structlog
from google.protobuf import json_format
from google.protobuf.duration_pb2 import Duration
from temporalio.api.history.v1 import History
from temporalio.api.namespace.v1 import NamespaceConfig
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, UpdateNamespaceRequest
from temporalio.client import Client, WorkflowExecution, WorkflowHistory
from temporalio.service import RPCError, RPCStatusCode

from eventstore.db import Conn
from eventstore.projections import FIRST_PAUSE_S, LONGEST_PAUSE_S

log = structlog.get_logger(__name__)

LOOK_BACK = timedelta(hours=1)
"""How far before the cursor a sweep looks again: visibility is eventually consistent, so a run that
closed just before the last sweep may only have been listed after it. Runs already kept are skipped
before anything is fetched, so looking back costs a listing, never a second copy."""
BATCH = 100
"""Listed runs checked against the archive in one query."""
_SWEEP_LOCK = 0x4D4F4152  # "MOAR"; with the namespace's hash: one sweep per namespace at a time


class Kept(enum.StrEnum):
    """What keeping one run's history did."""

    STORED = "stored"
    SAME = "same"
    """Kept before, with the same digest: nothing to do."""
    DIFFERENT = "different"
    """Kept before with another digest: the archived copy stays, and the difference is reported."""


@dataclass(frozen=True)
class Archived:
    """One archived run, its history rebuilt from the stored text."""

    workflow_id: str
    run_id: str
    workflow_type: str
    status: str
    started_at: datetime
    closed_at: datetime
    history: WorkflowHistory
    digest: bytes
    archived_at: datetime


def history_json(history: WorkflowHistory) -> str:
    """The history as `WorkflowHistory.to_json()` writes it, but with every object's keys sorted.

    Protobuf writes a map (search attributes, headers, memos) in no fixed order, so the very same
    history would otherwise be another text, with another digest, at each fetch; sorted, one history
    has one text, which `WorkflowHistory.from_json` reads back all the same.
    """
    return json_format.MessageToJson(History(events=history.events), sort_keys=True)


def history_binary(history: WorkflowHistory) -> bytes:
    """The history in protobuf's encoding (deterministic): what a replay reads back fast."""
    return History(events=history.events).SerializeToString(deterministic=True)


def digest_of(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def closed_query(since: datetime | None) -> str:
    """The visibility query for runs that closed at or after `since` (every closed run: None)."""
    query = "ExecutionStatus != 'Running'"
    return query if since is None else f'{query} AND CloseTime >= "{_rfc3339(since)}"'


async def keep(conn: Conn, execution: WorkflowExecution, history: WorkflowHistory) -> Kept:
    """Store one closed run's history once (INSERT ... ON CONFLICT DO NOTHING), or compare it with
    the copy already kept: an archived history is never replaced."""
    text = history_json(history)
    digest = digest_of(text)
    closed_at = execution.close_time or history.events[-1].event_time.ToDatetime(tzinfo=UTC)
    stored = await conn.fetchval(
        """INSERT INTO history_archive
             (workflow_id, run_id, workflow_type, status, started_at, closed_at, history, history_pb, digest)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (workflow_id, run_id) DO NOTHING
           RETURNING true""",
        execution.id,
        execution.run_id,
        execution.workflow_type,
        execution.status.name if execution.status is not None else "UNSPECIFIED",
        execution.start_time,
        closed_at,
        text,
        history_binary(history),
        digest,
    )
    if stored:
        return Kept.STORED
    archived = await conn.fetchval(
        "SELECT digest FROM history_archive WHERE workflow_id = $1 AND run_id = $2",
        execution.id,
        execution.run_id,
    )
    if archived == digest:
        return Kept.SAME
    log.error(
        "an archived history differs from Temporal's; the archived one is kept",
        workflow_id=execution.id,
        run_id=execution.run_id,
        archived_digest=bytes(archived).hex(),
        temporal_digest=digest.hex(),
    )
    return Kept.DIFFERENT


async def _unarchived(conn: Conn, executions: Sequence[WorkflowExecution]) -> list[WorkflowExecution]:
    rows = await conn.fetch(
        """SELECT a.workflow_id, a.run_id
             FROM history_archive a
             JOIN unnest($1::text[], $2::text[]) AS listed(workflow_id, run_id)
                  USING (workflow_id, run_id)""",
        [e.id for e in executions],
        [e.run_id for e in executions],
    )
    kept = {(r["workflow_id"], r["run_id"]) for r in rows}
    return [e for e in executions if (e.id, e.run_id) not in kept]


class SweepIncomplete(Exception):
    """Some runs could not be archived this sweep: the others were, and the cursor stays, so the
    next sweep tries those again."""


async def _archive_batch(client: Client, conn: Conn, executions: Sequence[WorkflowExecution]) -> int:
    """Archive each run not kept yet; one that fails (too large, a timeout) does not stop the rest."""
    stored, failed = 0, 0
    for execution in await _unarchived(conn, executions):
        handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
        try:
            history = await handle.fetch_history()
            kept = await keep(conn, execution, history)
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                failed += 1
                log.error("a run could not be archived; tried again next sweep", workflow_id=execution.id,
                          run_id=execution.run_id, status=exc.status.name)  # fmt: skip
                continue
            log.warning(
                "a closed workflow was gone from Temporal before it was archived",
                workflow_id=execution.id,
                run_id=execution.run_id,
            )
            continue
        except asyncpg.PostgresError as exc:
            failed += 1
            log.error("a run could not be archived; tried again next sweep", workflow_id=execution.id,
                      run_id=execution.run_id, error=type(exc).__name__)  # fmt: skip
            continue
        if kept is Kept.STORED:
            stored += 1
    if failed:
        raise SweepIncomplete(f"{failed} runs could not be archived ({stored} were)")
    return stored


async def archive_closed(client: Client, pool: asyncpg.Pool, since: datetime | None = None) -> int:
    """Archive every run that closed at or after `since` and is not kept yet; returns how many were stored.

    Without `since`, from where the last sweep of this namespace got to, less `LOOK_BACK` (and the
    first sweep takes every closed run Temporal still holds). The cursor moves to the latest close
    time listed, and only once the whole sweep went through: a sweep cut short is done again. While
    another process sweeps the same namespace this one does nothing (0): its next round looks again.
    """
    async with pool.acquire() as conn:
        if not await conn.fetchval(
            "SELECT pg_try_advisory_lock($1, hashtext($2))", _SWEEP_LOCK, client.namespace
        ):
            return 0
        try:
            if since is None:
                cursor = await conn.fetchval(
                    "SELECT closed_since FROM archive_cursors WHERE namespace = $1", client.namespace
                )
                since = cursor - LOOK_BACK if cursor is not None else None
            stored, latest, batch = 0, None, []
            async for execution in client.list_workflows(closed_query(since), page_size=BATCH):
                batch.append(execution)
                if execution.close_time is not None and (latest is None or execution.close_time > latest):
                    latest = execution.close_time
                if len(batch) == BATCH:
                    stored += await _archive_batch(client, conn, batch)
                    batch = []
            if batch:
                stored += await _archive_batch(client, conn, batch)
            if latest is not None:
                await conn.execute(
                    """INSERT INTO archive_cursors (namespace, closed_since) VALUES ($1, $2)
                       ON CONFLICT (namespace) DO UPDATE
                          SET closed_since = GREATEST(archive_cursors.closed_since, EXCLUDED.closed_since),
                              updated_at = now()""",
                    client.namespace,
                    latest,
                )
            return stored
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1, hashtext($2))", _SWEEP_LOCK, client.namespace)


async def keep_archiving(client: Client, pool: asyncpg.Pool, every: timedelta) -> None:
    """`archive_closed` every `every` for as long as the process runs: a failure never ends it quietly.

    Temporal or PostgreSQL away, a connection dropped: each failure is logged and the sweep tried
    again after a pause that grows to `LONGEST_PAUSE_S` (as the projections do). Nothing is lost
    meanwhile as long as the archive catches up within the namespace's retention.
    """
    pause = FIRST_PAUSE_S
    while True:
        began = time.monotonic()
        try:
            stored = await archive_closed(client, pool)
        except Exception as exc:
            log.error(
                "history archive sweep failed; trying again",
                error=f"{type(exc).__name__}: {exc}",
                retry_in_s=pause,
            )
            await asyncio.sleep(pause)
            pause = min(pause * 2, LONGEST_PAUSE_S)
            continue
        pause = FIRST_PAUSE_S
        if stored:
            log.info("histories archived", count=stored)
        await asyncio.sleep(max(0.0, every.total_seconds() - (time.monotonic() - began)))


async def apply_retention(client: Client, retention: timedelta) -> bool:
    """Set the namespace's retention of closed histories to `retention`; whether the server took it.

    The archive keeps every history beyond it, so the policy, not each cluster's default, says how
    long Temporal holds them. Unchanged, nothing is written. A server that refuses (a namespace the
    workers may not administer, a dev server) is logged and the worker goes on: the archive still
    keeps whatever closes.
    """
    wanted = Duration()
    wanted.FromTimedelta(retention)
    try:
        described = await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace=client.namespace)
        )
        if described.config.workflow_execution_retention_ttl == wanted:
            return True
        await client.workflow_service.update_namespace(
            UpdateNamespaceRequest(
                namespace=client.namespace,
                config=NamespaceConfig(workflow_execution_retention_ttl=wanted),
            )
        )
    except RPCError as exc:
        log.warning(
            "the namespace's retention was not set",
            namespace=client.namespace,
            retention_s=int(retention.total_seconds()),
            status=exc.status.name,
        )
        return False
    log.info(
        "namespace retention set", namespace=client.namespace, retention_s=int(retention.total_seconds())
    )
    return True


_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(9999, 1, 1, tzinfo=UTC)
Reader = asyncpg.Pool | Conn
"""Where the archive is read from: the workers' pool, or one connection (the CLI's)."""
_COLUMNS = (
    "workflow_id, run_id, workflow_type, status, started_at, closed_at, history_pb, digest, archived_at"
)


def _archived(row: asyncpg.Record) -> Archived:
    return Archived(
        workflow_id=row["workflow_id"],
        run_id=row["run_id"],
        workflow_type=row["workflow_type"],
        status=row["status"],
        started_at=row["started_at"],
        closed_at=row["closed_at"],
        history=WorkflowHistory(row["workflow_id"], History.FromString(row["history_pb"]).events),
        digest=bytes(row["digest"]),
        archived_at=row["archived_at"],
    )


async def get(pool: Reader, workflow_id: str, run_id: str | None = None) -> Archived | None:
    """One archived run of the workflow; without `run_id`, the one that started last."""
    row = await pool.fetchrow(
        f"""SELECT {_COLUMNS} FROM history_archive
             WHERE workflow_id = $1 AND ($2::text IS NULL OR run_id = $2)
             ORDER BY started_at DESC, closed_at DESC
             LIMIT 1""",  # noqa: S608 - the column list is a constant
        workflow_id,
        run_id,
    )
    return _archived(row) if row is not None else None


async def runs(pool: Reader, workflow_id: str) -> list[Archived]:
    """Every archived run of the workflow (each continue-as-new is one), in the order they started."""
    rows = await pool.fetch(
        f"SELECT {_COLUMNS} FROM history_archive WHERE workflow_id = $1 ORDER BY started_at, closed_at",  # noqa: S608
        workflow_id,
    )
    return [_archived(row) for row in rows]


async def between(
    pool: Reader, start: datetime | None = None, end: datetime | None = None, *, page: int = 50
) -> AsyncIterator[Archived]:
    """The runs that closed in [start, end) (unbounded where None), in close order, `page` at a time.

    A history can be megabytes and the archive grows for ever, so it is read in short queries, never
    held whole in memory nor in one long transaction.
    """
    # Two statements, so that each one's plan bounds the index scan: with one `$n IS NULL OR ...`
    # statement, a generic plan may scan every page from the start (O(n²) over the archive).
    first = f"""SELECT {_COLUMNS} FROM history_archive
                 WHERE closed_at >= $1 AND closed_at < $2
                 ORDER BY closed_at, workflow_id, run_id LIMIT $3"""  # noqa: S608 - constant columns
    more = f"""SELECT {_COLUMNS} FROM history_archive
                WHERE (closed_at, workflow_id, run_id) > ($1, $2, $3) AND closed_at < $4
                ORDER BY closed_at, workflow_id, run_id LIMIT $5"""  # noqa: S608 - constant columns
    low, high = start or _EARLIEST, end or _LATEST
    rows = await pool.fetch(first, low, high, page)
    while True:
        for row in rows:
            yield _archived(row)
        if len(rows) < page:
            return
        last = rows[-1]
        rows = await pool.fetch(more, last["closed_at"], last["workflow_id"], last["run_id"], high, page)
