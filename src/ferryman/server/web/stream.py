"""Live pages over server-sent events: the live part of a page, re-rendered when it changes.

A page names its stream in ``data-live``; the page's script opens an
``EventSource`` on it and swaps ``#live``'s content for each ``update`` event.
The server renders the same partial template as the page every
:data:`INTERVAL_S` and sends it only when it differs from the last one sent;
a comment line every :data:`HEARTBEAT_S` keeps proxies from closing the
connection. A release's stream sends ``end`` after the release finished and
closes. The browser reconnects by itself when a stream breaks.

Wire format (one event)::

    event: update
    data: <section>…</section>
    data: …more lines of the same HTML…

"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from ferryman.errors import FerrymanError
from ferryman.server.context import context_of
from ferryman.server.web.access import Visitor, reader
from ferryman.server.web.data import release_page
from ferryman.server.web.pages import Filter, releases_rows
from ferryman.server.web.templating import fragment
from ferryman.temporal.client.gates import pending_gates

router = APIRouter(tags=["dashboard"], include_in_schema=False)
Reader = Annotated[Visitor, Depends(reader)]
INTERVAL_S = 1.0
HEARTBEAT_S = 15.0
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def event(name: str, html: str) -> str:
    """One server-sent event carrying ``html`` (every line its own ``data:`` line)."""
    lines = "".join(f"data: {line}\n" for line in html.splitlines() or [""])
    return f"event: {name}\n{lines}\n"


Render = Callable[[], Awaitable[tuple[str, bool]]]
"""Renders the live part now; returns the HTML and whether nothing will change any more."""


async def updates(request: Request, render: Render) -> AsyncIterator[str]:
    """Events for as long as the client listens (and, with a finished release, no longer)."""
    last, beat = "", time.monotonic()
    yield "retry: 2000\n\n"
    while not await request.is_disconnected():
        try:
            html, final = await render()
        except FerrymanError as exc:  # Temporal unreachable for a moment: say so, keep going
            html, final = f'<p class="error">live updates paused: {exc}</p>', False
        if html != last:
            last, beat = html, time.monotonic()
            yield event("update", html)
        elif time.monotonic() - beat > HEARTBEAT_S:
            beat = time.monotonic()
            yield ": keep-alive\n\n"
        if final:
            yield event("end", "")
            return
        await asyncio.sleep(INTERVAL_S)


def stream(request: Request, render: Render) -> StreamingResponse:
    """A ``text/event-stream`` response of :func:`updates`."""
    return StreamingResponse(
        updates(request, render), media_type="text/event-stream", headers=HEADERS
    )


@router.get("/live/releases/{release_id:path}")
async def release_events(request: Request, release_id: str, who: Reader) -> StreamingResponse:
    """The live part of a release page, as it changes, until the release ends."""
    context = context_of(request)
    settings = context.settings

    async def render() -> tuple[str, bool]:
        page = await release_page(
            await context.client(), release_id, settings.temporal_ui, settings.connection.namespace
        )
        html = fragment("_release_live.html", page=page, user=who.user, csrf=who.session.csrf)
        return html, page.finished or not page.exists

    return stream(request, render)


@router.get("/live/releases")
async def releases_events(request: Request, who: Reader, where: Filter) -> StreamingResponse:
    """The releases list, as it changes."""
    await releases_rows(request, where)  # a bad filter is refused before streaming starts

    async def render() -> tuple[str, bool]:
        return fragment("_releases_table.html", rows=await releases_rows(request, where)), False

    return stream(request, render)


@router.get("/live/gates")
async def gates_events(request: Request, who: Reader) -> StreamingResponse:
    """The gates inbox, as gates open and close."""
    context = context_of(request)

    async def render() -> tuple[str, bool]:
        views = await pending_gates(await context.client())
        html = fragment("_gates_list.html", gates=views, user=who.user, csrf=who.session.csrf)
        return html, False

    return stream(request, render)
