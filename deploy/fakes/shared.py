"""What every fake shares: queued fault injection, the clock it can be moved on, and `__fake__` routes."""

import asyncio
import base64
import html
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.responses import HTMLResponse, JSONResponse, Response

FaultKind = Literal["http_500", "errcode", "timeout_after_accept", "html", "html_after_accept"]
"""Before handling: `http_500`, `errcode`, `html` (the platform never acts). After handling:
`timeout_after_accept` (the answer comes too late), `html_after_accept` (a gateway's page instead
of the answer, e.g. a 502 from a proxy whose upstream did the work)."""

# A 1x1 JPEG, served as /assets/<name>.jpg so publishing can fetch real image bytes.
TINY_JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAP//////////////////////////////////////////////////////////"
    "////////////////////////////wgALCAABAAEBAREA/8QAFBABAAAAAAAAAAAAAAAAAAAAAP/aAAgBAQABPxA="
)


class Fault(BaseModel):
    path: str = Field(description="the API path it applies to, e.g. /cgi-bin/freepublish/submit")
    method: str | None = Field(default=None, description="only for this HTTP method (default: any)")
    kind: FaultKind
    errcode: int | None = None
    errmsg: str = "injected fault"
    delay_s: float = Field(
        default=8.0, ge=0, description="for timeout_after_accept: how long to hold the answer"
    )
    status: int = Field(
        default=413,
        ge=200,
        le=599,
        description="for html and html_after_accept: the page's HTTP status (200: a captive portal's page)",
    )
    times: int = Field(default=1, ge=1)


@dataclass
class Faults:
    queued: list[Fault] = field(default_factory=list)

    def add(self, fault: Fault) -> None:
        self.queued.append(fault)

    def take(self, path: str, method: str = "POST") -> Fault | None:
        for fault in self.queued:
            if path.endswith(fault.path) and fault.method in (None, method):
                fault.times -= 1
                if fault.times == 0:
                    self.queued.remove(fault)
                return fault
        return None


PHRASES = {s.value: s.phrase for s in HTTPStatus}


def error_page(status: int, url: str | None) -> str:
    """The HTML a front end or an egress proxy answers instead of the platform.

    Like a proxy's page, it names the URL it was asked for, query and all, when given one: a client
    that quotes the page in an error would leak whatever the query carries (an access_token).
    """
    title = f"{status} {PHRASES.get(status, 'Error')}"
    asked = f"<p>While trying to retrieve the URL: {html.escape(url)}</p>" if url else ""
    return (
        f"<html><head><title>{title}</title></head><body><center><h1>{title}</h1></center>"
        f"{asked}<hr><center>nginx</center></body></html>"
    )


async def before(
    fault: Fault | None, error_body: dict[str, object] | None = None, *, url: str | None = None
) -> Response | None:
    """The response a fault forces before the request is handled (None: handle it).

    `url` is the request's URL, for an `html` page to name.
    """
    if fault is None:
        return None
    if fault.kind == "http_500":
        return Response("injected server error", status_code=500)
    if fault.kind == "html":
        return HTMLResponse(error_page(fault.status, url), status_code=fault.status)
    if fault.kind == "errcode":
        return JSONResponse(error_body or {"errcode": fault.errcode, "errmsg": fault.errmsg})
    return None


async def after(fault: Fault | None, response: Response, *, url: str | None = None) -> Response:
    """What the client gets for a request the platform carried out: its answer, or, when the fault
    says so, the answer past the client's timeout or a gateway's page in its place."""
    if fault is not None and fault.kind == "timeout_after_accept":
        await asyncio.sleep(fault.delay_s)
    if fault is not None and fault.kind == "html_after_accept":
        return HTMLResponse(error_page(fault.status, url), status_code=fault.status)
    return response


@dataclass
class Common:
    published: list[dict[str, Any]] = field(default_factory=list)
    messages_sent: list[dict[str, Any]] = field(default_factory=list)
    faults: Faults = field(default_factory=Faults)
    counter: int = 5000
    offset_s: float = 0.0

    def next_id(self) -> int:
        self.counter += 1
        return self.counter

    def now(self) -> float:
        return time.time() + self.offset_s


def common_routes(api: APIRouter, state: Common, extra: Any = None) -> None:
    @api.get("/__fake__/state")
    async def fake_state() -> dict[str, Any]:
        return {
            "published": state.published,
            "messages_sent": state.messages_sent,
            "faults_queued": [f.model_dump() for f in state.faults.queued],
            **(extra() if extra else {}),
        }

    @api.post("/__fake__/faults")
    async def add_fault(fault: Fault) -> dict[str, Any]:
        state.faults.add(fault)
        return {"queued": len(state.faults.queued)}

    @api.post("/__fake__/advance")
    async def advance(seconds: float) -> dict[str, Any]:
        state.offset_s += seconds
        return {"offset_s": state.offset_s}
