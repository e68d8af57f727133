"""Least-privilege storage: the application role appends and reads events and can do nothing else to
them, and the embedded server lets no one in without the password.

Issue 9, must show: as the application role, `UPDATE events` and `ALTER TABLE events DISABLE
TRIGGER ALL` fail with permission denied; the embedded server refuses a connection without the
password.
"""

import asyncio
import os
import shutil
import stat
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from deploy.launch import CLI
from deploy.postgres import EmbeddedPostgres
from deploy.processes import Child, free_port
from deploy.stack import prepare_database
from eventstore.db import connect, with_credentials, with_database
from eventstore.migrate import MigrationError, require_migrated
from eventstore.store import NO_STREAM, EventStore, NewEvent
from mediaops.settings import (
    APP_ROLE,
    EMBEDDED_OWNER,
    Settings,
    SettingsError,
    embedded_password_file,
    load_settings,
)

DATABASE_VARIABLES = (
    "DATABASE_URL",
    "MEDIAOPS_DATABASE_URL",
    "DATABASE_ADMIN_URL",
    "MEDIAOPS_DATABASE_ADMIN_URL",
)

FORBIDDEN = [
    "UPDATE events SET type = 'forged'",
    "DELETE FROM events",
    "TRUNCATE events",
    "ALTER TABLE events DISABLE TRIGGER ALL",
    "ALTER TABLE events DISABLE TRIGGER events_immutable",
    "DROP TRIGGER events_immutable ON events",
    "DROP TABLE events",
    "SET session_replication_role = replica",
    "CREATE TABLE shadow_events (LIKE events)",
]


def event() -> NewEvent:
    return NewEvent(uuid.uuid4(), "test.happened", {"n": 1})


async def mediaops(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The `mediaops` command, with this environment's database settings replaced by `env`'s."""
    base = {k: v for k, v in os.environ.items() if k not in DATABASE_VARIABLES}
    return await asyncio.to_thread(
        subprocess.run,
        [*CLI, *args],
        env={**base, "MEDIAOPS_ENV": "test", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_migrations_use_the_owners_url_and_everything_else_the_applications(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in DATABASE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql://mediaops_app:a@db.internal/ops")
    assert load_settings().admin_dsn == load_settings().dsn == "postgresql://mediaops_app:a@db.internal/ops"
    monkeypatch.setenv("DATABASE_ADMIN_URL", "postgresql://owner:b@db.internal/ops")
    assert (load_settings().dsn, load_settings().admin_dsn) == (
        "postgresql://mediaops_app:a@db.internal/ops",
        "postgresql://owner:b@db.internal/ops",
    )
    monkeypatch.delenv("DATABASE_URL")
    with pytest.raises(SettingsError, match=r"DATABASE_ADMIN_URL: .*set DATABASE_URL"):
        load_settings()


@pytest.fixture
async def app(app_database: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await connect(app_database)
    try:
        yield conn
    finally:
        await conn.close()


async def test_the_store_runs_as_the_application_role(store: EventStore) -> None:
    assert await store.pool.fetchval("SELECT current_user") == APP_ROLE
    assert not await store.pool.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")


async def test_the_application_role_appends_and_reads_events(store: EventStore) -> None:
    stream = f"roles-{uuid.uuid4().hex[:8]}"
    await store.append(stream, NO_STREAM, [event()])  # one plain INSERT
    await store.append(stream, 1, [event(), event()])  # mediaops_append, for a batch
    assert [e.stream_version for e in await store.read_stream(stream)] == [1, 2, 3]


@pytest.mark.parametrize("statement", FORBIDDEN)
async def test_the_application_role_cannot_rewrite_events(
    store: EventStore, app: asyncpg.Connection, statement: str
) -> None:
    stream = f"roles-{uuid.uuid4().hex[:8]}"
    await store.append(stream, NO_STREAM, [event()])
    with pytest.raises(asyncpg.InsufficientPrivilegeError) as refused:
        await app.execute(statement)
    assert refused.value.sqlstate == "42501"
    assert [e.type for e in await store.read_stream(stream)] == ["test.happened"]


async def test_the_application_role_owns_nothing(db: asyncpg.Connection) -> None:
    owned = await db.fetchval(
        """SELECT (SELECT count(*) FROM pg_class WHERE relowner = r.oid)
                + (SELECT count(*) FROM pg_proc WHERE proowner = r.oid)
                + (SELECT count(*) FROM pg_namespace WHERE nspowner = r.oid)
                + (SELECT count(*) FROM pg_type WHERE typowner = r.oid)
             FROM pg_roles r WHERE r.rolname = $1""",
        APP_ROLE,
    )
    assert owned == 0
    assert not await db.fetchval("SELECT pg_has_role($1, current_user, 'USAGE')", APP_ROLE)


async def test_a_table_a_later_migration_creates_is_granted_by_default(db: asyncpg.Connection) -> None:
    async with db.transaction():
        await db.execute("CREATE TABLE later_read_model (id text PRIMARY KEY)")
        granted = await db.fetch(
            """SELECT p AS privilege, has_table_privilege($1, 'later_read_model', p) AS granted
                 FROM unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'TRIGGER']) AS p""",
            APP_ROLE,
        )
        await db.execute("DROP TABLE later_read_model")
    assert {r["privilege"]: r["granted"] for r in granted} == {
        "SELECT": True,
        "INSERT": True,
        "UPDATE": True,
        "DELETE": True,
        "TRUNCATE": True,
        "TRIGGER": False,
    }


async def test_the_worker_refuses_a_database_that_is_not_migrated(
    pg_server: str, app_database: str, app: asyncpg.Connection
) -> None:
    await require_migrated(app)  # this module's database is
    name = f"t_unmigrated_{uuid.uuid4().hex[:8]}"
    admin = await connect(pg_server)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        bare_dsn = with_database(app_database, name)
        bare = await connect(bare_dsn)
        try:
            with pytest.raises(MigrationError, match=r"0001_users.*run `mediaops migrate`"):
                await require_migrated(bare)
        finally:
            await bare.close()
        worker = await mediaops("worker", DATABASE_URL=bare_dsn)
        assert worker.returncode == 1
        assert "run `mediaops migrate`" in worker.stderr
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


# The embedded server itself, its home below a folder only its owner may enter (as /root is).


def modes(path: Path) -> dict[Path, int]:
    return {folder: stat.S_IMODE(folder.stat().st_mode) for folder in [path, *path.parents]}


@dataclass
class Embedded:
    server: EmbeddedPostgres
    child: Child
    locked: Path
    modes_before: dict[Path, int]
    """The modes of the locked folder and of everything above it before the server first started."""


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Embedded]:
    locked = tmp_path_factory.mktemp("locked")
    locked.chmod(0o700)
    before = modes(locked)
    server = EmbeddedPostgres(locked / "project" / ".mediaops", free_port(), durable=False)
    running = Embedded(server, server.start(), locked, before)
    try:
        yield running
    finally:
        running.child.stop()
        server.remove()


def url(server: EmbeddedPostgres, user: str, password: str | None, database: str = "postgres") -> str:
    bare = f"postgresql://{user}@127.0.0.1:{server.port}/{database}"
    return with_credentials(bare, user, password) if password is not None else bare


def rules(data_dir: Path) -> list[list[str]]:
    hba = (data_dir / "pg_hba.conf").read_text()
    return [line.split() for line in hba.splitlines() if line.strip() and not line.startswith("#")]


ONLY_PASSWORDS = [["host", "all", "all", "127.0.0.1/32", "scram-sha-256"]]


async def refusal(dsn: str) -> BaseException | None:
    """Why the server refused this login (None: it let it in). No ~/.pgpass may help."""
    try:
        conn = await asyncpg.connect(dsn, passfile="/nonexistent/pgpass", timeout=10)
    except asyncpg.InvalidAuthorizationSpecificationError as exc:
        return exc
    await conn.close()
    return None


async def test_the_embedded_server_refuses_a_connection_without_the_password(embedded: Embedded) -> None:
    server = embedded.server
    assert isinstance(await refusal(url(server, EMBEDDED_OWNER, None)), asyncpg.InvalidPasswordError)
    assert isinstance(await refusal(url(server, EMBEDDED_OWNER, "guessed")), asyncpg.InvalidPasswordError)
    assert await refusal(server.dsn) is None


def test_its_password_is_its_owners_and_it_trusts_no_one(embedded: Embedded) -> None:
    server = embedded.server
    password_file = embedded_password_file(server.home, EMBEDDED_OWNER)
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    assert password_file.stat().st_uid == os.geteuid()
    assert rules(server.data_dir) == ONLY_PASSWORDS
    # Nothing above MEDIAOPS_HOME was opened up for the server's user (under root: mediaops-pg).
    assert modes(embedded.locked) == embedded.modes_before


async def test_the_bootstrap_gives_the_worker_the_application_role_and_migrations_the_owner(
    embedded: Embedded, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = embedded.server
    for name in DATABASE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    settings = Settings(home=server.home, pg_port=server.port, env="test")
    await prepare_database(settings)
    assert stat.S_IMODE(embedded_password_file(server.home, APP_ROLE).stat().st_mode) == 0o600
    for dsn, role in ((settings.dsn, APP_ROLE), (settings.admin_dsn, EMBEDDED_OWNER)):
        conn = await connect(dsn)
        try:
            assert await conn.fetchval("SELECT current_user") == role
            await require_migrated(conn)
        finally:
            await conn.close()
    without = url(server, APP_ROLE, None, database="mediaops")
    assert isinstance(await refusal(without), asyncpg.InvalidPasswordError)
    where = {"MEDIAOPS_HOME": str(server.home), "MEDIAOPS_PG_PORT": str(server.port)}
    printed = [(await mediaops("dev", "dsn", *flag, **where)).stdout.strip() for flag in ((), ("--admin",))]
    assert printed == [settings.dsn, settings.admin_dsn]


async def test_a_data_directory_made_with_trust_is_upgraded_on_its_next_start(embedded: Embedded) -> None:
    """What an earlier version left: pg_hba.conf trusting everyone, no password file, and (under
    root) the data directory itself in MEDIAOPS_HOME. Its data must survive the upgrade."""
    server = embedded.server
    conn = await asyncpg.connect(server.dsn)
    await conn.execute("CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)")
    await conn.close()
    embedded.child.stop()
    if server.data_dir.is_symlink():
        location = server.data_dir.resolve()
        server.data_dir.unlink()
        location.rename(server.data_dir)
    (server.data_dir / "pg_hba.conf").write_text("local all all trust\nhost all all 127.0.0.1/32 trust\n")
    stale = server.dsn
    embedded_password_file(server.home, EMBEDDED_OWNER).unlink()

    embedded.child = server.start()
    assert isinstance(await refusal(url(server, EMBEDDED_OWNER, None)), asyncpg.InvalidPasswordError)
    assert isinstance(await refusal(stale), asyncpg.InvalidPasswordError)  # it has a new password
    conn = await asyncpg.connect(server.dsn)
    try:
        assert await conn.fetchval("SELECT n FROM kept") == 42
    finally:
        await conn.close()
    assert rules(server.data_dir) == ONLY_PASSWORDS
    assert modes(embedded.locked) == embedded.modes_before


def test_the_data_of_a_deleted_home_is_deleted_at_the_next_start(embedded: Embedded, tmp_path: Path) -> None:
    """Under root the data lives apart from MEDIAOPS_HOME; deleting the home must not leave it behind."""
    home = tmp_path / ".mediaops"
    gone = EmbeddedPostgres(home, free_port(), durable=False)
    gone.start().stop()
    location = gone.data_dir.resolve()
    shutil.rmtree(home)
    embedded.child.stop()
    embedded.child = embedded.server.start()
    assert not location.exists()
    assert embedded.server.data_dir.resolve().exists()
