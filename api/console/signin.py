"""Signing in and out of the console with a username and a password (R-SECRETS).

Before there is a session, the sign-in form is protected by a double-submit token: a random value
in a cookie and the same value in the form's hidden `csrf_token`, so a page elsewhere cannot sign
a person in as someone else (login CSRF). A wrong password, an unknown user, a user without a
password or one disabled all get the same answer; after R-SECRETS.login_failures_at_most failures
the username is locked for login_locked_for (eventstore/logins.py keeps the count in the database,
so every API process sees it).
"""

import secrets
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from api.console.web import (
    CSRF_FIELD,
    SESSION_COOKIE,
    Form,
    Signed,
    page,
    secure_cookies,
    session_cookie,
)
from api.state import AppState, app_state
from eventstore.logins import LoginRefused, end_session, log_in, open_session

router = APIRouter(include_in_schema=False)
State = Annotated[AppState, Depends(app_state)]
LOGIN_CSRF_COOKIE = "mediaops_login_csrf"


def _back_to(target: str | None) -> str:
    """Where to go after signing in: a path of this site only (never an open redirect)."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    if "\\" in target or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return "/"  # a browser reads a backslash as a slash: `/` + backslash + host is another site
    return target


def _form(request: Request, state: AppState, error: str | None, status: int, back: str) -> Response:
    token = secrets.token_urlsafe(32)
    response = page(request, state, "login.html", None, status, csrf=token, error=error, back=back)
    response.set_cookie(
        LOGIN_CSRF_COOKIE, token, max_age=3600, httponly=True, samesite="strict",
        secure=secure_cookies(state), path="/login",
    )  # fmt: skip
    return response


@router.get("/login")
async def login_form(request: Request, state: State, next: str | None = None) -> Response:
    return _form(request, state, None, 200, _back_to(next))


@router.post("/login")
async def login(request: Request, state: State) -> Response:
    form = await request.form()
    values = {k: v if isinstance(v, str) else "" for k, v in form.items()}
    back = _back_to(values.get("next"))
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    sent = values.get(CSRF_FIELD, "")
    if not cookie or not secrets.compare_digest(cookie.encode(), sent.encode()):
        return _form(request, state, "表单已过期或来源不明（缺少 CSRF 令牌），请重新登录。", 403, back)
    username = values.get("username", "").strip()
    password = values.get("password", "")
    policy = state.settings.policy.secrets
    async with (await state.database()).acquire() as conn:
        try:
            user = await log_in(conn, username, password, policy)
        except LoginRefused as refused:
            if refused.reason == "locked" and refused.until is not None:
                until = refused.until.astimezone(state.settings.policy.zone).strftime("%H:%M")
                error = f"登录失败次数过多，该账号已暂时锁定，请于 {until}（北京时间）后再试。— R-SECRETS"
                return _form(request, state, error, 429, back)
            return _form(request, state, "用户名或密码不正确。", 401, back)
        cookie_value, _session = await open_session(conn, user.id, policy)
    response = RedirectResponse(back, status_code=303)
    session_cookie(response, state, cookie_value, policy.session_at_most)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
async def logout(request: Request, state: State, _who: Signed, _form: Form) -> Response:
    """Sign out: the session ends in the database, so a copied cookie is worthless from now on."""
    async with (await state.database()).acquire() as conn:
        await end_session(conn, request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
