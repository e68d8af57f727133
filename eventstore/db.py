"""Connections to PostgreSQL, with bounded waits so a stuck server fails fast and clearly."""

import json
from typing import TYPE_CHECKING, Any, TypeAlias
from urllib.parse import urlsplit, urlunsplit

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


def database_name(dsn: str) -> str:
    return urlsplit(dsn).path.lstrip("/") or "postgres"


async def ensure_database(dsn: str) -> bool:
    """Create the URL's database if it does not exist yet; True when it was created."""
    name = database_name(dsn)
    conn = await connect(with_database(dsn, "postgres"))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if exists:
            return False
        quoted = '"' + name.replace('"', '""') + '"'
        await conn.execute(f"CREATE DATABASE {quoted}")
        return True
    finally:
        await conn.close()
