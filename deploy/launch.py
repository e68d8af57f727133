"""`mediaops up` as a child process, for the programs that drive a whole stack (the bench, e2e tests).

They measure or test the system as `make run` runs it: PostgreSQL, Temporal, the fakes, the worker
and the API in processes of their own, each on ports picked here so a developer's own stack is
never met. Ready means what a person sees: `/readyz` answers and the banner is printed.
"""

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from deploy.processes import free_port, wait_until

CLI = [sys.executable, "-m", "cli"]
BANNER_MARK = "mediaops dev token"
PORTS = (
    "MEDIAOPS_API_PORT",
    "MEDIAOPS_PG_PORT",
    "MEDIAOPS_TEMPORAL_PORT",
    "MEDIAOPS_TEMPORAL_UI_PORT",
    "MEDIAOPS_FAKES_PORT",
    "MEDIAOPS_WORKER_OPS_PORT",
    "MEDIAOPS_API_OPS_PORT",
)


def stack_environment(home: Path, **extra: str) -> dict[str, str]:
    """This process's environment with a state folder and free ports of its own.

    `DATABASE_URL` and `TEMPORAL_ADDRESS` are dropped unless given in `extra`: without them the
    stack starts its own embedded services.
    """
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "TEMPORAL_ADDRESS"}}
    env.pop("MEDIAOPS_ACCOUNTS_FILE", None)
    env.update({name: str(free_port()) for name in PORTS})
    env.update(MEDIAOPS_HOME=str(home), **extra)
    return env


class StackProcess:
    """One `mediaops up`, its output appended to `log`."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.out = log.open("ab")
        self.start = self.out.tell()
        self.process = subprocess.Popen(  # noqa: S603 - our own CLI, from this interpreter
            [*CLI, "up"], env=env, stdout=self.out, stderr=subprocess.STDOUT
        )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.env['MEDIAOPS_API_PORT']}{path}"

    @property
    def fakes(self) -> str:
        return f"http://127.0.0.1:{self.env['MEDIAOPS_FAKES_PORT']}"

    @property
    def temporal(self) -> str:
        return self.env.get("TEMPORAL_ADDRESS") or f"127.0.0.1:{self.env['MEDIAOPS_TEMPORAL_PORT']}"

    def output(self) -> str:
        """What this run printed (a second run appends to the same log)."""
        with self.log.open("rb") as log:
            log.seek(self.start)
            return log.read().decode(errors="replace")

    def ready(self) -> bool:
        try:
            answered = httpx.get(self.url("/readyz"), timeout=2).status_code == 200
        except httpx.HTTPError:
            return False
        return answered and BANNER_MARK in self.output()

    def wait_ready(self, within_s: float = 120) -> None:
        try:
            wait_until(lambda: self.ready() or self.process.poll() is not None, within_s, "the stack")
        finally:
            if self.process.poll() is not None:
                raise RuntimeError(f"`mediaops up` stopped:\n{self.output()}")

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """A `mediaops` command against this stack (`dev token ROLE`, `dev dsn`, ...)."""
        return subprocess.run(  # noqa: S603 - our own CLI, from this interpreter
            [*CLI, *args], env=self.env, capture_output=True, text=True, timeout=60, check=False
        )

    def interrupt(self, within_s: float = 60) -> int:
        """Ctrl-C, as the terminal sends it; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        code = self.process.wait(within_s)
        self.out.close()
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.out.close()
