"""Benchmarks: each measures a baseline in the same run and prints ratios, never absolute times.

They are run by hand (`python -m bench.<name>`), not by CI: a timed test on a shared 2-core
machine would fail at random; a ratio against a baseline measured seconds earlier does not.
"""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from eventstore.db import connect, ensure_database, with_database
from eventstore.migrate import migrate


@asynccontextmanager
async def migrated_database(server: str, prefix: str) -> AsyncIterator[str]:
    """A fresh database of its own on `server`, migrated, as the owner's URL; dropped afterwards
    (even when the run fails), so benchmarks never measure what an earlier run left."""
    database = f"{prefix}_{uuid.uuid4().hex[:8]}"
    dsn = with_database(server, database)
    await ensure_database(dsn)
    try:
        conn = await connect(dsn)
        try:
            await migrate(conn)
        finally:
            await conn.close()
        yield dsn
    finally:
        admin = await connect(server)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        finally:
            await admin.close()
