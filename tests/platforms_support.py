"""Running the fake platforms on loopback for tests, over real HTTP (timeouts are real too)."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import uvicorn

from activities.platforms.accounts import Account, Accounts
from deploy.fakes.app import DEMO_AES_KEY, create_fakes_app, demo_account_list
from deploy.processes import free_port
from domain.platforms import Platform

AES_KEY = DEMO_AES_KEY


@dataclass
class Fakes:
    base: str
    accounts: Accounts

    def account(self, platform: Platform, name: str = "demo") -> Account:
        return self.accounts.get(platform, name)

    async def state(self, platform: Platform) -> dict[str, object]:
        async with httpx.AsyncClient() as client:
            return (await client.get(f"{self.base}/{platform}/__fake__/state")).json()  # type: ignore[no-any-return]

    async def post(self, platform: Platform, path: str, body: object = None, **params: object) -> object:
        async with httpx.AsyncClient(timeout=30) as client:
            response = await client.post(f"{self.base}/{platform}/__fake__/{path}", json=body, params=params)
            response.raise_for_status()
            return response.json()

    def image(self, name: str = "photo") -> str:
        return f"{self.base}/assets/{name}.jpg"


def demo_accounts(base: str, *, timeout_s: float = 5.0) -> Accounts:
    return Accounts(demo_account_list(base, timeout_s=timeout_s))


@contextlib.asynccontextmanager
async def running_fakes(callback_base: str | None = None) -> AsyncIterator[Fakes]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    accounts = demo_accounts(base)
    server = uvicorn.Server(
        uvicorn.Config(
            create_fakes_app(accounts, callback_base), host="127.0.0.1", port=port, log_config=None
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
        await asyncio.sleep(0.02)
    try:
        yield Fakes(base, accounts)
    finally:
        server.should_exit = True
        await task
