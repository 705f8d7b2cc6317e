"""A local stand-in for Slack's Web API: records every call and answers like Slack.

``slack_sdk`` is pointed at it with ``base_url`` (``FERRYMAN_SLACK_API_URL``);
it answers ``chat.postMessage`` and ``chat.update`` (and the ``response_url``
of interactions) on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from ferryman.testing import free_port


@dataclass
class SlackCall:
    """One request the stand-in received."""

    method: str
    body: dict[str, Any]
    token: str
    answer: dict[str, Any] = field(default_factory=dict)


@dataclass
class SlackStandIn:
    """The stand-in server; ``calls`` holds every Web API call in order."""

    port: int = field(default_factory=free_port)
    calls: list[SlackCall] = field(default_factory=list)
    replies: list[dict[str, Any]] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    _ts: int = 0

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    @property
    def response_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/respond"

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.content_type == "application/json":
            body = await request.json()
        else:
            body = dict(await request.post())
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        call = SlackCall(method, body, token)
        self.calls.append(call)
        if token != "xoxb-test":
            call.answer = {"ok": False, "error": "invalid_auth"}
        else:
            self._ts += 1
            ts = body.get("ts") or f"{int(time.time())}.{self._ts:06d}"
            call.answer = {"ok": True, "channel": "C0RELEASES", "ts": ts}
        return web.json_response(call.answer)

    async def _respond(self, request: web.Request) -> web.Response:
        self.replies.append(await request.json())
        return web.json_response({"ok": True})

    async def start(self) -> SlackStandIn:
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_post("/respond", self._respond)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def of(self, method: str) -> list[SlackCall]:
        return [call for call in self.calls if call.method == method]

    async def wait_for(self, method: str, count: int = 1, timeout_s: float = 60) -> SlackCall:
        deadline = time.monotonic() + timeout_s
        while len(self.of(method)) < count:
            assert time.monotonic() < deadline, f"Slack stand-in got no {method} in time"
            await asyncio.sleep(0.05)
        return self.of(method)[count - 1]


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))
