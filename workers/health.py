"""The worker's ops endpoint: is it ready, and the business figures it exports (mediaops/observability.py).

The figures come from the read models at each scrape, not from counters kept in this process, so
every worker reports the same numbers however many run and whichever one restarted (alerts take
the `max` across them).
"""

import asyncpg
from temporalio.client import Client
from temporalio.worker import Worker

from domain.inquiries import STILL_OWED
from domain.platforms import Platform
from eventstore.projections import lags
from eventstore.read_models import owed_inquiries
from mediaops.observability import (
    INQUIRIES_AT_RISK,
    INQUIRIES_BREACHED,
    INQUIRIES_OPEN,
    PROJECTION_LAG,
    unanswered,
)


class WorkerHealth:
    def __init__(self, client: Client, pool: asyncpg.Pool) -> None:
        self.client = client
        self.pool = pool
        self.running = False
        """Set once the workers poll their task queues; cleared when they drain to stop."""
        self.workers: list[Worker] = []
        """The task queues' workers: one that stopped on a fatal error makes the process unready."""

    async def down(self) -> list[str]:
        """What keeps this worker from taking work: PostgreSQL, Temporal, or its own start or stop."""

        down = await unanswered(
            postgresql=lambda: self.pool.fetchval("SELECT 1"),
            temporal=self.client.service_client.check_health,
        )
        if not self.running:
            down.append("worker: not polling (starting or draining)")
        down += [f"worker: {w.task_queue} stopped" for w in self.workers if self.running and not w.is_running]
        return down

    async def refresh(self) -> None:
        """The owed inquiries by platform and status, and each read model's lag."""
        async with self.pool.acquire() as conn:
            owed = await owed_inquiries(conn)
            behind = await lags(conn)
        platforms = {str(p) for p in Platform} | {platform for platform, _ in owed}
        for platform in platforms:
            counts = {status: owed.get((platform, status), 0) for status in STILL_OWED}
            INQUIRIES_OPEN.labels(platform).set(sum(counts.values()))
            INQUIRIES_AT_RISK.labels(platform).set(counts["at_risk"])
            INQUIRIES_BREACHED.labels(platform).set(counts["breached"])
        for lag in behind:
            PROJECTION_LAG.labels(lag.name).set(lag.events_behind)
