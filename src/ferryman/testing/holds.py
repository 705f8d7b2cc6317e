"""Driving the agent's test holds (:mod:`ferryman.providers.local.holds`) from a test.

::

    agent = AgentProcess(state_dir, holds=True).start()
    holds = AgentHolds(agent.url)
    await holds.arm("routes.written", f"{release_id}/eu-1/")
    ...                                   # start the release
    await holds.reached("routes.written") # the call stopped inside the agent
    ...                                   # kill the worker, start another
    await holds.arrivals("routes.written", 2)   # the retry came in, and waits
    await holds.release("routes.written")
"""

from __future__ import annotations

import httpx

from ferryman.providers.local import LocalProvider
from ferryman.providers.local.wire import AgentEvent
from ferryman.testing.waiting import eventually


class AgentHolds:
    """Arms, watches and releases holds of an agent started with holds enabled.

    Args:
        agent_url: The agent's API.
    """

    def __init__(self, agent_url: str) -> None:
        self.agent_url = agent_url.rstrip("/")
        self._events = LocalProvider(agent_url)

    async def _post(self, path: str, body: dict[str, str]) -> None:
        async with httpx.AsyncClient(timeout=10) as client:
            answer = await client.post(f"{self.agent_url}{path}", json=body)
        if answer.status_code == 404:
            raise AssertionError("the agent has no test holds: start it with holds=True")
        answer.raise_for_status()

    async def arm(self, point: str, match: str) -> None:
        """Hold the next call at ``point`` whose idempotency key contains ``match``."""
        await self._post("/v1/test/holds", {"point": point, "match": match})

    async def release(self, point: str) -> None:
        """Let the held call go on."""
        await self._post("/v1/test/holds/release", {"point": point})

    async def _seen(self, kind: str, point: str) -> list[AgentEvent]:
        events = await self._events.events(kind)
        return [e for e in events if e.detail.split(" ", 1)[0] == point]

    async def reached(self, point: str, within: float = 180.0) -> AgentEvent:
        """Wait until a call stopped at ``point``; returns its ``hold.reached`` event."""

        async def held() -> list[AgentEvent]:
            return await self._seen("hold.reached", point)

        return (await eventually(held, what=f"a call held at {point}", within=within))[0]

    async def arrivals(self, point: str, count: int, within: float = 180.0) -> list[AgentEvent]:
        """Wait until ``count`` calls matching the hold at ``point`` came in; returns them."""

        async def enough() -> list[AgentEvent]:
            seen = await self._seen("hold.arrived", point)
            return seen if len(seen) >= count else []

        return await eventually(enough, what=f"{count} calls arriving at {point}", within=within)
