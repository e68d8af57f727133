"""Asking a workflow to act on a person's command, and turning its refusal into a clear 4xx."""

from collections.abc import Callable
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from api.errors import error_body
from api.state import AppState


def refusal(exc: WorkflowUpdateFailedError) -> JSONResponse:
    """A validator's or handler's refusal: 403 for a permission, else 409; both name the rule."""
    cause = exc.cause
    message = str(getattr(cause, "message", None) or cause or exc)
    rule, _, detail = message.partition(": ")
    kind = str(getattr(cause, "type", "") or "")
    if "PermissionDenied" in kind:
        return JSONResponse(error_body("forbidden", detail or message, rule=rule), status_code=403)
    return JSONResponse(error_body("refused", detail or message, rule=rule), status_code=409)


async def run_update(
    state: AppState, workflow_id: str, name: str, command: BaseModel, render: Callable[[Any], dict[str, Any]]
) -> JSONResponse:
    client = await state.temporal()
    try:
        result = await client.get_workflow_handle(workflow_id).execute_update(name, command)
    except WorkflowUpdateFailedError as exc:
        return refusal(exc)
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            return JSONResponse(error_body("not_found", f"no open {workflow_id}"), status_code=404)
        raise
    return JSONResponse(render(result))
