"""What every fake shares: queued fault injection, the clock it can be moved on, the state file it
keeps what it remembers in, and `__fake__` routes."""

import asyncio
import base64
import html
import os
import tempfile
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any, Final, Literal

import structlog
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import HTMLResponse, JSONResponse, Response

log = structlog.get_logger(__name__)

FaultKind = Literal[
    "http_500", "errcode", "timeout_after_accept", "html", "html_after_accept", "unreadable_after_accept"
]
"""Before handling: `http_500`, `errcode`, `html` (the platform never acts). After handling:
`timeout_after_accept` (the answer comes too late), `html_after_accept` (a gateway's page instead
of the answer, e.g. a 502 from a proxy whose upstream did the work), `unreadable_after_accept` (a
200 whose JSON lacks what the answer should carry: the client cannot parse what was done)."""

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
    if fault is not None and fault.kind == "unreadable_after_accept":
        return JSONResponse({"errcode": 0, "errmsg": "ok"})
    return response


SHAPE: Final = 1
"""The shape of saved state: raise it when a saved field changes meaning, so that a file written
before is set aside (the fake starts empty) rather than misread."""


class Saved(BaseModel):
    """A state file's content: the shape it was written in, and the platform's state."""

    shape: int
    state: dict[str, Any]


class StateFile:
    """Where one fake platform keeps its state across restarts, kill -9 included: a JSON file only its
    owner can read, replaced whole on every change, so it always holds one complete state."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> str | None:
        """The file's text; None before the first save."""
        try:
            return self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def write(self, text: str) -> None:
        """Replace the content: into a temporary file beside it (mkstemp makes it 0600), synced to
        disk, then renamed over the old one, so a crash leaves the old state or the new, never half."""
        fd, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                file.write(text)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


def unreadable(exc: ValueError) -> str:
    """Why a state file could not be taken on, in one line that quotes none of its content: only the
    field at fault is named, not the keys below it (a token is a key)."""
    if not isinstance(exc, ValidationError):
        return str(exc).splitlines()[0]
    first = exc.errors()[0]
    return f"{first['msg']} in {first['loc'][0]}" if first["loc"] else first["msg"]


class Follower(BaseModel):
    """Someone who wrote to an account: the reply window runs from their last message, and the
    platform counts the replies sent since."""

    last_wrote: float
    replies: int = 0


CALLS_KEPT = 20_000
"""The most recent calls a fake remembers (a dev stack's fakes run for days)."""


class Common(BaseModel):
    """What every fake platform remembers, and the fake's own machinery.

    Fields marked `exclude` are not saved: the fake's configuration (from the accounts, or set by a
    test), its connections, and queued faults, which are a test's instructions, not platform state.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    published: list[dict[str, Any]] = Field(default_factory=list)
    messages_sent: list[dict[str, Any]] = Field(default_factory=list)
    faults: Faults = Field(default_factory=Faults, exclude=True)
    calls: list[tuple[str, float]] = Field(default_factory=list, exclude=True)
    """Every API call as (path, Unix time it arrived): what a test measures a rate limit with."""
    counter: int = 5000
    offset_s: float = 0.0
    figures_shift: int = 0
    """What the fake adds to every figure it serves (`POST /__fake__/figures`): late data or a
    correction, which a report made from stored snapshots must not show."""
    state_file: StateFile | None = Field(default=None, exclude=True)

    def keep_in(self, state_file: StateFile) -> None:
        """Take on the state `state_file` holds, then save every change there.

        A file this fake cannot read as its state (corrupt, or from another shape) is reported and
        left to be overwritten: a fake is a dev tool, its state is not the record of truth.
        """
        try:
            self.restore(state_file.read())
        except ValueError as exc:
            log.warning(
                "fake platform state unreadable, starting empty",
                file=str(state_file.path),
                reason=unreadable(exc),
            )
        self.state_file = state_file

    def restore(self, text: str | None) -> None:
        """Take on the saved fields of the state in `text` (a ValueError if it is not one)."""
        if text is None:
            return
        saved = Saved.model_validate_json(text)
        if saved.shape != SHAPE:
            raise ValueError(f"saved in shape {saved.shape}, this fake reads {SHAPE}")
        restored = type(self).model_validate(saved.state)
        for name, info in type(self).model_fields.items():
            if not info.exclude:
                setattr(self, name, getattr(restored, name))

    def save(self) -> None:
        """Called after every change, so that a fake killed at any moment restarts where it was."""
        if self.state_file is not None:
            saved = Saved(shape=SHAPE, state=self.model_dump(mode="json"))
            self.state_file.write(saved.model_dump_json())

    def arrived(self, path: str, method: str) -> Fault | None:
        """An API call came in: record it, and take the fault queued for it, if any."""
        self.calls.append((path, time.time()))
        del self.calls[:-CALLS_KEPT]
        return self.faults.take(path, method)

    def next_id(self) -> int:
        self.counter += 1
        return self.counter

    def now(self) -> float:
        return time.time() + self.offset_s


class FiguresShift(BaseModel):
    shift: int


def figures_route(api: APIRouter, state: Common) -> None:
    """For a fake that serves figures: the control that changes them all from now on."""

    @api.post("/__fake__/figures")
    async def shift_figures(body: FiguresShift) -> dict[str, Any]:
        """Every figure served from now on is the date's own plus `shift` (0 puts them back)."""
        state.figures_shift = body.shift
        state.save()
        return {"shift": state.figures_shift}


def common_routes(api: APIRouter, state: Common, extra: Any = None) -> None:
    @api.get("/__fake__/state")
    async def fake_state() -> dict[str, Any]:
        return {
            "published": state.published,
            "messages_sent": state.messages_sent,
            "faults_queued": [f.model_dump() for f in state.faults.queued],
            "calls": state.calls,
            **(extra() if extra else {}),
        }

    @api.post("/__fake__/faults")
    async def add_fault(fault: Fault) -> dict[str, Any]:
        state.faults.add(fault)
        return {"queued": len(state.faults.queued)}

    @api.post("/__fake__/advance")
    async def advance(seconds: float) -> dict[str, Any]:
        state.offset_s += seconds
        state.save()
        return {"offset_s": state.offset_s}
