"""The MediaOps worker process: the main task queue, and one rate-limited queue per platform.

Every platform call runs on its platform's queue (`mediaops.platform.<id>`), throttled server-side
to the policy's calls per second (R-ACCOUNTS), so a burst of work never spends an account's quota
faster than the platform allows, however many workers run.
"""

import asyncio
import compileall
import contextlib
import inspect
import signal
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from typing import Any

import asyncpg
import structlog
from temporalio.client import Client
from temporalio.worker import Worker

from activities.announcements import Announcements
from activities.cadence import CadenceReads
from activities.calendar import CalendarActivities
from activities.content_checks import ContentChecks
from activities.eventstore import EventStoreActivities
from activities.identity import Identity, PolicyInForce
from activities.metrics import Snapshots
from activities.notify import Notifier
from activities.platform_calls import CommentThreads, PlatformCalls
from activities.platforms.accounts import Accounts
from activities.reports import Reports
from audit.archive import apply_retention, keep_archiving
from audit.seals import keep_sealing
from domain.policy import Policy
from eventstore.db import close_pool, create_pool
from eventstore.migrate import require_migrated
from eventstore.projections import ProjectionRunner
from eventstore.read_models import (
    ApprovalsProjection,
    ArticlesProjection,
    CadenceProjection,
    DepartmentProjection,
    InquiriesProjection,
    MeetingReportsProjection,
    PromotionsProjection,
    WriteUpsProjection,
)
from eventstore.store import EventStore
from mediaops.observability import OpsServer
from mediaops.settings import Settings
from mediaops.temporal import connect, register_search_attributes
from workers.health import WorkerHealth
from workers.interceptors import LogContextInterceptor
from workers.schedules import ensure_comment_polls, ensure_rulebook_schedules, open_today
from workflows import search_attributes
from workflows.article import ArticleWorkflow
from workflows.cadence import CadenceWorkflow
from workflows.cadence_day import CadenceDayWorkflow
from workflows.comment_poll import CommentPollWorkflow
from workflows.department import DepartmentWorkflow
from workflows.inquiry import InquiryWorkflow
from workflows.promotion import PromotionWorkflow
from workflows.recording import ACTIVITY_TIMEOUT, platform_queue
from workflows.report import ReportWorkflow
from workflows.writeup import WriteUpWorkflow

log = structlog.get_logger(__name__)

DRAIN = ACTIVITY_TIMEOUT
"""How long a stopping worker lets its running activities finish (the longest one's bound): a
publish or a reply cut short by a deploy would be left in doubt, for a person to reconcile."""
WORKFLOWS: Sequence[type] = (
    InquiryWorkflow,
    ArticleWorkflow,
    CommentPollWorkflow,
    PromotionWorkflow,
    WriteUpWorkflow,
    CadenceWorkflow,
    CadenceDayWorkflow,
    DepartmentWorkflow,
    ReportWorkflow,
)
"""Every process workflow the system runs."""
PROJECTIONS = (
    ArticlesProjection(),
    InquiriesProjection(),
    PromotionsProjection(),
    WriteUpsProjection(),
    CadenceProjection(),
    DepartmentProjection(),
    ApprovalsProjection(),
    MeetingReportsProjection(),
)
"""Every read model the workers keep."""


def activities_for(
    policy: Policy, store: EventStore, accounts: Accounts, notify_webhook: str | None = None
) -> Sequence[Callable[..., Any]]:
    calendar = CalendarActivities(policy)
    events = EventStoreActivities(store)
    checks = ContentChecks(policy, accounts)
    notifier = Notifier(notify_webhook)
    cadence = CadenceReads(store, policy)
    reports = Reports(store, policy, accounts)
    return [
        cadence.subjects,
        cadence.owner,
        cadence.owed,
        cadence.posts,
        reports.sources,
        reports.compose,
        calendar.working_days_deadline,
        calendar.working_hours_after,
        calendar.inquiry_deadline,
        events.append,
        Announcements(store).linked,
        checks.check,
        notifier.send,
    ]


def build_worker(
    client: Client,
    settings: Settings,
    policy: Policy,
    store: EventStore,
    *,
    accounts: Accounts | None = None,
    extra_workflows: Sequence[type] = (),
) -> Worker:
    """The main queue's worker. The content checks see `accounts` (their image hosts and default
    covers); without them, an article's images must be on public hosts and WeChat has no default cover."""
    threads = CommentThreads(store.pool)
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[*WORKFLOWS, *extra_workflows],
        activities=[
            *activities_for(policy, store, accounts or Accounts([]), settings.notify_webhook),
            threads.threads,
            threads.poll_since,
            threads.polled,
            Identity(store.pool, settings.keys.commands, policy).authenticate,
            PolicyInForce(policy).in_force,
        ],
        interceptors=[LogContextInterceptor()],
        graceful_shutdown_timeout=DRAIN,
    )


def dispatch_rate(calls_per_second: float) -> float:
    """The task queue rate that keeps a platform's activities within `calls_per_second` in every
    second, across every worker.

    Temporal's matching service gives each task queue partition a token bucket of the queue's rate
    (divided among its partitions) holding up to ceil(rate) tokens: a queue idle for a moment
    dispatches that burst at once and the rate again within the same second, so one second can see
    burst + rate dispatches. On a single partition (deploy/ sets `matching.numTaskqueue{Read,Write}
    Partitions` to 1 for the platform queues), a rate of (limit - 1) / 2 keeps burst + rate a call
    under the limit: that call is the margin for calls dispatched apart and arriving closer
    together. A limit under 2 gets a quarter of it (a burst of one, refilled every 4 / limit s).
    tests/e2e/test_scale_out.py measures it at the fake WeChat. The cost is a sustained rate under
    half the allowance, which the department's volume is far from needing.
    """
    return max((calls_per_second - 1) / 2, calls_per_second / 4)


def platform_workers(client: Client, policy: Policy, accounts: Accounts, pool: asyncpg.Pool) -> list[Worker]:
    """One worker per platform that has an account, throttled to the policy's rate (dispatch_rate)."""
    calls = PlatformCalls(accounts, pool)
    snapshots = Snapshots(calls, EventStore(pool), policy)
    activities: list[Callable[..., Any]] = [
        calls.publish,
        calls.status,
        calls.reply,
        calls.inquiries,
        snapshots.snapshot,
    ]
    platforms = sorted({a.platform for a in accounts.all()})
    rates = {p: dispatch_rate(limit) for p, limit in policy.accounts.calls_per_second.items()}
    return [
        Worker(
            client,
            task_queue=platform_queue(platform),
            activities=activities,
            max_task_queue_activities_per_second=rates.get(platform),
            interceptors=[LogContextInterceptor()],
            graceful_shutdown_timeout=DRAIN,
        )
        for platform in platforms
    ]


def cache_workflow_bytecode(workflows: Sequence[type] = WORKFLOWS) -> None:
    """Compile each workflow's module to bytecode once, if Python has not cached it already.

    Temporal's sandbox imports a workflow's module afresh for every run. Where writing bytecode is
    off (PYTHONDONTWRITEBYTECODE), each of those imports would compile the source again; a cached
    file is read even then. Nothing is lost when the folder is read-only: imports compile as before.
    """
    for workflow_class in workflows:
        source = inspect.getsourcefile(workflow_class)
        if source:
            compileall.compile_file(source, quiet=2)


async def run_worker(settings: Settings, *, sdk_metrics_url: str | None = None) -> None:
    """Run until SIGINT or SIGTERM, then finish in-flight tasks and stop.

    With MEDIAOPS_METRICS_ADDRESS set it serves /metrics, /healthz and /readyz there (ready while
    its workers poll); `sdk_metrics_url` is where this process's Temporal runtime exports."""
    cache_workflow_bytecode()
    policy = settings.policy
    accounts = Accounts.load(settings.accounts_file)
    pool = await create_pool(settings.dsn)
    async with pool.acquire() as conn:
        await require_migrated(conn)  # the application role cannot migrate: `mediaops migrate` does
    client = await connect(settings)
    added = await register_search_attributes(client, search_attributes.ALL)
    if added:  # e.g. NeedsAttention, new in this version: upserting an unknown one fails a workflow task
        log.info("search attributes registered", names=added)
    store = EventStore(pool)
    health = WorkerHealth(client, pool)
    ops = None
    if settings.metrics_address:
        ops = await OpsServer(sdk_metrics_url, health.down, health.refresh).serve(settings.metrics_address)
    await apply_retention(client, policy.accountable.history_retention)  # a refusal is logged, not fatal
    await ensure_comment_polls(client, settings.task_queue, policy, accounts)
    await ensure_rulebook_schedules(client, settings.task_queue, policy)
    workers = [
        build_worker(client, settings, policy, store, accounts=accounts),
        *platform_workers(client, policy, accounts, pool),
    ]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await open_today(client, settings.task_queue)  # idempotent: another worker starting does the same
    log.info(
        "worker started",
        task_queue=settings.task_queue,
        platform_queues=[w.task_queue for w in workers[1:]],
        temporal=settings.temporal_target,
    )
    projections = [
        asyncio.create_task(ProjectionRunner(store, projection).supervise()) for projection in PROJECTIONS
    ]
    projections.append(asyncio.create_task(keep_archiving(client, pool, policy.accountable.archive_every)))
    sealing = asyncio.create_task(keep_sealing(pool, policy.accountable.seal_every))
    try:
        async with AsyncExitStack() as stack:
            for worker in workers:
                await stack.enter_async_context(worker)
            health.workers = workers
            health.running = True
            await stop.wait()
            health.running = False  # draining: no new work should be routed to this pod
    finally:
        if ops is not None:
            ops.close()
        for task in [*projections, sealing]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await store.close()
        await close_pool(pool)
    log.info("worker stopped")
