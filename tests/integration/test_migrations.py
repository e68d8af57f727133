"""Migrations against a real PostgreSQL: once, in order, safe when processes start together."""

import asyncio

import asyncpg
import pytest

from eventstore.db import connect
from eventstore.migrate import MigrationError, available_migrations, migrate


async def test_already_migrated_database_is_left_alone(db: asyncpg.Connection) -> None:
    assert await migrate(db) == []
    versions = [
        r["version"] for r in await db.fetch("SELECT version FROM schema_migrations ORDER BY version")
    ]
    assert versions == [m.version for m in available_migrations()]


async def test_concurrent_migrators_apply_each_migration_once(pg_server: str) -> None:
    admin = await connect(pg_server)
    await admin.execute('DROP DATABASE IF EXISTS "t_concurrent_migrate" WITH (FORCE)')
    await admin.execute('CREATE DATABASE "t_concurrent_migrate"')
    dsn = pg_server.rsplit("/", 1)[0] + "/t_concurrent_migrate"
    conns = [await connect(dsn) for _ in range(4)]
    try:
        results = await asyncio.gather(*(migrate(c) for c in conns))
        applied = [m.version for result in results for m in result]
        assert sorted(applied) == [m.version for m in available_migrations()]
    finally:
        for c in conns:
            await c.close()
        await admin.execute('DROP DATABASE "t_concurrent_migrate" WITH (FORCE)')
        await admin.close()


async def test_an_edited_migration_is_refused(db: asyncpg.Connection) -> None:
    await db.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1")
    try:
        with pytest.raises(MigrationError, match="changed after it was applied"):
            await migrate(db)
    finally:
        first = available_migrations()[0]
        await db.execute("UPDATE schema_migrations SET checksum = $1 WHERE version = 1", first.checksum)


async def test_a_migration_unknown_to_the_code_is_refused(db: asyncpg.Connection) -> None:
    await db.execute("INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, 'future', 'x')")
    try:
        with pytest.raises(MigrationError, match="does not know"):
            await migrate(db)
    finally:
        await db.execute("DELETE FROM schema_migrations WHERE version = 9999")
