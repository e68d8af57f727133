"""Every refusal is JSON that names what was wrong: the permission and rule, or the field."""

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from domain.errors import DomainError, PermissionDenied


class Unauthorized(Exception):
    def __init__(self, detail: str) -> None:
        self.detail = detail


def error_body(error: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"error": error, "detail": detail, **extra}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(Unauthorized)
    async def _unauthorized(_request: Request, exc: Unauthorized) -> JSONResponse:
        return JSONResponse(
            error_body("unauthorized", exc.detail), status_code=401, headers={"WWW-Authenticate": "Bearer"}
        )

    @app.exception_handler(PermissionDenied)
    async def _forbidden(_request: Request, exc: PermissionDenied) -> JSONResponse:
        return JSONResponse(
            error_body("forbidden", exc.message, permission=exc.permission, rule=exc.rule.value),
            status_code=403,
        )

    @app.exception_handler(DomainError)
    async def _refused(_request: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse(error_body("refused", exc.message, rule=exc.rule.value), status_code=409)
