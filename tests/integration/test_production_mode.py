"""Issue 15, must show 4: a production-mode start that cannot be trusted stops, naming the setting.

Each case runs the real `mediaops` command in a process of its own, with the environment an
operator would give it; nothing is started before the refusal (no worker polls, no API listens).
"""

import asyncio
import base64
import os
import secrets
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from deploy.fakes.app import demo_account_list, write_accounts
from eventstore.users import ensure_demo_users
from tests.tls_support import client_certificate

pytestmark = pytest.mark.postgres

CLI = [sys.executable, "-m", "cli"]


def keyring(key_id: str) -> str:
    return f"{key_id}:" + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")


@pytest.fixture
def production(tmp_path: Path, app_database: str) -> dict[str, str]:
    """Everything production needs but what each test takes away or adds."""
    cert, key = client_certificate(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAOPS_")}
    env.update(
        MEDIAOPS_ENV="production",
        MEDIAOPS_HOME=str(tmp_path / "home"),
        DATABASE_URL=app_database,
        TEMPORAL_ADDRESS="127.0.0.1:1",  # never reached: every refusal comes before
        MEDIAOPS_TEMPORAL_TLS_CERT=str(cert),
        MEDIAOPS_TEMPORAL_TLS_KEY=str(key),
        MEDIAOPS_CODEC_KEYS=keyring("c1"),
        MEDIAOPS_COMMAND_KEYS=keyring("s1"),
    )
    return env


def start(env: dict[str, str], *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *command], env=env, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("command", ["worker", "api", "temporal-init"])
def test_without_tls_it_stops_naming_the_tls_settings(production: dict[str, str], command: str) -> None:
    del production["MEDIAOPS_TEMPORAL_TLS_CERT"], production["MEDIAOPS_TEMPORAL_TLS_KEY"]
    ran = start(production, command)
    assert ran.returncode == 1, ran.stderr
    assert (
        "MEDIAOPS_TEMPORAL_TLS_CERT and MEDIAOPS_TEMPORAL_TLS_KEY (mTLS), or MEDIAOPS_TEMPORAL_API_KEY"
        in ran.stderr
    )


def test_a_certificate_without_its_key_is_named(production: dict[str, str]) -> None:
    del production["MEDIAOPS_TEMPORAL_TLS_KEY"]
    ran = start(production, "worker")
    assert ran.returncode == 2
    assert "MEDIAOPS_TEMPORAL_TLS_CERT and MEDIAOPS_TEMPORAL_TLS_KEY go together" in ran.stderr


def test_a_demo_account_stops_it_naming_the_accounts_file(production: dict[str, str], tmp_path: Path) -> None:
    accounts = tmp_path / "accounts.toml"
    write_accounts(accounts, demo_account_list("http://127.0.0.1:8900"))
    production["MEDIAOPS_ACCOUNTS_FILE"] = str(accounts)
    for command in ("worker", "api"):
        ran = start(production, command)
        assert ran.returncode == 1, ran.stderr
        assert "MEDIAOPS_ACCOUNTS_FILE: wechat/demo is a demo account" in ran.stderr
        assert "demo-wechat-secret" not in ran.stderr


def test_an_account_on_this_machine_or_over_plain_http_is_refused(
    production: dict[str, str], tmp_path: Path
) -> None:
    accounts = tmp_path / "accounts.toml"
    accounts.write_text(
        '[[account]]\nplatform = "zhihu"\nname = "brand"\nbase_url = "http://[::1]:9000"\n'
        '[[account]]\nplatform = "sohu"\nname = "brand"\nbase_url = "http://mp.sohu.com"\n'
        '[[account]]\nplatform = "toutiao"\nname = "brand"\nbase_url = "https://mp.toutiao.com"\n'
        'image_hosts = ["127.0.0.1:8900"]\n',
        encoding="utf-8",
    )
    production["MEDIAOPS_ACCOUNTS_FILE"] = str(accounts)
    ran = start(production, "worker")
    assert ran.returncode == 1, ran.stderr
    assert "zhihu/brand points at this machine (::1)" in ran.stderr
    assert "sohu/brand is not reached over HTTPS" in ran.stderr
    assert "toutiao/brand takes images from this machine (127.0.0.1:8900)" in ran.stderr


async def test_demo_users_stop_it_until_they_are_disabled(production: dict[str, str], database: str) -> None:
    conn = await asyncpg.connect(database)
    try:
        await ensure_demo_users(conn)
        ran = await asyncio.to_thread(start, production, "api")
        assert ran.returncode == 1, ran.stderr
        assert "demo user demo.operations_manager can sign in" in ran.stderr
        for user_id in [r["id"] for r in await conn.fetch("SELECT id FROM users WHERE id LIKE 'demo.%'")]:
            disabled = await asyncio.to_thread(start, production, "users", "disable", user_id)
            assert disabled.returncode == 0, disabled.stderr
        # Past every check now: the worker goes on to Temporal, which is not there in this test.
        again = await asyncio.to_thread(start, production, "worker")
        assert again.returncode != 0
        assert "demo user" not in again.stderr
        assert "MEDIAOPS_ENV=production" not in again.stderr
    finally:
        await conn.execute("DELETE FROM users WHERE id LIKE 'demo.%'")
        await conn.close()


def test_no_keys_no_cluster_and_console_logs_are_each_named(production: dict[str, str]) -> None:
    for name in ("MEDIAOPS_CODEC_KEYS", "MEDIAOPS_COMMAND_KEYS", "TEMPORAL_ADDRESS", "DATABASE_URL"):
        del production[name]
    production["MEDIAOPS_LOG_FORMAT"] = "console"
    ran = start(production, "worker")
    assert ran.returncode == 1, ran.stderr
    for setting in (
        "TEMPORAL_ADDRESS: production runs on a Temporal cluster",
        "DATABASE_URL: production runs on a PostgreSQL server",
        "MEDIAOPS_CODEC_KEYS and MEDIAOPS_COMMAND_KEYS (or MEDIAOPS_KEYS_FILE)",
        "MEDIAOPS_LOG_FORMAT: production logs JSON",
    ):
        assert setting in ran.stderr


@pytest.mark.parametrize("command", ["up", "fakes"])
def test_the_embedded_stack_and_the_fakes_are_refused(production: dict[str, str], command: str) -> None:
    ran = start(production, command)
    assert ran.returncode == 1
    assert "refused when MEDIAOPS_ENV=production" in ran.stderr


def test_secrets_come_from_files_in_the_secrets_dir(production: dict[str, str], tmp_path: Path) -> None:
    """What Compose and Kubernetes mount: a file per variable, none of it in the environment."""
    folder = tmp_path / "secrets"
    folder.mkdir()
    for name in ("MEDIAOPS_CODEC_KEYS", "MEDIAOPS_COMMAND_KEYS"):
        (folder / name.lower()).write_text(production.pop(name), encoding="utf-8")
    del production["MEDIAOPS_TEMPORAL_TLS_CERT"], production["MEDIAOPS_TEMPORAL_TLS_KEY"]
    production["MEDIAOPS_SECRETS_DIR"] = str(folder)
    ran = start(production, "worker")
    assert "MEDIAOPS_CODEC_KEYS" not in ran.stderr  # found in the folder
    assert "MEDIAOPS_TEMPORAL_TLS_CERT and MEDIAOPS_TEMPORAL_TLS_KEY" in ran.stderr  # the one left out
    production["MEDIAOPS_SECRETS_DIR"] = str(tmp_path / "missing")
    assert "MEDIAOPS_SECRETS_DIR" in start(production, "worker").stderr
