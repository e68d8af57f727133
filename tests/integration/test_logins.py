"""Console passwords, the lock on repeated failures, and sessions (eventstore/logins.py), on a real
PostgreSQL; and `mediaops users passwd`."""

import asyncio
import os
import subprocess
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest

from deploy.launch import CLI
from domain.policy import Secrets
from domain.roles import Role
from eventstore.db import connect
from eventstore.logins import (
    DEMO_PASSWORD,
    LoginRefused,
    check_new_password,
    end_session,
    ensure_demo_passwords,
    hash_password,
    log_in,
    open_session,
    session_of,
    set_password,
)
from eventstore.users import demo_user_id, ensure_demo_users, upsert_user

pytestmark = pytest.mark.postgres
POLICY = Secrets()
PASSWORD = "correct horse battery"


@pytest.fixture
async def conn(database: str) -> AsyncIterator[asyncpg.Connection]:
    c = await connect(database)
    await c.execute("DELETE FROM login_throttle; UPDATE console_sessions SET ended_at = now()")
    await upsert_user(c, "li.na", "Li Na", frozenset({Role.OPERATIONS_MANAGER}))
    await c.execute("UPDATE users SET disabled = false WHERE id = 'li.na'")
    await set_password(c, "li.na", PASSWORD, POLICY)
    yield c
    await c.close()


def test_a_new_password_is_refused_with_why() -> None:
    with pytest.raises(ValueError, match="at least 12"):
        check_new_password("li.na", "short", POLICY)
    with pytest.raises(ValueError, match="user's id"):
        check_new_password("li.na.li.na.", "LI.NA.LI.NA.", POLICY)
    with pytest.raises(ValueError, match="control"):
        check_new_password("li.na", "twelve chars\x00!", POLICY)
    check_new_password("li.na", PASSWORD, POLICY)


async def test_the_password_is_kept_only_as_an_argon2id_hash(conn: asyncpg.Connection) -> None:
    stored = await conn.fetchval("SELECT password_hash FROM users WHERE id = 'li.na'")
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    assert hash_password(PASSWORD) != stored  # salted
    user = await log_in(conn, "li.na", PASSWORD, POLICY)
    assert user.id == "li.na"
    assert Role.OPERATIONS_MANAGER in user.roles


@pytest.mark.parametrize("case", ["wrong password", "unknown user", "no password", "disabled"])
async def test_every_wrong_sign_in_gets_the_same_answer(conn: asyncpg.Connection, case: str) -> None:
    username, password = "li.na", PASSWORD
    if case == "wrong password":
        password = "not the password"
    elif case == "unknown user":
        username = "no.such.person"
    elif case == "no password":
        await upsert_user(conn, "new.person", "New", frozenset({Role.AUDITOR}))
        username = "new.person"
    else:
        await conn.execute("UPDATE users SET disabled = true WHERE id = 'li.na'")
    with pytest.raises(LoginRefused) as refused:
        await log_in(conn, username, password, POLICY)
    assert refused.value.reason == "wrong"
    assert refused.value.until is None


async def test_repeated_failures_lock_the_name_then_the_lock_ends(conn: asyncpg.Connection) -> None:
    for _ in range(POLICY.login_failures_at_most - 1):
        with pytest.raises(LoginRefused, match="wrong"):
            await log_in(conn, "li.na", "guess", POLICY)
    with pytest.raises(LoginRefused) as locked:
        await log_in(conn, "li.na", "guess", POLICY)
    assert locked.value.reason == "locked"
    assert locked.value.until is not None
    with pytest.raises(LoginRefused, match="locked"):  # even the right password, while locked
        await log_in(conn, "li.na", PASSWORD, POLICY)
    # the lock's time passes (moved back in the row, as the clock would have)
    await conn.execute(
        """UPDATE login_throttle SET locked_until = locked_until - $1::interval,
                  first_failure_at = first_failure_at - $1::interval WHERE username = 'li.na'""",
        POLICY.login_locked_for + timedelta(seconds=1),
    )
    assert (await log_in(conn, "li.na", PASSWORD, POLICY)).id == "li.na"
    assert await conn.fetchval("SELECT count(*) FROM login_throttle WHERE username = 'li.na'") == 0


async def test_failures_older_than_the_window_start_again(conn: asyncpg.Connection) -> None:
    for _ in range(POLICY.login_failures_at_most - 1):
        with pytest.raises(LoginRefused, match="wrong"):
            await log_in(conn, "li.na", "guess", POLICY)
    await conn.execute(
        "UPDATE login_throttle SET first_failure_at = now() - $1::interval WHERE username = 'li.na'",
        POLICY.login_locked_for + timedelta(seconds=1),
    )
    with pytest.raises(LoginRefused, match="wrong"):  # the first of a new window, not the fifth
        await log_in(conn, "li.na", "guess", POLICY)


async def test_a_session_is_kept_as_a_digest_and_ends(conn: asyncpg.Connection) -> None:
    cookie, opened = await open_session(conn, "li.na", POLICY)
    assert cookie.startswith("mos_")
    assert opened.user.id == "li.na"
    dump = await conn.fetchval("SELECT string_agg(t::text, ' ') FROM console_sessions t")
    assert cookie not in dump
    found = await session_of(conn, cookie, POLICY)
    assert found is not None
    assert found.csrf_token == opened.csrf_token
    assert await session_of(conn, cookie + "x", POLICY) is None
    assert await session_of(conn, "not-ours", POLICY) is None
    await end_session(conn, cookie)
    assert await session_of(conn, cookie, POLICY) is None


async def test_an_idle_or_old_session_ends(conn: asyncpg.Connection) -> None:
    idle, _ = await open_session(conn, "li.na", POLICY)
    old, _ = await open_session(conn, "li.na", POLICY)
    await conn.execute(
        """UPDATE console_sessions SET last_seen_at = now() - $1::interval
            WHERE token_sha256 = sha256($2::bytea)""",
        POLICY.session_idle + timedelta(seconds=1),
        idle.encode(),
    )
    await conn.execute(
        """UPDATE console_sessions SET expires_at = now() - interval '1 second'
            WHERE token_sha256 = sha256($1::bytea)""",
        old.encode(),
    )
    assert await session_of(conn, idle, POLICY) is None
    assert await session_of(conn, old, POLICY) is None


async def test_a_new_password_ends_every_session(conn: asyncpg.Connection) -> None:
    cookie, _ = await open_session(conn, "li.na", POLICY)
    await set_password(conn, "li.na", "another long password", POLICY)
    assert await session_of(conn, cookie, POLICY) is None
    with pytest.raises(LookupError):
        await set_password(conn, "no.such.person", PASSWORD, POLICY)


async def test_demo_passwords_are_set_once(conn: asyncpg.Connection) -> None:
    await ensure_demo_users(conn)
    await conn.execute("UPDATE users SET password_hash = NULL WHERE id LIKE 'demo.%'")
    await ensure_demo_passwords(conn, POLICY)
    manager = demo_user_id(Role.OPERATIONS_MANAGER)
    assert (await log_in(conn, manager, DEMO_PASSWORD, POLICY)).id == manager
    await set_password(conn, manager, "the manager's own one", POLICY)
    await ensure_demo_passwords(conn, POLICY)
    with pytest.raises(LoginRefused):
        await log_in(conn, manager, DEMO_PASSWORD, POLICY)


async def test_users_passwd_from_stdin(database: str, conn: asyncpg.Connection) -> None:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("DATABASE_")}, "MEDIAOPS_ENV": "test"}
    env["DATABASE_URL"] = database

    async def passwd(user: str, line: str) -> subprocess.CompletedProcess[str]:
        return await asyncio.to_thread(
            subprocess.run, [*CLI, "users", "passwd", user, "--password-stdin"],
            input=line + "\n", env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip

    short = await passwd("li.na", "short")
    assert short.returncode == 1
    assert "at least 12" in short.stderr + short.stdout
    done = await passwd("li.na", "a password from a script")
    assert done.returncode == 0, done.stderr
    assert "password set for li.na" in done.stdout
    assert "a password from a script" not in done.stdout + done.stderr
    assert (await log_in(conn, "li.na", "a password from a script", POLICY)).id == "li.na"
    unknown = await passwd("nobody.here", "long enough password")
    assert unknown.returncode == 1
    assert "nobody.here" in unknown.stderr + unknown.stdout


async def test_attempts_at_the_same_moment_get_no_more_guesses(
    database: str, conn: asyncpg.Connection
) -> None:
    """Each attempt is counted before its password is checked: 12 at once, from 12 connections,
    get at most `login_failures_at_most` checks, and the rest are told the name is locked."""
    conns = [await connect(database) for _ in range(12)]
    try:
        results = await asyncio.gather(
            *(log_in(c, "li.na", f"guess {n}", POLICY) for n, c in enumerate(conns)), return_exceptions=True
        )
    finally:
        for c in conns:
            await c.close()
    reasons = [r.reason for r in results if isinstance(r, LoginRefused)]
    assert len(reasons) == 12
    assert reasons.count("wrong") <= POLICY.login_failures_at_most - 1
    assert reasons.count("locked") >= 12 - POLICY.login_failures_at_most + 1
    with pytest.raises(LoginRefused, match="locked"):
        await log_in(conn, "li.na", PASSWORD, POLICY)


async def test_a_name_no_one_could_have_leaves_no_row(conn: asyncpg.Connection) -> None:
    for name in ("Robert'); DROP TABLE users;--", "a\x00b", "x" * 65, "UPPER.CASE"):
        with pytest.raises(LoginRefused, match="wrong"):
            await log_in(conn, name, "whatever it is", POLICY)
    assert await conn.fetchval("SELECT count(*) FROM login_throttle") == 0
    with pytest.raises(LoginRefused, match="wrong"):  # a password longer than the form takes
        await log_in(conn, "li.na", "x" * 201, POLICY)
    with pytest.raises(ValueError, match="at most 200"):
        check_new_password("li.na", "x" * 201, POLICY)


IDLE_FOR = "SELECT now() - max(last_seen_at) FROM console_sessions WHERE ended_at IS NULL"


async def test_a_page_refreshing_itself_does_not_keep_a_session_alive(conn: asyncpg.Connection) -> None:
    cookie, _ = await open_session(conn, "li.na", POLICY)
    await conn.execute("UPDATE console_sessions SET last_seen_at = now() - interval '1 hour'")
    assert await session_of(conn, cookie, POLICY, used=False) is not None
    seen = await conn.fetchval(IDLE_FOR)
    assert seen >= timedelta(minutes=59)  # the SLA board's poll did not count as someone at the keyboard
    assert await session_of(conn, cookie, POLICY) is not None
    seen = await conn.fetchval(IDLE_FOR)
    assert seen < timedelta(minutes=1)
