"""Request bodies are bounded: a body over its limit is 413, refused before it is read whole; and a
NUL in the path or the query (PostgreSQL refuses it in text) is a 422, refused before any route.

Without a bound a 9 MB article became a gRPC message Temporal refuses (a 500), and any large body
ties up the API's memory (M9). JSON bodies take 1 MiB (an article's HTML with room to spare, well
under Temporal's 2 MB payload limit); platform callbacks 64 KiB (WeChat's and Weibo's pushes are
a few KiB).
"""

import json
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_body

JSON_LIMIT = 1024 * 1024
WEBHOOK_LIMIT = 64 * 1024


class TooLarge(Exception):
    pass


class BodyLimit:
    def __init__(self, app: ASGIApp, *, limit: int = JSON_LIMIT, webhooks: int = WEBHOOK_LIMIT) -> None:
        self.app, self.limit, self.webhooks = app, limit, webhooks

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        field = _with_nul(scope["path"], scope.get("query_string", b""))
        if field is not None:
            # PostgreSQL refuses a NUL in text: an id or a filter holding one is bad input, not a 500
            await _refuse(send, 422, error_body("invalid", "a NUL character is not allowed", field=field))
            return
        limit = self.webhooks if scope["path"].startswith("/webhooks/") else self.limit
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await _refuse(send, 413, _too_large(limit))
            return
        seen, started = 0, False

        async def bounded() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise TooLarge
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, bounded, watched)
        except TooLarge:
            if not started:
                await _refuse(send, 413, _too_large(limit))


def _with_nul(path: str, query: bytes) -> str | None:
    """Where a NUL is in the URL: `path`, or the name of the query parameter; None: nowhere."""
    if "\x00" in path:
        return "path"
    if b"%00" not in query and b"\x00" not in query:
        return None
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if "\x00" in name + value:
            return name.replace("\x00", "") or "query"
    return "query"


def _too_large(limit: int) -> dict[str, str]:
    return error_body("too_large", f"the request body is over {limit} bytes")


async def _refuse(send: Send, status: int, answer: dict[str, str]) -> None:
    body = json.dumps(answer).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
