"""Helpers for the end-to-end tests that drive a whole `mediaops up` of their own.

Kept out of the test modules so that each module (test_stack.py, test_fuzz.py) can start its own
stack with the same helpers without importing, and so collecting twice, the other's tests.
"""

import contextlib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psutil

from deploy.launch import CLI, StackProcess


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


class RunningStack(StackProcess):
    def __init__(self, env: dict[str, str]) -> None:
        super().__init__(env, Path(env["MEDIAOPS_HOME"]).parent / "up.log")

    def interrupt_all(self) -> tuple[int, list[psutil.Process]]:
        """Ctrl-C; returns the exit code and whichever of its descendants outlived it."""
        children = descendants(self.process.pid)
        code = self.interrupt()
        _gone, alive = psutil.wait_procs(children, timeout=5)
        return code, alive

    def kill_all(self) -> None:
        """kill -9 of the stack and of every process it started, for a teardown that must not hang."""
        if self.process.poll() is None:
            children = descendants(self.process.pid)
            self.kill()
            for child in children:
                with contextlib.suppress(psutil.NoSuchProcess):
                    child.kill()


@contextlib.contextmanager
def running_stack(env: dict[str, str]) -> Iterator[RunningStack]:
    """A ready stack; afterwards Ctrl-C, and kill -9 of whatever is still running (descendants too)."""
    stack = RunningStack(env)
    try:
        stack.wait_ready()
        yield stack
    finally:
        with contextlib.suppress(subprocess.TimeoutExpired):
            if stack.process.poll() is None:
                stack.interrupt_all()
        stack.kill_all()


def workers(stack: StackProcess) -> list[psutil.Process]:
    """The stack's live worker processes (`python -m cli worker`)."""
    found = []
    for process in descendants(stack.process.pid):
        with contextlib.suppress(psutil.Error):  # a child that just died is a zombie until reaped
            if process.cmdline()[-2:] == ["cli", "worker"] and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process)
    return found


def api(env: dict[str, str], path: str) -> str:
    return f"http://127.0.0.1:{env['MEDIAOPS_API_PORT']}{path}"


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=60, check=False)


def bearer(env: dict[str, str], role: str) -> dict[str, str]:
    token = cli(env, "dev", "token", role).stdout.strip()
    return {"Authorization": f"Bearer {token}"}


def wait_for(check: object, what: str, within: float = 60) -> object:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found = check()  # type: ignore[operator]
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")
