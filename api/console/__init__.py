"""The department's web console, served by the API process on the same origin (see web.py)."""

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from api.console import articles, calendar, inquiries, reports, signin, work
from api.console.web import HERE, CsrfRefused, SignInNeeded, templates


def install_console(app: FastAPI) -> None:
    """The console's pages, its static files, and what a page does without a session or a token."""
    for module in (signin, work, articles, inquiries, calendar, reports):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.exception_handler(SignInNeeded)
    async def _sign_in(request: Request, _exc: SignInNeeded) -> Response:
        back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        to = "/login" if back == "/" else f"/login?next={quote(back, safe='')}"
        if request.headers.get("HX-Request"):  # an htmx refresh: the whole page goes to sign-in
            return Response(status_code=204, headers={"HX-Redirect": to})
        return RedirectResponse(to, status_code=303)

    @app.exception_handler(CsrfRefused)
    async def _csrf(_request: Request, _exc: CsrfRefused) -> Response:
        body = templates.get_template("csrf.html").render()
        return HTMLResponse(body, status_code=403)
