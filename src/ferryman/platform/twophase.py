"""The two-phase switch of a zonal data plane, as pure state machines.

A zonal region has one router per zone. To move them to a new route table
together, a coordinator runs a :class:`Switch`:

- **phase 1 (prepare)**: every zone router receives the new tables as *staged*
  under a new generation and acknowledges them; users see nothing yet;
- **phase 2 (commit)**: once every zone acknowledged, the coordinator *decides*
  (the decision is final and durable), then every zone activates the staged
  generation.

A zone that refuses phase 1 aborts the switch everywhere: the staged tables
are dropped and nothing changes. A zone that misses the commit stays
*lagging* until a retry activates it; a decided switch can never be aborted,
so no zone ever serves an aborted generation::

    switch = Switch.begin(7, ("a", "b", "c"))        # preparing
    switch = switch.ack("a").ack("b").ack("c")       # prepared
    switch = switch.decide()                         # committing: final
    switch = switch.activate("a").activate("b")      # c missed the commit
    switch.lagging                                   # ("c",): the retry forces it
    switch = switch.activate("c")                    # committed

Each zone router keeps a :class:`ZoneTables`: the generation it serves and the
one it holds staged, with the rules for taking, activating and dropping it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Phase = Literal["preparing", "prepared", "committing", "committed", "aborted"]
DECIDED: frozenset[Phase] = frozenset({"committing", "committed"})


class TwoPhaseError(ValueError):
    """A transition the two-phase protocol forbids; the message is one line."""


class Switch(BaseModel):
    """One two-phase switch of a region's zone routers to ``generation``.

    Attributes:
        generation: The generation every zone ends on if the switch commits.
        zones: Every zone of the region.
        phase: Where the switch stands.
        acked: Zones that acknowledged the staged tables (phase 1).
        activated: Zones that serve ``generation`` (phase 2).
        reason: Why the switch was aborted.
    """

    model_config = ConfigDict(frozen=True)

    generation: int = Field(ge=1)
    zones: tuple[str, ...] = Field(min_length=1)
    phase: Phase = "preparing"
    acked: tuple[str, ...] = ()
    activated: tuple[str, ...] = ()
    reason: str = ""

    @classmethod
    def begin(cls, generation: int, zones: tuple[str, ...]) -> Switch:
        """A new switch; no zone has the tables yet.

        Raises:
            TwoPhaseError: No zones, or a zone named twice.
        """
        if not zones or len(set(zones)) != len(zones):
            raise TwoPhaseError(f"a switch needs distinct zones, got {list(zones)}")
        return cls(generation=generation, zones=zones)

    @property
    def decided(self) -> bool:
        """Whether the commit was decided (from then on it can only complete)."""
        return self.phase in DECIDED

    @property
    def to_stage(self) -> tuple[str, ...]:
        """Zones still to acknowledge phase 1."""
        return tuple(z for z in self.zones if z not in self.acked)

    @property
    def lagging(self) -> tuple[str, ...]:
        """Zones that must still activate the generation (empty until decided)."""
        if not self.decided:
            return ()
        return tuple(z for z in self.zones if z not in self.activated)

    @property
    def to_drop(self) -> tuple[str, ...]:
        """Zones that may hold the staged tables and must drop them (once aborted)."""
        return self.acked if self.phase == "aborted" else ()

    def _zone(self, zone: str) -> None:
        if zone not in self.zones:
            raise TwoPhaseError(f"zone {zone!r} is not part of the switch to {self.generation}")

    def ack(self, zone: str) -> Switch:
        """``zone`` holds the staged tables.

        Raises:
            TwoPhaseError: The zone is unknown, or the switch was aborted or decided.
        """
        self._zone(zone)
        if self.phase == "aborted":
            raise TwoPhaseError(f"generation {self.generation} was aborted: {self.reason}")
        if zone in self.acked:
            return self
        if self.decided:  # pragma: no cover - every zone acked before the decision
            raise TwoPhaseError(f"generation {self.generation} is already decided")
        acked = (*self.acked, zone)
        phase: Phase = "prepared" if set(acked) == set(self.zones) else "preparing"
        return self.model_copy(update={"acked": acked, "phase": phase})

    def refuse(self, zone: str, reason: str) -> Switch:
        """``zone`` did not take the staged tables: the switch aborts everywhere.

        Raises:
            TwoPhaseError: The zone is unknown, or the commit was already decided.
        """
        self._zone(zone)
        return self.abort(f"zone {zone} refused generation {self.generation}: {reason}")

    def abort(self, reason: str) -> Switch:
        """Abort before the decision; aborting twice changes nothing.

        Raises:
            TwoPhaseError: The commit was already decided.
        """
        if self.decided:
            raise TwoPhaseError(
                f"generation {self.generation} is committed; switch back with a new generation"
            )
        if self.phase == "aborted":
            return self
        return self.model_copy(update={"phase": "aborted", "reason": reason})

    def decide(self) -> Switch:
        """Decide the commit; deciding again (a duplicate commit) changes nothing.

        Raises:
            TwoPhaseError: Some zone has not acknowledged, or the switch was aborted.
        """
        if self.decided:
            return self
        if self.phase == "aborted":
            raise TwoPhaseError(f"generation {self.generation} was aborted: {self.reason}")
        if self.phase != "prepared":
            waiting = ", ".join(self.to_stage)
            raise TwoPhaseError(
                f"generation {self.generation} cannot commit: zone(s) {waiting} have not"
                " acknowledged it"
            )
        return self.model_copy(update={"phase": "committing"})

    def activate(self, zone: str) -> Switch:
        """``zone`` serves the generation; activating twice changes nothing.

        Raises:
            TwoPhaseError: The zone is unknown, or the commit was not decided.
        """
        self._zone(zone)
        if not self.decided:
            raise TwoPhaseError(
                f"zone {zone} may not serve generation {self.generation}: it is {self.phase}"
            )
        if zone in self.activated:
            return self
        activated = (*self.activated, zone)
        phase: Phase = "committed" if set(activated) == set(self.zones) else "committing"
        return self.model_copy(update={"activated": activated, "phase": phase})


class ZoneTables(BaseModel):
    """What one zone router serves and holds staged, by generation (tables live elsewhere).

    Attributes:
        active: The generation it serves.
        staged: The generation it holds for a commit, if any.
    """

    model_config = ConfigDict(frozen=True)

    active: int = 0
    staged: int | None = None

    def stage(self, generation: int) -> ZoneTables:
        """Hold ``generation`` for a commit (replacing an older staged one).

        Raises:
            TwoPhaseError: It is not newer than the generation served.
        """
        if generation <= self.active:
            raise TwoPhaseError(
                f"generation {generation} is not newer than the active generation {self.active}"
            )
        return self.model_copy(update={"staged": generation})

    def commit(self, generation: int) -> ZoneTables:
        """Serve the staged ``generation``; committing the active one again changes nothing.

        Raises:
            TwoPhaseError: ``generation`` is neither staged nor active.
        """
        if generation == self.active:
            return self
        if generation != self.staged:
            held = "nothing" if self.staged is None else f"generation {self.staged}"
            raise TwoPhaseError(f"generation {generation} is not staged here (holding {held})")
        return ZoneTables(active=generation, staged=None)

    def abort(self, generation: int) -> ZoneTables:
        """Drop the staged ``generation``; aborting what is not staged changes nothing.

        Raises:
            TwoPhaseError: ``generation`` is the one served (committed, too late to abort).
        """
        if generation == self.active:
            raise TwoPhaseError(f"generation {generation} is active here; it cannot be aborted")
        if generation != self.staged:
            return self
        return self.model_copy(update={"staged": None})
