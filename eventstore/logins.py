"""Console sign-in: passwords as argon2id hashes, failures that lock a username, and sessions.

R-SECRETS keeps the circle that knows a password small, so nothing here stores one that logs
anyone in: a password only as its argon2id hash (memory-hard: a stolen table is slow to guess
from), a session cookie only as its SHA-256. A wrong password, an unknown user, a user with no
password and a disabled one get the same answer, after the same work (a dummy hash is checked when
there is no real one), so the answer does not tell who exists. After `login_failures_at_most`
failures within `login_locked_for` the username is locked for `login_locked_for`; the count is in
the database, so every API process sees it. A session ends after `session_idle` unused, after
`session_at_most` whatever happens, at sign-out, and when the password changes.
"""

import asyncio
import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from domain.commands import USER_ID
from domain.policy import Secrets
from domain.roles import Role, parse_roles
from eventstore.db import Conn
from eventstore.users import User, demo_user_id

DEMO_PASSWORD = "mediaops-demo"  # noqa: S105 - documented: the demo users' password on `make run`
"""Every demo user's password outside production (where there are no demo users)."""
SESSION_PREFIX = "mos_"
PASSWORD_AT_MOST = 200
"""What the sign-in form takes: a longer password could be set but never typed in."""

_hasher = PasswordHasher()
_DUMMY = _hasher.hash("not a password anyone has")
"""Checked when there is no real hash, so an unknown user takes as long as a wrong password."""


@dataclass(frozen=True)
class Session:
    user: User
    csrf_token: str
    """The secret every form of this session carries (compared with the hidden `csrf_token`)."""
    expires_at: datetime
    """The earlier of the idle and the absolute expiry, as of this read."""


class LoginRefused(Exception):
    """`wrong` (unknown user, wrong password, no password, disabled: one answer) or `locked`."""

    def __init__(self, reason: Literal["wrong", "locked"], until: datetime | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.until = until


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_new_password(user_id: str, password: str, policy: Secrets) -> None:
    """A ValueError saying why `password` will not do."""
    if len(password) < policy.password_min_length:
        raise ValueError(f"a password has at least {policy.password_min_length} characters (R-SECRETS)")
    if password.strip().lower() == user_id.lower():
        raise ValueError("a password is not the user's id (R-SECRETS)")
    if len(password) > PASSWORD_AT_MOST:
        raise ValueError(f"a password has at most {PASSWORD_AT_MOST} characters")
    if any(unicodedata.category(c) == "Cc" for c in password):
        raise ValueError("a password has no control characters")


def _digest(cookie: str) -> bytes:
    return hashlib.sha256(cookie.encode()).digest()


async def set_password(conn: Conn, user_id: str, password: str, policy: Secrets) -> None:
    """Give the active user `user_id` this password; every console session they have ends."""
    check_new_password(user_id, password, policy)
    hashed = hash_password(password)
    async with conn.transaction():
        changed = await conn.fetchval(
            """UPDATE users SET password_hash = $2, password_changed_at = now()
                WHERE id = $1 AND NOT disabled RETURNING id""",
            user_id,
            hashed,
        )
        if changed is None:
            raise LookupError(f"no active user '{user_id}'")
        await conn.execute(
            "UPDATE console_sessions SET ended_at = now() WHERE user_id = $1 AND ended_at IS NULL", user_id
        )
        await conn.execute("DELETE FROM login_throttle WHERE username = $1", user_id)


async def ensure_demo_passwords(conn: Conn, policy: Secrets) -> None:
    """The demo users (outside production) sign in with DEMO_PASSWORD, unless it was changed."""
    ids = [demo_user_id(role) for role in Role]
    missing = await conn.fetch(
        "SELECT id FROM users WHERE id = ANY ($1) AND password_hash IS NULL AND NOT disabled", ids
    )
    for row in missing:
        await conn.execute(
            "UPDATE users SET password_hash = $2, password_changed_at = now() WHERE id = $1",
            row["id"],
            hash_password(DEMO_PASSWORD),
        )


def _verified(hashed: str | None, password: str) -> bool:
    """Whether `password` is the one `hashed` keeps; with no hash, the same work against a dummy."""
    try:
        return _hasher.verify(hashed or _DUMMY, password) and hashed is not None
    except (VerificationError, InvalidHashError):
        return False


VERIFYING = asyncio.Semaphore(2)
"""argon2 takes a core for a few hundred milliseconds by design: at most two at a time, off the event
loop, so sign-in attempts never stall the API (webhooks must answer within seconds)."""


async def _checked(hashed: str | None, password: str) -> bool:
    async with VERIFYING:
        return await asyncio.to_thread(_verified, hashed, password)


async def log_in(conn: Conn, username: str, password: str, policy: Secrets) -> User:
    """The user `username` names, if `password` is theirs and the name is not locked.

    Each attempt is counted before the password is checked, in one statement, so attempts made at
    the same moment (from any API process) cannot get more guesses than the lock allows; a success
    clears the count. A name no user could have (not a user id) is refused after the same work,
    without a row: the table holds only names that could exist."""
    now = datetime.now(UTC)
    name = username if re.fullmatch(USER_ID, username) and len(password) <= PASSWORD_AT_MOST else None
    row = None
    if name is not None:
        tries, locked = await _attempt(conn, name, now, policy)
        if locked is not None:
            raise LoginRefused("locked", locked)
        row = await conn.fetchrow(
            "SELECT id, display_name, roles, password_hash FROM users WHERE id = $1 AND NOT disabled", name
        )
    matches = await _checked(row["password_hash"] if row else None, password)  # the work, whoever it is
    if not matches or row is None or name is None:
        if name is not None and tries >= policy.login_failures_at_most:
            until = now + policy.login_locked_for
            await conn.execute(
                "UPDATE login_throttle SET locked_until = $2, first_failure_at = $3 WHERE username = $1",
                name, until, now,
            )  # fmt: skip
            raise LoginRefused("locked", until)
        raise LoginRefused("wrong")
    await conn.execute("DELETE FROM login_throttle WHERE username = $1", name)
    if _hasher.check_needs_rehash(row["password_hash"]):  # the hasher's parameters moved on
        await conn.execute("UPDATE users SET password_hash = $2 WHERE id = $1", name, hash_password(password))
    return User(row["id"], row["display_name"], parse_roles(row["roles"]))


async def _attempt(conn: Conn, name: str, now: datetime, policy: Secrets) -> tuple[int, datetime | None]:
    """Count this attempt for `name`: which attempt of its window it is, and the lock in force, if
    any (a lock that has not ended, or one this attempt earns by being past the allowed number).

    A window starts at the first attempt not yet cleared by a success and lasts `login_locked_for`;
    names whose window and lock are over are forgotten here too, so the table stays small."""
    window_start = now - policy.login_locked_for
    async with conn.transaction():
        await conn.execute(
            """DELETE FROM login_throttle
                WHERE first_failure_at <= $1 AND (locked_until IS NULL OR locked_until <= $2)
                  AND username <> $3""",
            window_start, now, name,
        )  # fmt: skip
        row = await conn.fetchrow(
            """INSERT INTO login_throttle AS t (username, failures, first_failure_at) VALUES ($1, 1, $2)
               ON CONFLICT (username) DO UPDATE SET
                   failures = CASE WHEN t.locked_until > $2 THEN t.failures
                                   WHEN t.first_failure_at <= $3 THEN 1 ELSE t.failures + 1 END,
                   first_failure_at = CASE WHEN t.locked_until > $2 THEN t.first_failure_at
                                           WHEN t.first_failure_at <= $3 THEN $2 ELSE t.first_failure_at END,
                   locked_until = CASE WHEN t.locked_until > $2 THEN t.locked_until
                                       WHEN t.first_failure_at > $3 AND t.failures + 1 > $4 THEN $5 END
               RETURNING failures, locked_until""",
            name, now, window_start, policy.login_failures_at_most, now + policy.login_locked_for,
        )  # fmt: skip
    assert row is not None  # noqa: S101 - RETURNING always yields the row
    return row["failures"], row["locked_until"]


async def open_session(conn: Conn, user_id: str, policy: Secrets) -> tuple[str, Session]:
    """A new session for the user: the cookie (the only time it is seen) and the session."""
    cookie = SESSION_PREFIX + secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    expires = now + policy.session_at_most
    row = await conn.fetchrow(
        """WITH opened AS (
               INSERT INTO console_sessions
                      (token_sha256, user_id, csrf_token, created_at, last_seen_at, expires_at)
               VALUES ($1, $2, $3, $4, $4, $5) RETURNING user_id)
           SELECT u.id, u.display_name, u.roles FROM users u JOIN opened o ON o.user_id = u.id""",
        _digest(cookie),
        user_id,
        csrf,
        now,
        expires,
    )
    assert row is not None  # noqa: S101 - the user exists (the foreign key holds)
    user = User(row["id"], row["display_name"], parse_roles(row["roles"]))
    return cookie, Session(user, csrf, min(expires, now + policy.session_idle))


async def session_of(conn: Conn, cookie: str, policy: Secrets, *, used: bool = True) -> Session | None:
    """The live session a cookie opens, or None. `used`: a person did something, so its idle time
    starts again; a page refreshing itself (an SLA countdown) is not someone at the keyboard."""
    if not cookie.startswith(SESSION_PREFIX):
        return None
    now = datetime.now(UTC)
    row = await conn.fetchrow(
        """UPDATE console_sessions s SET last_seen_at = CASE WHEN $4 THEN $2 ELSE s.last_seen_at END
             FROM users u
            WHERE s.token_sha256 = $1 AND u.id = s.user_id AND NOT u.disabled AND s.ended_at IS NULL
              AND s.expires_at > $2 AND s.last_seen_at > $3
        RETURNING u.id, u.display_name, u.roles, s.csrf_token, s.expires_at""",
        _digest(cookie),
        now,
        now - policy.session_idle,
        used,
    )
    if row is None:
        return None
    user = User(row["id"], row["display_name"], parse_roles(row["roles"]))
    return Session(user, row["csrf_token"], min(row["expires_at"], now + policy.session_idle))


async def end_session(conn: Conn, cookie: str) -> None:
    await conn.execute(
        "UPDATE console_sessions SET ended_at = now() WHERE token_sha256 = $1 AND ended_at IS NULL",
        _digest(cookie),
    )
