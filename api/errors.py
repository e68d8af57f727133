"""Every refusal is JSON that names what was wrong: the permission and rule, or the field."""

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from temporalio.service import RPCError, RPCStatusCode

from domain.errors import DomainError, Refusal, RefusalKind, refusal_of


class Unreachable(Exception):
    """A dependency cannot be reached now: the API answers 503 with Retry-After, not 500 (M12)."""

    def __init__(self, dependency: str) -> None:
        super().__init__(f"{dependency} is not reachable")
        self.dependency = dependency


class Unauthorized(Exception):
    def __init__(self, detail: str) -> None:
        self.detail = detail


def error_body(error: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"error": error, "detail": detail, **extra}


STATUS: dict[RefusalKind, tuple[int, str]] = {
    "forbidden": (403, "forbidden"),
    "unauthenticated": (403, "forbidden"),
    "conflict": (409, "refused"),
    "invalid": (422, "invalid"),
}
"""A refusal's kind, as the HTTP status and the `error` word of the body."""
RETRY_AFTER_S = 5


def refused(found: Refusal) -> JSONResponse:
    """A rule's refusal as JSON naming the rule (and the field or permission when there is one)."""
    status, error = STATUS[found.kind]
    extra = {k: v for k, v in (("field", found.field), ("permission", found.permission)) if v}
    return JSONResponse(error_body(error, found.message, rule=found.rule.value, **extra), status_code=status)


def unavailable(dependency: str) -> JSONResponse:
    """A dependency is down: say so with 503, not 500, so a caller knows to try again."""
    return JSONResponse(
        error_body("unavailable", f"{dependency} is not answering; try again shortly"),
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(Unauthorized)
    async def _unauthorized(_request: Request, exc: Unauthorized) -> JSONResponse:
        return JSONResponse(
            error_body("unauthorized", exc.detail), status_code=401, headers={"WWW-Authenticate": "Bearer"}
        )

    @app.exception_handler(Unreachable)
    async def _unreachable(_request: Request, exc: Unreachable) -> JSONResponse:
        return unavailable(exc.dependency)

    @app.exception_handler(RPCError)
    async def _temporal(_request: Request, exc: RPCError) -> JSONResponse:
        if exc.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
            return unavailable("temporal")
        raise exc

    @app.exception_handler(DomainError)
    async def _refused(_request: Request, exc: DomainError) -> JSONResponse:
        return refused(refusal_of(exc))
