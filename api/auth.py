"""Bearer-token authentication and the permission check, both as FastAPI dependencies."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.errors import Unauthorized
from api.state import AppState, app_state
from domain.roles import Permission, require
from eventstore.users import User, user_for_token

bearer = HTTPBearer(
    auto_error=False, description="a token from `mediaops dev token ROLE` or `mediaops users token`"
)


async def current_user(
    state: Annotated[AppState, Depends(app_state)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> User:
    if credentials is None:
        raise Unauthorized("missing bearer token (Authorization: Bearer <token>)")
    return await user_of(state, credentials.credentials)


async def user_of(state: AppState, token: str) -> User:
    """The active user a token belongs to; 401 for an unknown, revoked or expired one."""
    pool = await state.database()
    async with pool.acquire() as conn:
        user = await user_for_token(conn, token)
    if user is None:
        raise Unauthorized("unknown, revoked or expired token")
    return user


@dataclass(frozen=True)
class Allowed:
    """A dependency that admits only users whose roles hold `permission` (else 403 naming it).

    The permission is kept on the dependency, so the console, which calls the same endpoints for a
    signed-in person, reads each endpoint's permission from the endpoint itself (api/console/calls.py)."""

    permission: Permission

    async def __call__(self, user: Annotated[User, Depends(current_user)]) -> User:
        require(user.roles, self.permission)
        return user


def allowed(permission: Permission) -> Allowed:
    return Allowed(permission)
