"""The history archive (issue 12): each closed run kept once, and replayed after Temporal deleted it.

Real PostgreSQL, the real Temporal dev server (this module's own, see `temporal`), and a worker on its
own task queue running real article workflows.
"""

import asyncio
import contextlib
import hashlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
import structlog
from temporalio import workflow
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DeleteWorkflowExecutionRequest, DescribeNamespaceRequest
from temporalio.client import Client, WorkflowExecutionDescription, WorkflowHandle, WorkflowHistory
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner, Result

from audit import archive
from audit.replay import histories_of, replay
from cli.main import app
from deploy.processes import venv_bin
from domain import articles as a
from domain.platforms import Platform
from domain.policy import Policy
from domain.roles import Role
from eventstore.store import EventStore
from mediaops.settings import Settings
from tests.identity_support import DATA_CONVERTER, in_directory, signed
from workers.worker import build_worker
from workflows import search_attributes
from workflows.article import ArticleWorkflow
from workflows.contracts import ArticleStart, ArticleView

WRITER = a.Actor(id="li.content", roles=frozenset({Role.CONTENT_SPECIALIST}))
QUEUE = "history-archive-test"
TRIES = 100
"""Polls of 0.1 s at most, for what the server does in the background (visibility, deletion)."""


@dataclass(frozen=True)
class World:
    client: Client
    pool: asyncpg.Pool
    env: dict[str, str]
    """What `mediaops` needs to reach this module's database and namespace."""


async def until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    for _ in range(TRIES):
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"never: {what}")


@pytest.fixture(scope="module")
async def temporal() -> AsyncIterator[WorkflowEnvironment]:
    """The dev server `temporal_dev` is, but this module's own (its sweeps see only these runs), and
    deleting a closed run at once: by default the server first waits for its visibility queue to
    acknowledge the close, which takes up to a minute."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(venv_bin("temporal")),
        search_attributes=search_attributes.ALL,
        data_converter=DATA_CONVERTER,
        dev_server_log_level="error",
        dev_server_extra_args=[
            "--dynamic-config-value",
            "history.transferProcessorEnsureCloseBeforeDelete=false",
            "--dynamic-config-value",
            "history.visibilityProcessorEnsureCloseBeforeDelete=false",
        ],
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture(scope="module")
async def world(temporal: WorkflowEnvironment, store: EventStore, app_database: str) -> AsyncIterator[World]:
    async with store.pool.acquire() as conn:
        await in_directory(conn, WRITER)
    client = temporal.client
    env = {
        "DATABASE_URL": app_database,
        "TEMPORAL_ADDRESS": client.service_client.config.target_host,
        "TEMPORAL_NAMESPACE": client.namespace,
    }
    async with build_worker(client, Settings(task_queue=QUEUE), Policy(), store):
        yield World(client, store.pool, env)


async def closed_article(world: World) -> WorkflowHandle[ArticleWorkflow, ArticleView]:
    """A real article run to its end: submitted, checked, waiting on the manager, then withdrawn."""
    article_id = uuid.uuid4().hex[:10]
    content = a.Content(
        title="秋季新品发布会回顾",
        body="<p>发布会圆满举行。</p>",
        category="company_news",
        platforms=(Platform.WEBSITE,),
        source="市场部",
    )
    submit = a.Submit(article_id=article_id, actor=WRITER, content=content, at=datetime.now(UTC))
    handle = await world.client.start_workflow(
        ArticleWorkflow.run,
        ArticleStart(submit=signed(f"article-{article_id}", submit), accounts={}),
        id=f"article-{article_id}",
        task_queue=QUEUE,
    )

    async def in_review() -> bool:
        return (await handle.query(ArticleWorkflow.state_and_decisions)).article.waiting_on is not None

    await until(in_review, "the article waits on its review")
    withdraw = a.Withdraw(actor=WRITER, reason="取消", at=datetime.now(UTC))
    await handle.execute_update(ArticleWorkflow.withdraw, signed(handle.id, withdraw))
    assert (await handle.result()).status is a.Status.WITHDRAWN
    return handle


async def archived(world: World, handle: WorkflowHandle[ArticleWorkflow, ArticleView]) -> int:
    """Sweep until the run is in the archive (visibility lists it a moment after it closed); returns
    how many runs the sweeps stored."""
    stored = 0

    async def kept() -> bool:
        nonlocal stored
        stored += await archive.archive_closed(world.client, world.pool)
        return await archive.get(world.pool, handle.id) is not None

    await until(kept, f"{handle.id} archived")
    return stored


async def test_a_closed_run_is_archived_once_with_the_digest_of_its_history(world: World) -> None:
    handle = await closed_article(world)
    assert await archived(world, handle) == 1
    assert await archive.archive_closed(world.client, world.pool) == 0  # the next sweep: nothing new

    rows = await world.pool.fetch("SELECT * FROM history_archive WHERE workflow_id = $1", handle.id)
    assert len(rows) == 1
    [row] = rows
    assert bytes(row["digest"]) == hashlib.sha256(row["history"].encode()).digest()
    assert row["history"] == archive.history_json(await handle.fetch_history())  # what Temporal returns
    description = await handle.describe()
    assert (row["run_id"], row["workflow_type"], row["status"]) == (
        description.run_id,
        "Article",
        "COMPLETED",
    )
    assert (row["started_at"], row["closed_at"]) == (description.start_time, description.close_time)
    cursor = await world.pool.fetchval(
        "SELECT closed_since FROM archive_cursors WHERE namespace = $1", world.client.namespace
    )
    assert cursor == description.close_time  # a restart goes on from here, looking back a little


async def test_an_archived_history_replays_after_temporal_deleted_it(world: World) -> None:
    handle = await closed_article(world)
    await archived(world, handle)
    kept = await archive.get(world.pool, handle.id)
    assert kept is not None
    assert [r.ok for r in await replay([kept.history], converter=DATA_CONVERTER)] == [True]

    execution = WorkflowExecution(workflow_id=handle.id, run_id=kept.run_id)
    await world.client.workflow_service.delete_workflow_execution(
        DeleteWorkflowExecutionRequest(namespace=world.client.namespace, workflow_execution=execution)
    )

    async def gone() -> bool:
        try:
            await handle.fetch_history()
        except RPCError as exc:
            return exc.status == RPCStatusCode.NOT_FOUND
        return False

    await until(gone, f"Temporal deleted {handle.id}")
    histories = await histories_of(world.client, world.pool, handle.id)  # from the archive now
    assert [archive.history_json(h) for h in histories] == [archive.history_json(kept.history)]
    [result] = await replay(histories, converter=DATA_CONVERTER)
    assert (result.workflow_id, result.run_id, result.ok) == (handle.id, kept.run_id, True)

    ran = await mediaops(world, "audit", "replay", "--workflow-id", handle.id)
    assert ran.exit_code == 0, ran.output
    assert f"OK {handle.id} {kept.run_id}\n" in ran.output


@workflow.defn(name="Article", sandboxed=False)
class PausingArticle(ArticleWorkflow):
    """A careless edit: a pause before the process starts, not behind `workflow.patched`."""

    @workflow.run
    async def run(self, start: ArticleStart) -> ArticleView:
        await workflow.sleep(timedelta(seconds=1))
        return await super().run(start)


async def test_a_non_deterministic_change_fails_the_replay_naming_the_workflow(world: World) -> None:
    handle = await closed_article(world)
    await archived(world, handle)
    kept = await archive.get(world.pool, handle.id)
    assert kept is not None

    [result] = await replay([kept.history], converter=DATA_CONVERTER, workflows=[PausingArticle])
    assert result.ok is False
    assert result.nondeterministic
    assert (result.workflow_id, result.run_id) == (handle.id, kept.run_id)
    assert result.error is not None
    assert "Nondeterminism" in result.error
    assert "\n" not in result.error


async def test_a_run_kept_before_is_never_overwritten(world: World, db: asyncpg.Connection) -> None:
    handle = await closed_article(world)
    await archived(world, handle)
    kept = await archive.get(world.pool, handle.id)
    assert kept is not None
    description: WorkflowExecutionDescription = await handle.describe()
    shorter = WorkflowHistory(handle.id, kept.history.events[:-1])

    async with world.pool.acquire() as conn:
        assert await archive.keep(conn, description, kept.history) is archive.Kept.SAME
        with structlog.testing.capture_logs() as logs:
            assert await archive.keep(conn, description, shorter) is archive.Kept.DIFFERENT
    [reported] = [line for line in logs if line["log_level"] == "error"]
    assert (reported["workflow_id"], reported["run_id"]) == (handle.id, kept.run_id)
    assert reported["archived_digest"] == kept.digest.hex()
    again = await archive.get(world.pool, handle.id)
    assert again is not None
    assert (again.digest, archive.history_json(again.history)) == (
        kept.digest,
        archive.history_json(kept.history),
    )

    with pytest.raises(asyncpg.InsufficientPrivilegeError):  # nor backdated: its time is the database's
        await world.pool.execute("INSERT INTO history_archive (workflow_id, archived_at) VALUES ('x', now())")
    for statement in ("UPDATE history_archive SET status = 'FAILED'", "DELETE FROM history_archive"):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await world.pool.execute(statement)  # the application role
        with pytest.raises(asyncpg.PostgresError, match="archived histories are immutable"):
            await db.execute(statement)  # the owner too, unless it disables the triggers
    with pytest.raises(asyncpg.PostgresError, match="archived histories are immutable"):
        await db.execute("TRUNCATE history_archive")


async def test_between_reads_the_runs_that_closed_in_a_period_page_by_page(world: World) -> None:
    first, second = await closed_article(world), await closed_article(world)
    await archived(world, first)
    await archived(world, second)
    one, two = await archive.get(world.pool, first.id), await archive.get(world.pool, second.id)
    assert one is not None
    assert two is not None
    period = [r.workflow_id async for r in archive.between(world.pool, one.closed_at, two.closed_at, page=1)]
    assert period == [first.id]  # the end is excluded
    everything = [(r.workflow_id, r.run_id) async for r in archive.between(world.pool, page=1)]
    assert (
        len(everything)
        == len(set(everything))
        == await world.pool.fetchval("SELECT count(*) FROM history_archive")
    )


async def test_a_sweep_looks_back_before_its_cursor(world: World) -> None:
    """Visibility may list a run a while after it closed, after a sweep went past its close time."""
    handle = await closed_article(world)
    closed = (await handle.describe()).close_time
    assert closed is not None
    await world.pool.execute(
        """INSERT INTO archive_cursors (namespace, closed_since) VALUES ($1, $2)
           ON CONFLICT (namespace) DO UPDATE SET closed_since = EXCLUDED.closed_since""",
        world.client.namespace,
        closed + archive.LOOK_BACK / 2,
    )
    assert await archived(world, handle) == 1


async def test_the_workers_keep_archiving_and_a_failure_does_not_stop_them(
    world: World, app_database: str
) -> None:
    broken = await asyncpg.create_pool(app_database, min_size=0)
    await broken.close()
    with structlog.testing.capture_logs() as logs:
        failing = asyncio.create_task(archive.keep_archiving(world.client, broken, timedelta(seconds=0.1)))
        working = asyncio.create_task(
            archive.keep_archiving(world.client, world.pool, timedelta(seconds=0.1))
        )
        try:
            handle = await closed_article(world)

            async def kept() -> bool:
                return await archive.get(world.pool, handle.id) is not None

            await until(kept, f"{handle.id} archived by the loop")

            async def reported() -> bool:
                return any(line["event"] == "history archive sweep failed; trying again" for line in logs)

            await until(reported, "the failing sweep logged")
            assert not failing.done()
        finally:
            for task in (failing, working):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task


async def test_the_namespace_keeps_closed_histories_as_long_as_the_policy_says(world: World) -> None:
    retention = Policy().accountable.history_retention
    assert await archive.apply_retention(world.client, retention)
    described = await world.client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace=world.client.namespace)
    )
    assert described.config.workflow_execution_retention_ttl.ToTimedelta() == retention
    assert await archive.apply_retention(world.client, retention)  # unchanged: nothing to write

    with structlog.testing.capture_logs() as logs:  # below the server's minimum of a day: refused
        assert not await archive.apply_retention(world.client, timedelta(seconds=1))
    [refused] = [line for line in logs if line["log_level"] == "warning"]
    assert refused["status"] == "INVALID_ARGUMENT"
    described = await world.client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace=world.client.namespace)
    )
    assert described.config.workflow_execution_retention_ttl.ToTimedelta() == retention


async def mediaops(world: World, *args: str) -> Result:
    """The `mediaops` command in this process, on this module's database and namespace.

    In a thread (it runs its own event loop), and with the logging it configures put back after it.
    """
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, structlog.get_config())
    try:
        return await asyncio.to_thread(CliRunner().invoke, app, list(args), env=world.env)
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        structlog.configure(**saved[2])


async def test_audit_replay_of_the_archive_exits_0_when_every_run_replays(world: World) -> None:
    handle = await closed_article(world)
    await archived(world, handle)
    total = await world.pool.fetchval("SELECT count(*) FROM history_archive")

    ran = await mediaops(world, "audit", "replay", "--archive")
    assert ran.exit_code == 0, ran.output
    lines = ran.stdout.splitlines()
    assert sum(line.startswith(f"OK {handle.id} ") for line in lines) == 1
    assert lines[-1] == f"replayed {total}: {total} OK, 0 not"

    kept = await archive.get(world.pool, handle.id)
    assert kept is not None
    moment = kept.closed_at.isoformat()
    ran = await mediaops(world, "audit", "replay", "--archive", "--from", moment, "--to", moment)
    assert ran.exit_code == 2  # an empty period: nothing matched
    assert "no workflow history matched" in ran.output


async def test_audit_replay_takes_exactly_one_source(world: World) -> None:
    both = await mediaops(world, "audit", "replay", "--archive", "--query", "WorkflowType='Article'")
    assert both.exit_code == 2
    assert "exactly one of" in both.output
    naive = await mediaops(world, "audit", "replay", "--archive", "--from", "2026-01-01T00:00:00")
    assert naive.exit_code == 2
    assert "has no time zone" in naive.output
    nothing = await mediaops(world, "audit", "replay", "--query", "WorkflowId = 'no-such-workflow'")
    assert nothing.exit_code == 2
    assert "no workflow history matched" in nothing.output
    unparsable = await mediaops(world, "audit", "replay", "--query", "WorkflowId ==")
    assert unparsable.exit_code == 2
    assert "Temporal refused" in unparsable.output


async def test_audit_replay_names_each_run_the_code_no_longer_replays_and_exits_1(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    handle = await closed_article(world)
    await archived(world, handle)
    kept = await archive.get(world.pool, handle.id)
    assert kept is not None
    monkeypatch.setattr("audit.replay.WORKFLOWS", (PausingArticle,))  # a release with the careless edit

    ran = await mediaops(world, "audit", "replay", "--workflow-id", handle.id)
    assert ran.exit_code == 1, ran.output
    first, summary = ran.stdout.splitlines()
    assert first.startswith(f"NONDETERMINISTIC {handle.id} {kept.run_id} event unknown: [TMPRL1100] ")
    assert summary == "replayed 1: 0 OK, 1 not"
