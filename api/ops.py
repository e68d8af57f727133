"""What ops need besides the department's API: the payload codec for the Temporal UI, signed commands.

- `/codec/encode`, `/codec/decode`: the Temporal codec-server protocol over the system's payload
  codec, so the Temporal UI shows decoded payloads to the few who may read them (`payloads.read`,
  R-SECRETS) and only the manager seals what is sent to a workflow (`payloads.write`). A person is
  signed in by a bearer token, or by the cookie `/codec/session` sets from one (the UI's own
  requests carry cookies, not our tokens). It is an application of its own, mounted at `/codec`, so
  its CORS (the UI's origin only, with credentials) applies to nothing else of the API.
- `/commands/sign`: a person's command signed for them, to send from the Temporal UI or CLI as a
  signal (`decision` on an article): the ops tool proves who sent it just as the API's own calls do.
"""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Cookie, Depends, FastAPI, Form, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials
from google.protobuf import json_format
from pydantic import BaseModel, Field
from temporalio.api.common.v1 import Payloads

from api.auth import bearer, user_of
from api.errors import Unauthorized, error_body, install_error_handlers
from api.state import AppState, app_state
from api.updates import sign
from domain.commands import SignedCommand
from domain.roles import Permission, require
from eventstore.users import User

router = APIRouter(tags=["operations"])
codec = APIRouter()
State = Annotated[AppState, Depends(app_state)]
SESSION_COOKIE = "mediaops_codec"
SESSION_HOURS = 8
PROCESS_PREFIXES = ("article-", "inquiry-", "promotion-", "writeup-")


async def codec_user(
    state: State,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    session: Annotated[str | None, Cookie(alias=SESSION_COOKIE)] = None,
) -> User:
    token = credentials.credentials if credentials is not None else session
    if not token:
        raise Unauthorized("sign in: a bearer token, or the session from /codec/session")
    return await user_of(state, token)


async def _payloads(request: Request) -> Payloads:
    payloads = Payloads()
    json_format.Parse(await request.body(), payloads)
    return payloads


def _answer(payloads: list[Any]) -> Response:
    body = json_format.MessageToJson(Payloads(payloads=payloads))
    return Response(body, media_type="application/json")


def codec_allowed(permission: Permission) -> Callable[[User], Awaitable[User]]:
    async def check(user: Annotated[User, Depends(codec_user)]) -> User:
        require(user.roles, permission)
        return user

    return check


@codec.post("/encode")
async def encode(
    request: Request, state: State, _user: Annotated[User, Depends(codec_allowed(Permission.PAYLOADS_WRITE))]
) -> Response:
    return _answer(await state.codec.encode(list((await _payloads(request)).payloads)))


@codec.post("/decode")
async def decode(
    request: Request, state: State, _user: Annotated[User, Depends(codec_allowed(Permission.PAYLOADS_READ))]
) -> Response:
    return _answer(await state.codec.decode(list((await _payloads(request)).payloads)))


SIGN_IN = """<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>MediaOps codec</title>
<body><h1>Temporal UI: decoded payloads</h1>
<p>Paste your MediaOps API token (<code>mediaops users token YOU</code>). The Temporal UI then decodes
payloads through this API while this browser session lasts ({hours} hours).</p>
<form method="post"><input name="token" type="password" size="60" autocomplete="off">
<button>Sign in</button></form></body></html>"""


@codec.get("/session")
async def session_form() -> HTMLResponse:
    return HTMLResponse(SIGN_IN.replace("{hours}", str(SESSION_HOURS)))


@codec.post("/session")
async def session(state: State, token: Annotated[str, Form(max_length=200)]) -> Response:
    user = await user_of(state, token)
    answer = HTMLResponse(f"<p>Signed in as {user.id}: the Temporal UI now shows decoded payloads.</p>")
    answer.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=SESSION_HOURS * 3600,
        path="/codec",
        httponly=True,
        samesite="strict",
        secure=state.settings.env != "development",
    )
    return answer


def codec_app(state: AppState) -> FastAPI:
    """The codec server the Temporal UI calls, CORS for the UI's origin only, mounted at `/codec`."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.state.mediaops = state
    install_error_handlers(app)
    app.include_router(codec)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(state.settings.codec_origins),
        allow_credentials=True,
        allow_methods=["POST"],
        allow_headers=["Authorization", "Content-Type", "X-Namespace"],
    )
    return app


class ToSign(BaseModel):
    workflow_id: str = Field(min_length=1, max_length=200, description="e.g. article-<id>")
    command: dict[str, Any] = Field(
        description='e.g. {"kind": "review", "version": 1, "decision": "approve"}'
    )


@router.post("/commands/sign")
async def sign_command(
    body: ToSign, state: State, user: Annotated[User, Depends(codec_user)]
) -> JSONResponse:
    """Your command, signed for you alone and for this process alone, valid a few minutes, usable once.

    Send the JSON it returns as the `decision` signal: the workflow checks the signature and asks the
    user directory for your roles; it decides as if you had used the API (channel `ops`).
    """
    if not body.workflow_id.startswith(PROCESS_PREFIXES):
        detail = f"not a MediaOps process id (it starts with {' or '.join(PROCESS_PREFIXES)})"
        return JSONResponse(error_body("invalid", detail, field="workflow_id"), status_code=422)
    signed: SignedCommand = sign(state, user, body.workflow_id, body.command, channel="ops")
    return JSONResponse(signed.model_dump(mode="json"))
