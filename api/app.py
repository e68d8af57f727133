"""The FastAPI application: health, identity, the rules in force, and (per issue) the processes."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from activities.platforms.accounts import Accounts
from api import (
    articles,
    audit,
    department,
    inbox,
    inquiries,
    kpi,
    ops,
    promotions,
    reports,
    webhooks,
    writeups,
)
from api.auth import allowed, current_user
from api.console import install_console
from api.errors import install_error_handlers
from api.limits import BodyLimit
from api.metering import Metering
from api.state import AppState, app_state
from domain.roles import ROLE_TITLES, Permission, permissions_of
from eventstore.projections import lags
from eventstore.users import User, list_users
from mediaops.observability import OpsServer, unanswered
from mediaops.settings import Settings

LAG_DEGRADED = 100
"""Events a read model may trail by before /readyz says `degraded` (lists and the CSV are stale)."""


class Me(BaseModel):
    id: str
    display_name: str
    roles: list[str]
    role_titles: list[str]
    permissions: list[str]


class UserOut(BaseModel):
    id: str
    display_name: str
    roles: list[str]


def _me(user: User) -> Me:
    roles = sorted(user.roles)
    return Me(
        id=user.id,
        display_name=user.display_name,
        roles=[r.value for r in roles],
        role_titles=[ROLE_TITLES[r] for r in roles],
        permissions=sorted(p.value for p in permissions_of(user.roles)),
    )


async def _database(state: AppState) -> None:
    pool = await state.database()
    await pool.fetchval("SELECT 1")


async def _temporal(state: AppState) -> None:
    client = await state.temporal()
    await client.service_client.check_health()


async def dependencies_down(state: AppState) -> list[str]:
    """Which of PostgreSQL and Temporal do not answer in time, by the kind of failure only (/readyz
    is public, L3: an exception's text names hosts, ports and users)."""
    return await unanswered(postgresql=lambda: _database(state), temporal=lambda: _temporal(state))


async def traffic_blocked(state: AppState) -> list[str]:
    """What keeps this API from taking requests (the ops port's /readyz, what a load balancer asks):
    PostgreSQL only. With Temporal away, a platform's push is still kept in the inbox and a person's
    command is a clear 503, so pulling every API out of the Service would only lose the pushes."""
    return await unanswered(postgresql=lambda: _database(state))


def create_app(
    settings: Settings, accounts: Accounts | None = None, *, sdk_metrics_url: str | None = None
) -> FastAPI:
    """The API; with MEDIAOPS_METRICS_ADDRESS set, its ops endpoint too (`sdk_metrics_url`: where
    this process's Temporal runtime exports, see mediaops/observability.py)."""
    state = AppState(settings, accounts if accounts is not None else Accounts.load(settings.accounts_file))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        draining = asyncio.create_task(inbox.drain_forever(state))
        ops = None
        if settings.metrics_address:
            ops = await OpsServer(sdk_metrics_url, lambda: traffic_blocked(state)).serve(
                settings.metrics_address
            )
        yield
        if ops is not None:
            ops.close()
        draining.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await draining
        await state.close()

    app = FastAPI(
        title="MediaOps",
        summary="The new-media operations department's rules, run as durable workflows.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.mediaops = state
    install_error_handlers(app)
    app.include_router(webhooks.router)
    app.include_router(articles.router)
    app.include_router(inquiries.router)
    app.include_router(promotions.router)
    app.include_router(writeups.router)
    app.include_router(audit.router)
    app.include_router(department.router)
    app.include_router(reports.router)
    app.include_router(kpi.router)
    app.include_router(ops.router)
    app.mount("/codec", ops.codec_app(state))
    install_console(app)
    app.add_middleware(BodyLimit)
    app.add_middleware(Metering)  # outermost: a request refused for its size is counted too
    State = Annotated[AppState, Depends(app_state)]

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        """The process is up (no dependency is checked: see /readyz)."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"], responses={503: {"description": "a dependency is down"}})
    async def readyz(state: State) -> JSONResponse:
        """PostgreSQL and Temporal both answer; 503 names each one that does not."""
        down = await dependencies_down(state)
        if down:
            return JSONResponse({"status": "unavailable", "down": down}, status_code=503)
        async with (await state.database()).acquire() as conn:
            trailing = {lag.name: lag.events_behind for lag in await lags(conn)}
            waiting = await inbox.waiting(conn)
        if any(behind > LAG_DEGRADED for behind in trailing.values()):  # the read models are stale
            return JSONResponse({"status": "degraded", "projections_behind": trailing})
        if waiting:  # acknowledged deliveries that are not inquiries yet
            return JSONResponse({"status": "degraded", "inbox_waiting": waiting})
        return JSONResponse({"status": "ready"})

    @app.get("/me", tags=["identity"])
    async def me(user: Annotated[User, Depends(current_user)]) -> Me:
        """Who the token belongs to, with their roles and what those roles may do."""
        return _me(user)

    @app.get("/policy", tags=["rules"])
    async def policy(_user: Annotated[User, Depends(allowed(Permission.POLICY_READ))]) -> dict[str, Any]:
        """The effective policy, keyed by rule id."""
        return settings.policy.model_dump(mode="json")

    @app.get("/users", tags=["identity"])
    async def users(
        state: State, _user: Annotated[User, Depends(allowed(Permission.USERS_READ))]
    ) -> list[UserOut]:
        """Who holds an account and with which roles (R-ACCOUNTS)."""
        pool = await state.database()
        async with pool.acquire() as conn:
            found = await list_users(conn)
        return [
            UserOut(id=u.id, display_name=u.display_name, roles=sorted(r.value for r in u.roles))
            for u in found
        ]

    return app
