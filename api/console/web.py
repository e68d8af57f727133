"""What every console page shares: the signed-in person, CSRF, templates, Beijing time, flashes.

The console is the department's web page onto the same API: a person signs in with a password
(eventstore/logins.py) and gets a session cookie (HttpOnly, SameSite=Lax, Secure outside
development). Every form carries the session's CSRF token in a hidden `csrf_token` field (htmx
requests send it as `X-CSRF-Token`), and a POST without the right one is refused before anything
is read from it. Pages are Jinja2 with autoescaping; the only HTML shown unescaped is an article's
body after nh3 has sanitised it.
"""

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, unquote
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context
from markupsafe import Markup
from starlette.datastructures import FormData

from activities.platforms.content import sanitise
from api.console import words
from api.state import AppState, app_state
from domain.platforms import PLATFORM_NAMES
from domain.roles import ROLE_TITLES, Permission, Role, permissions_of
from domain.rules import RULE_TITLES, RuleId
from eventstore.logins import Session, session_of
from eventstore.users import User
from reports.render import KIND_TITLES

SESSION_COOKIE = "mediaops_session"
FLASH_COOKIE = "mediaops_flash"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
HERE = Path(__file__).parent

CONTENT_SECURITY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: http: https:; frame-src 'self'; frame-ancestors 'self'; "
    "form-action 'self'; base-uri 'none'; object-src 'none'"
)
"""Scripts only from the console itself (htmx and console.js); images from anywhere, since an
article's pictures live on the platforms' and the department's hosts; nothing framing the console
from elsewhere."""


class SignInNeeded(Exception):
    """No valid session: the person is sent to /login, and back to where they were afterwards."""


class CsrfRefused(Exception):
    """A form posted without this session's CSRF token: nothing in it is acted on."""


@dataclass(frozen=True)
class Viewer:
    """The person a page is for: who, with which roles and permissions, and the session's CSRF token."""

    user: User
    csrf_token: str

    @property
    def roles(self) -> frozenset[Role]:
        return self.user.roles

    def may(self, permission: str) -> bool:
        return Permission(permission) in permissions_of(self.user.roles)

    @property
    def role_titles(self) -> list[str]:
        return [ROLE_TITLES[r].split(" ")[0] for r in sorted(self.user.roles)]


async def viewer(request: Request, state: Annotated[AppState, Depends(app_state)]) -> Viewer:
    """The signed-in person, from the session cookie; else SignInNeeded (a redirect to /login)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise SignInNeeded
    used = not request.headers.get("HX-Request")  # a page refreshing itself is nobody at the keyboard
    async with (await state.database()).acquire() as conn:
        session: Session | None = await session_of(conn, cookie, state.settings.policy.secrets, used=used)
    if session is None:
        raise SignInNeeded
    return Viewer(session.user, session.csrf_token)


Signed = Annotated[Viewer, Depends(viewer)]


async def form_of(request: Request, who: Signed) -> FormData:
    """The posted form, once its CSRF token is this session's (else CsrfRefused: a 403 page)."""
    form = await request.form()
    token = str(form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or "")
    if not secrets.compare_digest(token.encode(), who.csrf_token.encode()):
        raise CsrfRefused
    return form


Form = Annotated[FormData, Depends(form_of)]


@pass_context
def beijing(context: Context, value: datetime | str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A moment as the department reads it: Beijing time (the policy's zone), to the minute."""
    if value is None or value == "":
        return "—"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    zone: ZoneInfo = context["zone"]
    return moment.astimezone(zone).strftime(fmt)


def span(seconds: float) -> str:
    """A duration in words: 3 天 4 小时, 2 小时 5 分, 12 分."""
    minutes = int(abs(seconds)) // 60
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} 天 {hours} 小时"
    if hours:
        return f"{hours} 小时 {mins} 分"
    return f"{mins} 分"


def rule_words(rule: str | None) -> str:
    """A rule id with what it says, e.g. `R-REVIEW-ALL（每条发布内容须经运营经理审核）`."""
    if not rule:
        return ""
    try:
        return f"{rule}（{RULE_TITLES[RuleId(rule)]}）"
    except ValueError:
        return rule


templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(("html",)),
    trim_blocks=True,
    lstrip_blocks=True,
)
templates.filters["bj"] = beijing
templates.filters["span"] = span
templates.filters["rule"] = rule_words
templates.filters["safe_html"] = lambda html: Markup(sanitise(html))  # noqa: S704 - nh3 has cleaned it
templates.filters["q"] = lambda value: quote(str(value), safe="")
templates.globals["ROLE_TITLES"] = ROLE_TITLES
templates.globals["REPORT_KIND"] = KIND_TITLES
templates.filters["platform"] = lambda p: PLATFORM_NAMES.get(p, str(p)).split(" ")[
    0
]  # phone, email: as they are
templates.globals.update({k: v for k, v in vars(words).items() if k.isupper()})
templates.globals["RULE_TITLES"] = RULE_TITLES


def temporal_link(state: AppState, workflow_id: str) -> str:
    """The workflow in the Temporal UI, for ops."""
    origin = state.settings.codec_origins[0]
    return f"{origin}/namespaces/{quote(state.settings.temporal_namespace)}/workflows/{quote(workflow_id)}"


def page(
    request: Request,
    state: AppState,
    template: str,
    who: Viewer | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """A rendered page, with the flash message of the action before it (then forgotten)."""
    whole = not template.startswith("_")  # a fragment refreshing part of a page shows no flash
    flash = request.cookies.get(FLASH_COOKIE) if whole else None
    body = templates.get_template(template).render(
        request=request,
        who=who,
        flash=unquote(flash) if flash else None,
        temporal=lambda wid: temporal_link(state, wid),
        zone=state.settings.policy.zone,
        now=datetime.now(state.settings.policy.zone),
        **context,
    )
    response = HTMLResponse(body, status_code=status_code)
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    if flash:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


def download(status: int, body: Any, refusal: str, media_type: str, filename: str) -> Response:
    """A file the API made for the person (a PDF, a CSV), or its refusal in words as plain text."""
    if status >= 400:
        return Response(refusal, status_code=status, media_type="text/plain; charset=utf-8")
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(body, media_type=media_type, headers=headers)


def done(state: AppState, to: str, message: str) -> Response:
    """After an action: back to the page (POST, redirect, GET), with what happened said once there."""
    response = RedirectResponse(to, status_code=303)
    response.set_cookie(
        FLASH_COOKIE, quote(message), max_age=60, httponly=True, samesite="lax", path="/",
        secure=secure_cookies(state),
    )  # fmt: skip
    return response


def same_site(request: Request) -> bool:
    """Whether the browser says this request came from one of our own pages (Fetch Metadata): a
    link on another site may open a page, but not make it do something costly or recorded."""
    return request.headers.get("Sec-Fetch-Site", "same-origin") in ("same-origin", "none")


def secure_cookies(state: AppState) -> bool:
    return state.settings.env != "development"


def session_cookie(response: Response, state: AppState, value: str, lifetime: timedelta) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=int(lifetime.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=secure_cookies(state),
        path="/",
    )
