"""A zone router's side of a two-phase switch: stage, commit, abort.

The agent drives a zonal region's zone routers through a
:class:`~ferryman.platform.twophase.Switch`; each router keeps the rules of
:class:`~ferryman.platform.twophase.ZoneTables`:

- ``stage(generation, tables)`` compiles the tables into a complete
  :class:`~ferryman.providers.local.router.RegionTable` and holds it; nothing
  changes for requests;
- ``commit(generation, at)`` makes the staged table the one in force, in one
  assignment, at once or at the wall-clock instant ``at`` (the clock every
  router of the machine shares); committing the generation in force again is
  a no-op;
- ``abort(generation)`` drops the staged table.

Faults a test can set on the control channel (``{"op": "fault", …}``):
``refuse`` makes the router refuse to stage, as a zone whose data plane is
broken would; ``delay_stage`` (seconds) makes it acknowledge phase 1 late.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

from ferryman.platform.models import RouteTable
from ferryman.platform.twophase import TwoPhaseError, ZoneTables
from ferryman.providers.local.router import Router

STAGING_OPS = frozenset({"stage", "commit", "abort", "fault"})
"""Control-channel ops :meth:`Staging.handle` answers."""


class Staging:
    """Two-phase operations on one zone router.

    Args:
        router: The router whose tables they change.
    """

    def __init__(self, router: Router) -> None:
        self._router = router
        self.refuse: str | None = None
        self.delay_stage = 0.0

    def state(self) -> ZoneTables:
        """The generation served and the one staged."""
        staged = self._router.staged
        return ZoneTables(
            active=self._router.table.generation,
            staged=None if staged is None else staged.generation,
        )

    def stage(self, generation: int, tables: Mapping[str, RouteTable]) -> dict[str, Any]:
        """Hold ``tables`` under ``generation`` (phase 1).

        Raises:
            TwoPhaseError: The router refuses (a fault), or the generation is not newer.
        """
        if self.refuse is not None:
            raise TwoPhaseError(f"zone {self._router.zone} refuses to stage: {self.refuse}")
        current = self.state()
        if current.staged != generation:
            current.stage(generation)
            self._router.staged = self._router.table.replace(generation, tables)
        return {"staged": generation}

    async def commit(self, generation: int, at: float | None) -> dict[str, Any]:
        """Serve the staged ``generation`` (phase 2), at the instant ``at`` if given.

        Returns ``activated`` (when it took effect, wall clock; None if it already
        served it) and ``late`` (the instant had passed when the commit arrived).

        Raises:
            TwoPhaseError: ``generation`` is neither staged nor in force.
        """
        current = self.state()
        current.commit(generation)
        if current.active == generation:
            return {"generation": generation, "activated": None, "late": False}
        late = False
        if at is not None:
            delay = at - time.time()
            late = delay < 0
            if delay > 0:
                await asyncio.sleep(delay)
        staged = self._router.staged
        if staged is None or staged.generation != generation:
            # Dropped or superseded while waiting for the instant.
            if self._router.table.generation == generation:
                return {"generation": generation, "activated": None, "late": late}
            raise TwoPhaseError(f"generation {generation} is no longer staged here")
        self._router.activate(staged)
        return {"generation": generation, "activated": time.time(), "late": late}

    def abort(self, generation: int) -> dict[str, Any]:
        """Drop the staged ``generation``.

        Raises:
            TwoPhaseError: ``generation`` is in force.
        """
        after = self.state().abort(generation)
        if after.staged is None:
            self._router.staged = None
        return {"staged": after.staged}

    async def handle(self, message: Mapping[str, Any]) -> dict[str, Any]:
        """Answer one control-channel message whose ``op`` is in :data:`STAGING_OPS`.

        Raises:
            TwoPhaseError: The operation is refused (the message says why).
        """
        op = message["op"]
        if op == "fault":
            refuse = message.get("refuse")
            self.refuse = None if refuse is None else str(refuse)
            self.delay_stage = float(message.get("delay_stage", 0.0))
            return {"refuse": self.refuse, "delay_stage": self.delay_stage}
        generation = int(message["generation"])
        if op == "stage":
            if self.delay_stage > 0:
                await asyncio.sleep(self.delay_stage)
            tables = {s: RouteTable.model_validate(t) for s, t in message["tables"].items()}
            return self.stage(generation, tables)
        if op == "commit":
            at = message.get("at")
            return await self.commit(generation, None if at is None else float(at))
        return self.abort(generation)
