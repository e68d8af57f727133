"""The MediaOps worker: every workflow and activity of the system on the main task queue."""

import asyncio
import signal
from collections.abc import Callable, Sequence
from typing import Any

import structlog
from temporalio.client import Client
from temporalio.worker import Worker

from activities.calendar import CalendarActivities
from activities.eventstore import EventStoreActivities
from domain.policy import Policy
from eventstore.db import create_pool
from eventstore.migrate import migrate
from eventstore.store import EventStore
from mediaops.settings import Settings
from mediaops.temporal import connect
from workers.interceptors import LogContextInterceptor

log = structlog.get_logger(__name__)


def activities_for(policy: Policy, store: EventStore) -> Sequence[Callable[..., Any]]:
    calendar = CalendarActivities(policy)
    events = EventStoreActivities(store)
    return [calendar.working_days_deadline, calendar.working_hours_after, events.append]


WORKFLOWS: Sequence[type] = ()
"""Every process workflow the system runs (the article chain, inquiries, ... as they land)."""


def build_worker(
    client: Client,
    settings: Settings,
    policy: Policy,
    store: EventStore,
    *,
    extra_workflows: Sequence[type] = (),
) -> Worker:
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[*WORKFLOWS, *extra_workflows],
        activities=activities_for(policy, store),
        interceptors=[LogContextInterceptor()],
    )


async def run_worker(settings: Settings) -> None:
    """Run until SIGINT or SIGTERM, then finish in-flight tasks and stop."""
    policy = settings.policy
    client = await connect(settings)
    pool = await create_pool(settings.dsn)
    async with pool.acquire() as conn:
        await migrate(conn)  # safe beside other starting processes: migrations take an advisory lock
    store = EventStore(pool)
    worker = build_worker(client, settings, policy, store)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("worker started", task_queue=settings.task_queue, temporal=settings.temporal_target)
    try:
        async with worker:
            await stop.wait()
    finally:
        await store.close()
        await pool.close()
    log.info("worker stopped")
