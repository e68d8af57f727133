"""People and their API tokens.

A token is `mo_` followed by 32 random bytes (URL-safe base64). Only its SHA-256 digest is stored,
so a database dump holds nothing that authenticates (R-SECRETS); a token can be revoked or expire.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from domain.roles import ROLE_TITLES, Role, parse_roles
from eventstore.db import Conn

TOKEN_PREFIX = "mo_"  # noqa: S105 - a public marker, not a secret


@dataclass(frozen=True)
class User:
    id: str
    display_name: str
    roles: frozenset[Role]


def demo_user_id(role: Role) -> str:
    return f"demo.{role.value}"


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _user(record: asyncpg.Record) -> User:
    return User(record["id"], record["display_name"], parse_roles(record["roles"]))


async def upsert_user(conn: Conn, user_id: str, display_name: str, roles: frozenset[Role]) -> User:
    record = await conn.fetchrow(
        """INSERT INTO users (id, display_name, roles) VALUES ($1, $2, $3)
           ON CONFLICT (id) DO UPDATE SET display_name = EXCLUDED.display_name, roles = EXCLUDED.roles
           RETURNING id, display_name, roles""",
        user_id,
        display_name,
        sorted(r.value for r in roles),
    )
    assert record is not None  # noqa: S101 - RETURNING always yields the row
    return _user(record)


async def ensure_demo_users(conn: Conn) -> list[User]:
    """One demo user per role, e.g. `demo.content_specialist`, for trying the system out."""
    return [
        await upsert_user(conn, demo_user_id(role), f"Demo {ROLE_TITLES[role]}", frozenset({role}))
        for role in Role
    ]


async def active_demo_users(conn: Conn) -> list[str]:
    """The demo users that can still sign in: production refuses to start while any is left."""
    rows = await conn.fetch("SELECT id FROM users WHERE id LIKE 'demo.%' AND NOT disabled ORDER BY id")
    return [r["id"] for r in rows]


async def disable_user(conn: Conn, user_id: str) -> bool:
    """The user can no longer sign in or use a token; their record and history stay (R-ACCOUNTS)."""
    async with conn.transaction():
        found = await conn.fetchval("UPDATE users SET disabled = true WHERE id = $1 RETURNING true", user_id)
        await revoke_tokens(conn, user_id)
    return bool(found)


async def list_users(conn: Conn) -> list[User]:
    rows = await conn.fetch("SELECT id, display_name, roles FROM users WHERE NOT disabled ORDER BY id")
    return [_user(r) for r in rows]


async def issue_token(conn: Conn, user_id: str, label: str, expires_at: datetime | None = None) -> str:
    """A new bearer token for the user; the only time the token itself is ever seen."""
    exists = await conn.fetchval("SELECT 1 FROM users WHERE id = $1 AND NOT disabled", user_id)
    if not exists:
        raise LookupError(f"no active user '{user_id}'")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    await conn.execute(
        "INSERT INTO api_tokens (token_sha256, user_id, label, expires_at) VALUES ($1, $2, $3, $4)",
        _digest(token),
        user_id,
        label,
        expires_at,
    )
    return token


async def user_for_token(conn: Conn, token: str) -> User | None:
    """The active user the token belongs to, or None for an unknown, revoked or expired token."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    record = await conn.fetchrow(
        """SELECT u.id, u.display_name, u.roles
             FROM api_tokens t JOIN users u ON u.id = t.user_id
            WHERE t.token_sha256 = $1 AND t.revoked_at IS NULL
              AND (t.expires_at IS NULL OR t.expires_at > now()) AND NOT u.disabled""",
        _digest(token),
    )
    return _user(record) if record is not None else None


async def revoke_tokens(conn: Conn, user_id: str) -> int:
    status = await conn.execute(
        "UPDATE api_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL", user_id
    )
    return int(status.split()[-1])
