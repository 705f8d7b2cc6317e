"""Adding the dashboard to the server's FastAPI app."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from ferryman.server.web import actions, pages, stream
from ferryman.server.web.access import LoginRequired, PageError, wants_html
from ferryman.server.web.templating import render

STATIC = "ferryman.server"


def install(app: FastAPI) -> None:
    """Mount the dashboard's routes, static files and error pages on ``app``."""
    app.mount("/static", StaticFiles(packages=[(STATIC, "static")]), name="static")
    app.include_router(stream.router)
    app.include_router(actions.router)
    app.include_router(pages.router)

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        if wants_html(request):
            return RedirectResponse(f"/login?next={_quoted(exc.next_url)}", status_code=303)
        return JSONResponse({"error": exc.message, "kind": exc.kind}, status_code=exc.status)

    @app.exception_handler(PageError)
    async def _page(request: Request, exc: PageError) -> Response:
        if wants_html(request):
            return render(request, "error.html", status=exc.status, error=exc.message)
        return JSONResponse({"error": exc.message, "kind": exc.kind}, status_code=exc.status)


def _quoted(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/")
