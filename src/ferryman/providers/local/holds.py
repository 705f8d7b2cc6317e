"""Test holds: stop a provider call at a chosen point until a test lets it go.

Durability tests need a crash *inside* a provider call: the worker killed
after the agent started the first instance of a ``prepare``, or after it
installed a route table but before it answered. A hold makes that moment
last as long as the test needs::

    POST /v1/test/holds          {"point": "routes.written", "match": "<release>/eu-1/"}
    ... the next routes call whose key contains the match stops at that point;
    ... the agent records ``hold.reached``; the test kills the worker, starts another;
    ... every call with a matching key records ``hold.arrived`` as it comes in;
    POST /v1/test/holds/release  {"point": "routes.written"}

Holds exist only in an agent started with ``FERRYMAN_AGENT_TEST_HOLDS=1`` in its
environment (``ferryman.testing`` sets it for the tests that need it). Without
it the agent has no ``/v1/test/…`` endpoints and every hold point is a no-op,
so nothing of this is reachable in production.

Points:
    ``prepare.started``: a ``prepare`` that had to start instances, right after the first.
    ``routes.written``: a routes call, after the router took the table and the
        ``routes.set`` event was recorded, before the answer is stored or sent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from aiohttp import web

log = logging.getLogger("ferryman.agent")

ENV_VAR = "FERRYMAN_AGENT_TEST_HOLDS"
POINTS = {"prepare.started": "prepare", "routes.written": "routes"}
"""Hold point → the operation (idempotency scope) it belongs to."""

Record = Callable[[str, str], None]
"""Records an agent event: (kind, detail)."""


def enabled(environ: Mapping[str, str]) -> bool:
    """Whether an agent with this environment offers holds (``FERRYMAN_AGENT_TEST_HOLDS=1``)."""
    if environ.get(ENV_VAR) != "1":
        return False
    log.warning("test holds are enabled (%s=1): never run an agent like this for real", ENV_VAR)
    return True


class HoldError(ValueError):
    """A hold that cannot be armed or released (unknown point, nothing armed)."""


@dataclass
class _Hold:
    match: str
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    reached: bool = False


class Holds:
    """The armed holds of one agent.

    Args:
        record: Records an agent event (``hold.arrived``, ``hold.reached``, ``hold.released``).
    """

    def __init__(self, record: Record) -> None:
        self._record = record
        self._armed: dict[str, _Hold] = {}

    def arm(self, point: str, match: str) -> None:
        """Hold the next call at ``point`` whose key contains ``match``.

        Raises:
            HoldError: The point is unknown.
        """
        if point not in POINTS:
            raise HoldError(f"unknown hold point {point!r} (known: {', '.join(sorted(POINTS))})")
        self._armed[point] = _Hold(match)

    def release(self, point: str) -> None:
        """Let the call held at ``point`` go on (or the next one pass), and disarm.

        Raises:
            HoldError: Nothing is armed at ``point``.
        """
        hold = self._armed.pop(point, None)
        if hold is None:
            raise HoldError(f"no hold is armed at {point!r}")
        hold.gate.set()
        self._record("hold.released", f"{point} {hold.match}")

    def arrived(self, operation: str, key: str) -> None:
        """A call came in: recorded when an armed hold of its operation matches its key."""
        for point, hold in self._armed.items():
            if POINTS[point] == operation and hold.match in key:
                self._record("hold.arrived", f"{point} {key}")

    async def reach(self, point: str, key: str) -> None:
        """Wait here until released, if this is the first call to match the hold at ``point``."""
        hold = self._armed.get(point)
        if hold is None or hold.reached or hold.match not in key:
            return
        hold.reached = True
        self._record("hold.reached", f"{point} {key}")
        await hold.gate.wait()


def routes(holds: Holds) -> list[web.RouteDef]:
    """The ``/v1/test/holds`` endpoints over ``holds`` (only an agent with holds has them)."""

    async def body(request: web.Request) -> tuple[str, str]:
        try:
            data = await request.json()
        except ValueError:
            data = None
        if not isinstance(data, dict) or not isinstance(data.get("point"), str):
            raise HoldError('body must be {"point": "...", "match": "..."}')
        return data["point"], str(data.get("match", ""))

    async def arm(request: web.Request) -> web.Response:
        try:
            point, match = await body(request)
            holds.arm(point, match)
        except HoldError as error:
            return web.json_response({"error": str(error)}, status=400)
        return web.json_response({"point": point, "match": match})

    async def release(request: web.Request) -> web.Response:
        try:
            point, _ = await body(request)
            holds.release(point)
        except HoldError as error:
            return web.json_response({"error": str(error)}, status=400)
        return web.json_response({"point": point})

    return [web.post("/v1/test/holds", arm), web.post("/v1/test/holds/release", release)]
