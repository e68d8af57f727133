"""What the API holds on to between requests: the database pool and the Temporal client.

Both are connected lazily and retried, so the API starts even while PostgreSQL or Temporal is
still coming up, and `/readyz` can say which one is down instead of the process dying.
"""

import asyncio
from dataclasses import dataclass, field
from functools import cached_property

import asyncpg
from fastapi import Request
from temporalio.client import Client

from activities.platforms.accounts import Accounts
from api.errors import Unreachable
from eventstore.db import close_pool, create_pool
from mediaops.codec import EncryptionCodec
from mediaops.settings import Settings
from mediaops.signing import CommandSigner
from mediaops.temporal import connect


@dataclass
class AppState:
    settings: Settings
    accounts: Accounts = field(default_factory=lambda: Accounts([]))
    _pool: asyncpg.Pool | None = None
    _temporal: Client | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @cached_property
    def signer(self) -> CommandSigner:
        """Signs people's commands for the workflows (the key is the settings' command keyring)."""
        return CommandSigner(self.settings.keys.commands)

    @cached_property
    def codec(self) -> EncryptionCodec:
        """The payload codec, served to the Temporal UI (`/codec/...`)."""
        return EncryptionCodec(self.settings.keys.codec)

    async def database(self) -> asyncpg.Pool:
        if self._pool is None:
            async with self._lock:
                if self._pool is None:
                    try:
                        self._pool = await create_pool(self.settings.dsn)
                    except (OSError, asyncpg.PostgresConnectionError, asyncpg.CannotConnectNowError) as exc:
                        raise Unreachable("postgresql") from exc
        return self._pool

    async def temporal(self) -> Client:
        if self._temporal is None:
            async with self._lock:
                if self._temporal is None:
                    try:
                        self._temporal = await connect(self.settings)
                    except RuntimeError as exc:  # how temporalio says the frontend cannot be reached
                        raise Unreachable("temporal") from exc
        return self._temporal

    async def close(self) -> None:
        if self._pool is not None:
            await close_pool(self._pool)
            self._pool = None


def app_state(request: Request) -> AppState:
    state = request.app.state.mediaops
    assert isinstance(state, AppState)  # noqa: S101 - set by create_app
    return state
