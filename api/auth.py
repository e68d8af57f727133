"""Bearer-token authentication and the permission check, both as FastAPI dependencies."""

from collections.abc import Awaitable, Callable
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


def allowed(permission: Permission) -> Callable[[User], Awaitable[User]]:
    """A dependency that admits only users whose roles hold `permission` (else 403 naming it)."""

    async def check(user: Annotated[User, Depends(current_user)]) -> User:
        require(user.roles, permission)
        return user

    return check
