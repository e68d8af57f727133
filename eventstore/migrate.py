"""Versioned SQL migrations, applied in order, once, safely when several processes start together.

Each file in migrations/ is `NNNN_name.sql` and runs in its own transaction. The applied set and
each file's checksum live in `schema_migrations`; an applied file that was edited afterwards is an
error, because the database would no longer match what the code believes it is.

Migrations run as the schema's owner (`mediaops migrate`, `mediaops up`). The worker and the API
connect as the application role, which may not create or alter anything (0008), so they only check
that the schema is this code's (`require_migrated`) and name the command that fixes it.
"""

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources

import asyncpg

from eventstore.db import Conn

_LOCK_KEY = 0x6D656469616F7073  # "mediaops": serialises concurrent migrators via pg_advisory_lock


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


class MigrationError(RuntimeError):
    """The database's migration history disagrees with the code's."""


def available_migrations() -> list[Migration]:
    found = []
    for entry in resources.files("eventstore").joinpath("migrations").iterdir():
        if not entry.name.endswith(".sql"):
            continue
        number, _, rest = entry.name.partition("_")
        if not number.isdigit():
            raise MigrationError(f"migration file {entry.name} does not start with its number")
        found.append(Migration(int(number), rest.removesuffix(".sql"), entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migration files share a number: {versions}")
    return found


def _pending(applied: Mapping[int, str]) -> list[Migration]:
    """The migrations still to apply, given each applied version's checksum; raises when the
    applied ones are not this code's (an edited file, or a version the code does not know)."""
    available = available_migrations()
    for migration in available:
        checksum = applied.get(migration.version)
        if checksum is not None and checksum != migration.checksum:
            raise MigrationError(
                f"migration {migration.version:04d}_{migration.name} was changed after it was "
                "applied; write a new migration instead"
            )
    unknown = sorted(set(applied) - {m.version for m in available})
    if unknown:
        raise MigrationError(f"the database has migrations this code does not know: {unknown}")
    return [m for m in available if m.version not in applied]


async def _applied(conn: Conn) -> dict[int, str]:
    return {
        r["version"]: r["checksum"]
        for r in await conn.fetch("SELECT version, checksum FROM schema_migrations")
    }


async def migrate(conn: Conn) -> list[Migration]:
    """Apply every pending migration, as the schema's owner; returns those applied now."""
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version integer PRIMARY KEY,
                   name text NOT NULL,
                   checksum text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        pending = _pending(await _applied(conn))
        for migration in pending:
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
        return pending
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)


async def require_migrated(conn: Conn) -> None:
    """Raise MigrationError, naming `mediaops migrate`, unless the schema is exactly this code's."""
    try:
        applied = await _applied(conn)
    except (asyncpg.UndefinedTableError, asyncpg.InsufficientPrivilegeError):
        applied = {}  # never migrated, or not past 0008 (which lets the application role read it)
    pending = _pending(applied)
    if pending:
        names = ", ".join(f"{m.version:04d}_{m.name}" for m in pending)
        raise MigrationError(
            f"the database is not migrated (pending: {names}); run `mediaops migrate`, "
            "which connects as the schema's owner (DATABASE_ADMIN_URL, else DATABASE_URL)"
        )
