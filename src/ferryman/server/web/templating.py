"""The dashboard's Jinja2 templates (package data under ``ferryman/server/templates``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from ferryman.server.web.access import keep_session, visitor
from ferryman.server.web.session import CSRF_FIELD

STATE_CLASS = {
    "succeeded": "ok",
    "done": "ok",
    "live": "ok",
    "switched": "ok",
    "healthy": "ok",
    "completed": "ok",
    "pass": "ok",
    "approved": "ok",
    "cached": "cached",
    "running": "busy",
    "deploying": "busy",
    "deploy": "busy",
    "build": "busy",
    "bake": "busy",
    "starting": "busy",
    "started": "busy",
    "finalizing": "busy",
    "finalize": "busy",
    "restoring": "busy",
    "rolling-back": "bad",
    "continue": "busy",
    "awaiting-approval": "wait",
    "awaiting-promotion": "wait",
    "paused": "wait",
    "queued": "wait",
    "inconclusive": "wait",
    "open": "wait",
    "failed": "bad",
    "fail": "bad",
    "unhealthy": "bad",
    "rolled-back": "bad",
    "restored": "bad",
    "rejected": "bad",
    "aborted": "bad",
    "terminated": "bad",
    "canceled": "bad",
    "timed-out": "bad",
}


def state_class(state: str) -> str:
    """The CSS class of a state: ok, busy, wait, bad, cached or idle."""
    return STATE_CLASS.get(state, "idle")


def when(moment: datetime | str | None) -> str:
    """A time as ``2025-01-31 12:00:05Z`` (UTC), or ""."""
    if not moment:
        return ""
    if isinstance(moment, str):
        try:
            parsed = datetime.fromisoformat(moment.replace("Z", "+00:00"))
        except ValueError:
            return moment
        moment = parsed
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%SZ")


def release_url(release_id: str, suffix: str = "") -> str:
    """The dashboard path of a release (its id keeps its slashes)."""
    return "/releases/" + quote(release_id, safe="/") + suffix


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("ferryman.server", "templates"),
        autoescape=select_autoescape(["html", "svg"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["state"] = state_class
    env.filters["when"] = when
    env.globals["release_url"] = release_url
    env.globals["csrf_field"] = CSRF_FIELD
    return env


templates = Jinja2Templates(env=_environment())


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """Render page ``name`` with the visitor, their CSRF token and a pending message."""
    found = visitor(request)
    flash, flash_kind = found.take_flash()
    response = templates.TemplateResponse(
        request,
        name,
        {
            "user": found.user,
            "csrf": found.session.csrf,
            "flash": flash,
            "flash_kind": flash_kind,
            **context,
        },
        status_code=status,
    )
    keep_session(request, response)
    return response


def fragment(name: str, **context: Any) -> str:
    """Render a partial template to a string (the live part of a page, for SSE)."""
    return templates.get_template(name).render(**context)
