"""A person's command to a workflow: signed for them, sent as an update, and its refusal as a clear 4xx.

The API authenticates the bearer token; the workflow believes only what is signed for this process
by the API's command key (domain/commands.py), and asks the user directory again. A refusal comes
back typed (`Refused` with a `Refusal` in its details), whether a validator or a handler raised it,
so the status never depends on parsing a message: forbidden → 403, not now → 409, bad content → 422.
"""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from fastapi.responses import JSONResponse
from temporalio.client import WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.errors import error_body, refused, unavailable
from api.state import AppState
from domain.commands import Channel, SignedCommand
from domain.errors import Refusal
from eventstore.users import User

UNREACHABLE = (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED)


def refusal(exc: WorkflowUpdateFailedError) -> JSONResponse:
    cause = exc.cause
    if isinstance(cause, ApplicationError) and cause.type == "Refused" and cause.details:
        return refused(Refusal.model_validate(cause.details[0]))
    detail = str(getattr(cause, "message", None) or cause or exc)
    return JSONResponse(error_body("refused", detail), status_code=409)


def sign(
    state: AppState, user: User, workflow_id: str, command: dict[str, Any], channel: Channel = "api"
) -> SignedCommand:
    """The person's command, signed for this workflow alone, with the way it came (the API, or ops)."""
    return state.signer.sign(
        process=workflow_id, actor=user.id, roles=user.roles, command=command, channel=channel
    )


async def run_update(
    state: AppState,
    user: User,
    workflow_id: str,
    command: dict[str, Any],
    render: Callable[[Any], dict[str, Any]],
    update: str | None = None,
) -> JSONResponse:
    """Send `command` signed for `user` as the update `update` (unset: its `kind` names it); the
    workflow's view, rendered."""
    client = await state.temporal()
    signed = sign(state, user, workflow_id, command).model_dump(mode="json")
    try:
        result = await client.get_workflow_handle(workflow_id).execute_update(
            update or command["kind"],
            signed,
            id=signed["nonce"],  # the update is this signed command, once
            rpc_timeout=timedelta(seconds=state.settings.update_timeout_s),
        )
    except WorkflowUpdateFailedError as exc:
        return refusal(exc)
    except WorkflowUpdateRPCTimeoutOrCancelledError:
        # No worker answered in time. One that takes it later does it once, if still within
        # R-ACCOUNTABLE.commands_valid_for (a retry then meets its result: a version moved on, an
        # inquiry answered); after that the signed command is refused as expired.
        return unavailable("the workflow's worker")
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            return JSONResponse(error_body("not_found", f"no open {workflow_id}"), status_code=404)
        if exc.status in UNREACHABLE:
            return unavailable("temporal")
        raise
    return JSONResponse(render(result))
