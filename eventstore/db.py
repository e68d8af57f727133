"""Connections to PostgreSQL, with bounded waits so a stuck server fails fast and clearly."""

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
from typing import TYPE_CHECKING, Any, TypeAlias
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg
from asyncpg.pool import PoolConnectionProxy

if TYPE_CHECKING:
    Conn: TypeAlias = asyncpg.Connection[Any] | PoolConnectionProxy[Any]
else:  # the stubs' generics are not subscriptable at run time
    Conn = asyncpg.Connection | PoolConnectionProxy
"""A connection, whether opened alone or borrowed from a pool."""

CONNECT_TIMEOUT_S = 10.0
SERVER_SETTINGS = {
    "application_name": "mediaops",
    "lock_timeout": "5s",
    "statement_timeout": "60s",
    "idle_in_transaction_session_timeout": "60s",
}


async def init_connection(conn: Conn) -> None:
    """jsonb in and out as Python objects, on every connection the system opens."""
    await conn.set_type_codec(
        "jsonb", encoder=lambda v: json.dumps(v, ensure_ascii=False), decoder=json.loads, schema="pg_catalog"
    )


async def connect(dsn: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(dsn, timeout=CONNECT_TIMEOUT_S, server_settings=SERVER_SETTINGS)
    await init_connection(conn)
    return conn


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    return await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        timeout=CONNECT_TIMEOUT_S,
        server_settings=SERVER_SETTINGS,
        init=init_connection,
    )


def with_database(dsn: str, database: str) -> str:
    """The same server's URL pointing at another database."""
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{database}"))


def with_credentials(dsn: str, user: str, password: str) -> str:
    """The same server and database, connecting as another role."""
    parts = urlsplit(dsn)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{quote(user, safe='')}:{quote(password, safe='')}@{host}"))


def database_name(dsn: str) -> str:
    return urlsplit(dsn).path.lstrip("/") or "postgres"


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


SCRAM_ITERATIONS = 4096  # PostgreSQL's own default (scram_iterations)


def scram_verifier(password: str) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores for `password`, computed here (RFC 5802/7677).

    Handing the server a verifier instead of the password keeps the password out of its logs and
    of pg_stat_activity, as psql's \\password does. SASLprep is the identity on printable ASCII,
    which is all this accepts (the passwords are ours, from `secrets.token_urlsafe`).
    """
    if not (password.isascii() and password.isprintable() and password):
        raise ValueError("the password must be printable ASCII (no SASLprep here)")
    salt = secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, SCRAM_ITERATIONS)
    stored_key = hashlib.sha256(hmac.digest(salted, b"Client Key", "sha256")).digest()
    server_key = hmac.digest(salted, b"Server Key", "sha256")

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    return f"SCRAM-SHA-256${SCRAM_ITERATIONS}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


async def ensure_login_role(conn: Conn, role: str, password: str) -> None:
    """Create `role` able to log in with `password`, or give an existing one that password.

    For the roles MediaOps bootstraps itself (the embedded server's application role, the tests'):
    created with PostgreSQL's defaults, so no superuser, CREATEDB, CREATEROLE or BYPASSRLS. Needs a
    superuser or CREATEROLE; on an external server the operator creates the role instead.
    """
    exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
    verb = "ALTER" if exists else "CREATE"
    await conn.execute(f"{verb} ROLE {quote_ident(role)} LOGIN PASSWORD '{scram_verifier(password)}'")


async def ensure_database(dsn: str) -> bool:
    """Create the URL's database if it does not exist yet; True when it was created."""
    name = database_name(dsn)
    conn = await connect(with_database(dsn, "postgres"))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if exists:
            return False
        await conn.execute(f"CREATE DATABASE {quote_ident(name)}")
        return True
    finally:
        await conn.close()


POOL_CLOSE_S = 10.0
"""How long closing a pool waits for its connections to be given back."""


async def close_pool(pool: asyncpg.Pool) -> None:
    """Close `pool`, and terminate what is still out after POOL_CLOSE_S: asyncpg's close waits for
    every acquired connection, so one stuck on a connection the server dropped would hang the
    process's shutdown (seen in a test whose database terminated every backend) forever."""
    try:
        await asyncio.wait_for(pool.close(), POOL_CLOSE_S)
    except TimeoutError:
        pool.terminate()
