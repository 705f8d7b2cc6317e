"""The dashboard in tests: served by uvicorn in the test's own event loop, and logging in."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import uvicorn
from temporalio.client import Client

from ferryman.server import ServerSettings, create_app

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def dashboard(
    client: Client, config: Path, state_dir: Path, temporal_ui: str | None = None
) -> AsyncIterator[str]:
    """``ferryman server`` on a free port, sharing ``client``; yields its base URL."""
    settings = ServerSettings(
        client=client, config=config, state_dir=state_dir, temporal_ui=temporal_ui
    )
    port = free_port()
    config_ = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config_)
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    deadline = asyncio.get_running_loop().time() + 30
    while not server.started:
        assert not task.done(), "the dashboard did not start"
        assert asyncio.get_running_loop().time() < deadline, "the dashboard did not start"
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        server.force_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=10)


def csrf_of(html: str) -> str:
    """The CSRF token in a page's forms."""
    found = CSRF.search(html)
    assert found, "no CSRF token in the page"
    return found.group(1)


async def log_in(http: httpx.AsyncClient, token: str) -> str:
    """Log ``http`` in (the session cookie stays in its jar); returns the session's CSRF token."""
    form = await http.get("/login")
    assert form.status_code == 200, form.text
    answer = await http.post(
        "/login", data={"csrf": csrf_of(form.text), "token": token, "next": "/releases"}
    )
    assert answer.status_code == 200, answer.text
    page = await http.get("/releases", headers={"Accept": "text/html"})
    assert page.status_code == 200, page.text
    return csrf_of(page.text)
