"""The app factory: ``create_app(settings)`` → a FastAPI app made of routers.

::

    /healthz                                              liveness
    /api/v1/gates                                         pending gates        (bearer)
    /api/v1/releases/<release>/audit                      a release's audit    (bearer)
    /api/v1/releases/<release>/gates/<gate>/approve       decide               (bearer)
    /api/v1/releases/<release>/gates/<gate>/reject        decide               (bearer)
    /slack/interactions                                   Slack buttons        (Slack signature)
    /codec/encode, /codec/decode                          Web UI remote codec  (bearer, CORS)
    /, /login, /releases, /gates, /live/…, /static/…      the dashboard        (session cookie)

The dashboard's routes are listed in :mod:`ferryman.server.web`.
"""

from __future__ import annotations

from fastapi import FastAPI

from ferryman.server import errors
from ferryman.server.context import ServerContext, ServerSettings
from ferryman.server.routes import codec, gates, health, slack
from ferryman.server.web import install as dashboard

__all__ = ["ServerSettings", "create_app"]


def create_app(settings: ServerSettings | None = None) -> FastAPI:
    """The ferryman HTTP API; add routers to it for more (the dashboard does)."""
    app = FastAPI(title="ferryman", summary="The dashboard, approval gates and releases over HTTP.")
    app.state.context = ServerContext(settings or ServerSettings())
    errors.install(app)
    app.include_router(health.router)
    app.include_router(gates.router, prefix="/api/v1")
    app.include_router(slack.router, prefix="/slack")
    app.include_router(codec.router)
    dashboard.install(app)
    return app
