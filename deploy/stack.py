"""`mediaops up` (what `make run` runs): the whole system on one machine, stopped by one Ctrl-C.

Order of start: PostgreSQL, schema and demo users, Temporal, the worker, the API. Stop is the
reverse. Anything configured externally (DATABASE_URL, TEMPORAL_ADDRESS) is used, not started.
"""

import asyncio
import signal
import sys
import time
from dataclasses import dataclass, field
from types import FrameType

import httpx
import structlog
from temporalio.client import Client
from temporalio.service import RPCError

from deploy.fakes.app import demo_account_list, write_accounts
from deploy.postgres import EmbeddedPostgres, ensure_password
from deploy.processes import Child, environ_with, port_in_use, spawn, tcp_accepts, wait_until
from deploy.temporal import start_dev_server
from eventstore.db import connect, database_name, ensure_database, ensure_login_role
from eventstore.logins import DEMO_PASSWORD, ensure_demo_passwords
from eventstore.migrate import migrate
from eventstore.users import ensure_demo_users
from mediaops.keys import ensure_keys_file
from mediaops.settings import APP_ROLE, Settings, embedded_password_file
from mediaops.temporal import connect as connect_temporal
from mediaops.temporal import register_search_attributes
from workers.worker import DRAIN
from workflows import search_attributes

log = structlog.get_logger(__name__)


class PortTaken(RuntimeError):
    pass


def check_ports(settings: Settings) -> None:
    """Refuse to start anything when a port we need is taken, naming it and its setting."""
    wanted = [
        (settings.api_port, "the API", "MEDIAOPS_API_PORT"),
        (settings.worker_ops_port, "the worker's metrics", "MEDIAOPS_WORKER_OPS_PORT"),
        (settings.api_ops_port, "the API's metrics", "MEDIAOPS_API_OPS_PORT"),
    ]
    if settings.embedded_postgres:
        wanted.append((settings.pg_port, "the embedded PostgreSQL", "MEDIAOPS_PG_PORT"))
    if settings.accounts_file is None:
        wanted.append((settings.fakes_port, "the fake platforms", "MEDIAOPS_FAKES_PORT"))
    if settings.embedded_temporal:
        wanted.append((settings.temporal_port, "Temporal", "MEDIAOPS_TEMPORAL_PORT"))
        wanted.append((settings.temporal_ui_port, "the Temporal Web UI", "MEDIAOPS_TEMPORAL_UI_PORT"))
    taken = [f"port {port} ({what}; set {var} to move it)" for port, what, var in wanted if port_in_use(port)]
    if taken:
        raise PortTaken("already in use: " + ", ".join(taken) + ". Nothing was started.")


OWNER_VARIABLES = ("DATABASE_ADMIN_URL", "MEDIAOPS_DATABASE_ADMIN_URL")
"""The schema owner's URL, kept from the worker and the API: they connect as the application role."""


async def prepare_database(settings: Settings) -> None:
    """As the schema's owner: create the database if needed, (embedded) the application role with its
    generated password, apply migrations, and (outside production) the demo users."""
    await ensure_database(settings.admin_dsn)
    conn = await connect(settings.admin_dsn)
    try:
        if settings.embedded_postgres:
            password = ensure_password(embedded_password_file(settings.home, APP_ROLE))
            await ensure_login_role(conn, APP_ROLE, password)
        applied = await migrate(conn)
        if applied:
            log.info("migrations applied", versions=[f"{m.version:04d}_{m.name}" for m in applied])
        if settings.env != "production":
            await ensure_demo_users(conn)
            if settings.env == "development":  # a documented password is for trying it out only
                await ensure_demo_passwords(conn, settings.policy.secrets)
    finally:
        await conn.close()


TEMPORAL_READY_S = 90.0


async def ready_temporal(settings: Settings) -> Client:
    """A client once Temporal's frontend answers healthy: an open port comes seconds earlier."""
    deadline = time.monotonic() + TEMPORAL_READY_S
    while True:
        try:
            client = await connect_temporal(settings)
            await client.service_client.check_health()
        except (RuntimeError, RPCError) as exc:  # how temporalio reports a server not ready yet
            if time.monotonic() > deadline:
                raise RuntimeError(f"Temporal at {settings.temporal_target} is not healthy: {exc}") from None
            await asyncio.sleep(0.5)
            continue
        return client


async def prepare_temporal(settings: Settings) -> None:
    client = await ready_temporal(settings)
    added = await register_search_attributes(client, search_attributes.ALL)
    if added:
        log.info("search attributes registered", names=added)


@dataclass
class Restart:
    """One child's restarts: 1 s, 2 s, 4 s ... 30 s apart; a child that ran a minute starts over."""

    pause: float = 1.0
    due: float | None = None
    since: float = 0.0

    def schedule(self, now: float) -> None:
        if now - self.since > HEALTHY_S:
            self.pause = 1.0
        self.due = now + self.pause

    def started(self, now: float) -> None:
        self.due, self.since = None, now
        self.pause = min(self.pause * 2, LONGEST_PAUSE_S)


HEALTHY_S = 60.0
LONGEST_PAUSE_S = 30.0


@dataclass
class Stack:
    settings: Settings
    children: list[Child] = field(default_factory=list)
    stopping: bool = False
    restarts: dict[str, Restart] = field(default_factory=dict)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.stopping = True

    def run(self) -> int:
        settings = self.settings
        check_ports(settings)
        settings.home.mkdir(parents=True, exist_ok=True)
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        try:
            self._start()
            print(self._banner(), flush=True)
            while not self.stopping:
                self._supervise()
                time.sleep(0.3)
            return 0
        finally:
            self.stop()

    def _supervise(self) -> None:
        """Start again whatever stopped on its own, after a pause that grows while it keeps failing.

        The others go on meanwhile: the API answers 503 while Temporal or PostgreSQL is back on its
        feet, the worker's activities retry, and the workflows resume where their histories left off.
        """
        now = time.monotonic()
        for i, child in enumerate(self.children):
            if child.running():
                continue
            restart = self.restarts.setdefault(child.name, Restart())
            if restart.due is None:
                restart.schedule(now)
                log.error(
                    "a process stopped unexpectedly; starting it again",
                    process=child.name,
                    code=child.process.returncode,
                    in_s=restart.pause,
                )
            elif now >= restart.due:
                self.children[i] = child.respawned()
                restart.started(now)
                log.info("started again", process=child.name)

    def _start(self) -> None:
        settings = self.settings
        home = settings.home.resolve()
        if ensure_keys_file(settings.effective_keys_file.resolve()):
            log.info("codec and command keys created", file=str(settings.effective_keys_file))
        if settings.embedded_postgres:
            pg = EmbeddedPostgres(home, settings.pg_port)
            log.info("starting PostgreSQL", port=settings.pg_port, data=str(pg.data_dir))
            self.children.append(pg.start())
        asyncio.run(prepare_database(settings))
        if settings.embedded_temporal:
            log.info(
                "starting Temporal dev server", port=settings.temporal_port, ui=settings.temporal_ui_port
            )
            self.children.append(
                start_dev_server(
                    home / "temporal.db",
                    settings.temporal_port,
                    settings.temporal_ui_port,
                    settings.temporal_namespace,
                    home / "temporal.log",
                    codec_endpoint=f"{settings.api_url}/codec",
                )
            )
        asyncio.run(prepare_temporal(settings))
        cli = [sys.executable, "-m", "cli"]
        accounts_file = settings.accounts_file
        if accounts_file is None:
            accounts_file = home / "accounts.toml"
            # Generated for the fakes, so written on every start: one left by an older version (without
            # a field accounts now require) or for another fakes port would not load or not connect.
            write_accounts(accounts_file, demo_account_list(f"http://127.0.0.1:{settings.fakes_port}"))
            fakes_env = environ_with(MEDIAOPS_ACCOUNTS_FILE=str(accounts_file))
            fakes = spawn("fakes", [*cli, "fakes"], env=fakes_env)
            self.children.append(fakes)
            wait_until(
                lambda: tcp_accepts(settings.fakes_port),
                30,
                f"the fake platforms on :{settings.fakes_port}",
                fakes,
            )
        # The application role's URL: DATABASE_URL, or the embedded one, whose password the children
        # read from MEDIAOPS_HOME (0600) rather than from their environment.
        database = {"DATABASE_URL": settings.database_url} if settings.database_url else {}
        env = environ_with(
            **database,
            MEDIAOPS_HOME=str(home),
            MEDIAOPS_PG_PORT=str(settings.pg_port),
            TEMPORAL_ADDRESS=settings.temporal_target,
            MEDIAOPS_ACCOUNTS_FILE=str(accounts_file),
        )
        for name in OWNER_VARIABLES:
            env.pop(name, None)
        ops = {"worker": settings.worker_ops_port, "api": settings.api_ops_port}
        env_of = {
            name: {**env, "MEDIAOPS_METRICS_ADDRESS": f"127.0.0.1:{port}"} for name, port in ops.items()
        }
        self.children.append(spawn("worker", [*cli, "worker"], env=env_of["worker"]))
        api = spawn("api", [*cli, "api"], env=env_of["api"])
        self.children.append(api)
        wait_until(self._api_ready, 60, f"the API's /readyz on :{settings.api_port}", api)

    def _api_ready(self) -> bool:
        try:
            response = httpx.get(f"http://127.0.0.1:{self.settings.api_port}/readyz", timeout=2)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    def _banner(self) -> str:
        s = self.settings
        temporal_ui = (
            f"http://127.0.0.1:{s.temporal_ui_port}" if s.embedded_temporal else "(external Temporal)"
        )
        fakes = (
            f"http://127.0.0.1:{s.fakes_port}/<platform>/__fake__/state   (fakes for the demo accounts)"
            if s.accounts_file is None
            else f"accounts from {s.accounts_file}"
        )
        return "\n".join(
            [
                "",
                "MediaOps is running. Ctrl-C stops everything it started.",
                f"  API            http://{s.api_host}:{s.api_port}   (OpenAPI: /docs, readiness: /readyz)",
                f"  Console        http://{s.api_host}:{s.api_port}/   (demo password: {DEMO_PASSWORD})"
                if s.env == "development"
                else f"  Console        http://{s.api_host}:{s.api_port}/",
                f"  Temporal       {s.temporal_target}   namespace {s.temporal_namespace}",
                f"  Metrics        http://127.0.0.1:{s.worker_ops_port}/metrics (worker), "
                f"http://127.0.0.1:{s.api_ops_port}/metrics (API)",
                f"  Temporal UI    {temporal_ui}",
                f"  PostgreSQL     database {database_name(s.dsn)} (`mediaops dev dsn` prints the URL)",
                f"  Platforms      {fakes}",
                f"  WeChat inbox   {s.api_url}/webhooks/wechat/demo   (try `mediaops dev wechat-message`)",
                "  Get a token    .venv/bin/mediaops dev token content_specialist",
                '  Try it         curl -H "Authorization: Bearer $(.venv/bin/mediaops dev token '
                f'operations_manager)" http://{s.api_host}:{s.api_port}/me',
                "",
            ]
        )

    def stop(self) -> None:
        """Stop every child we started, newest first (API before the database it uses)."""
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not abandon the children
        for child in reversed(self.children):
            if child.running():
                log.info("stopping", process=child.name)
                # The worker lets running activities finish (DRAIN) before it goes: wait for it.
                child.stop(DRAIN.total_seconds() + 10 if child.name == "worker" else 20.0)
        self.children.clear()
