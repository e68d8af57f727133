"""Every API request counted and timed, by route template (not path: ids would be unbounded labels)."""

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mediaops.observability import API_LATENCY, API_REQUESTS

UNMATCHED = "unmatched"
"""The route label of a request no route took (a 404 of a made-up path, a scanner's probe)."""
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""Methods counted by name; any other (HTTP lets a client make them up) is `other`, so no request
can add series without bound."""


class Metering:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        root = scope.get("root_path", "")
        started = time.perf_counter()
        status = 500  # what the server answers for an app that raised before it began a response

        async def watched(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watched)
        finally:
            route = _route(scope, root)
            method = scope["method"] if scope["method"] in METHODS else "other"
            API_REQUESTS.labels(method, route, str(status)).inc()
            API_LATENCY.labels(method, route).observe(time.perf_counter() - started)


def _route(scope: Scope, root: str) -> str:
    """The template of the route that took the request (`/inquiries/{inquiry_id}`, `/codec/decode`).

    The router records the route it chose in the scope, and a mount (the codec server, the
    console's static files) its prefix in `root_path`: both are read once the request is answered.
    """
    mounted = str(scope.get("root_path", ""))[len(root) :]
    template = getattr(scope.get("route"), "path", None)
    if isinstance(template, str):
        return mounted + template
    return mounted or UNMATCHED
