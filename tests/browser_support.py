"""Debian's Chromium for the tests that need a real browser, or a skip that says how to get it.

`make test` installs `chromium`, `chromium-driver` and a Chinese font when the machine lacks them;
where that was not possible, the browser tests are skipped with this reason in pytest's summary
(`-ra`), never failed for want of a browser and never passed without one.
"""

import shutil
from pathlib import Path

import pytest

FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]  # fmt: skip
"""As root, in a closed network: without the background-networking flags Chromium keeps trying
Google's hosts, and /dev/shm is small in containers."""
SKIPPED = (
    "the browser tests need Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"
)


def chromium() -> str:
    found = shutil.which("chromium")
    if not found:
        pytest.skip(SKIPPED)
    return found


def chromedriver() -> str:
    found = shutil.which("chromedriver")
    if not found:
        pytest.skip(SKIPPED)
    return found


def output_folder(name: str) -> Path:
    """Where a browser test leaves what it saw (screenshots): tests/output/<name>, kept after the run."""
    folder = Path(__file__).parent / "output" / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder
