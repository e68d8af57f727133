"""Versioned SQL migrations, applied in order, once, safely when several processes start together.

Each file in migrations/ is `NNNN_name.sql` and runs in its own transaction. The applied set and
each file's checksum live in `schema_migrations`; an applied file that was edited afterwards is an
error, because the database would no longer match what the code believes it is.
"""

import hashlib
from dataclasses import dataclass
from importlib import resources

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


async def migrate(conn: Conn) -> list[Migration]:
    """Apply every pending migration; returns those applied now (empty when up to date)."""
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version integer PRIMARY KEY,
                   name text NOT NULL,
                   checksum text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        applied = {
            r["version"]: r for r in await conn.fetch("SELECT version, name, checksum FROM schema_migrations")
        }
        done: list[Migration] = []
        for migration in available_migrations():
            record = applied.get(migration.version)
            if record is not None:
                if record["checksum"] != migration.checksum:
                    raise MigrationError(
                        f"migration {migration.version:04d}_{migration.name} was changed after it was "
                        "applied; write a new migration instead"
                    )
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
            done.append(migration)
        unknown = sorted(set(applied) - {m.version for m in available_migrations()})
        if unknown:
            raise MigrationError(f"the database has migrations this code does not know: {unknown}")
        return done
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
