"""Teams' steps in workflow tests: an in-process team worker whose calls land in the provider log.

Every call of the team's activities is appended to ``FakeProvider.calls`` as
``("team", "<action> <step>[ <region>]")``, so one list shows steps, their
compensations and the provider's route swaps in the order they happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from ferryman.plan.custom_steps import ActivityPlan, CallPlan, CustomStepPlan
from ferryman.temporal.models.release import ReleaseProgress
from ferryman.temporal.workflows.release import ReleaseWorkflow
from ferryman.testing.fake_provider import FakeProvider

from .conftest import ReleaseHandle


@dataclass
class Team:
    """A team's worker: which calls fail, what each returns, what it was sent."""

    provider: FakeProvider
    queue: str = field(default_factory=lambda: f"team-{uuid.uuid4()}")
    fail: set[str] = field(default_factory=set)
    fail_once: set[str] = field(default_factory=set)
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    payloads: list[dict[str, Any]] = field(default_factory=list)

    def _called(self, payload: dict[str, Any]) -> str:
        where = f" {payload['region']}" if payload.get("region") else ""
        label = f"{payload['action']} {payload['step']}{where}"
        self.provider.calls.append(("team", label))
        self.payloads.append(payload)
        if label in self.fail or label in self.fail_once:
            self.fail_once.discard(label)
            raise ApplicationError(f"{label} broke", non_retryable=True)
        return label

    def activities(self) -> list[Any]:
        @activity.defn(name="team-step")
        async def step(payload: dict[str, Any]) -> dict[str, Any]:
            label = self._called(payload)
            return {"label": label, **self.results.get(label, {})}

        @activity.defn(name="team-undo")
        async def undo(payload: dict[str, Any]) -> dict[str, Any]:
            return {"label": self._called(payload)}

        return [step, undo]

    def calls(self) -> list[str]:
        """The team's calls, in order."""
        return [key for kind, key in self.provider.calls if kind == "team"]

    def timeline(self, start: int = 0) -> list[str]:
        """Team calls and route swaps (``route <region> <action>``) since call ``start``."""
        out = []
        for kind, key in self.provider.calls[start:]:
            if kind == "team":
                out.append(key)
            elif kind == "set_traffic":
                parts = key.split("/")
                out.append(f"route {parts[-4]} {parts[-2].split('.')[0]}")
        return out


@contextlib.asynccontextmanager
async def team_worker(client: Client, team: Team) -> AsyncIterator[Team]:
    """Serve the team's queue while the block runs."""
    async with Worker(client, task_queue=team.queue, activities=team.activities()):
        yield team


def call(team: Team | str, name: str = "team-step", **changes: Any) -> ActivityPlan:
    """An activity call on the team's queue (or on the queue named)."""
    queue = team if isinstance(team, str) else team.queue
    fields: dict[str, Any] = {"name": name, "task_queue": queue, "retries": 0, **changes}
    return ActivityPlan(**fields)


def step(
    team: Team | str,
    name: str,
    at: str,
    wave: int | None = None,
    *,
    undo: bool = True,
    regions: tuple[str, ...] = (),
    via: CallPlan | None = None,
    **changes: Any,
) -> CustomStepPlan:
    """A team's step, compensated by ``team-undo`` unless ``undo=False``."""
    return CustomStepPlan.model_validate(
        {
            "name": name,
            "at": at,
            "wave": wave,
            "regions": regions,
            "call": via or call(team, input={"step": name}, **changes),
            "compensate": call(team, "team-undo") if undo else None,
        }
    )


async def progress_until(
    handle: ReleaseHandle, check: Any, what: str, tries: int = 600
) -> ReleaseProgress:
    """Poll the release's progress until ``check(progress)``; fails loudly after a deadline."""
    for _ in range(tries):
        progress = await handle.query(ReleaseWorkflow.progress)
        if check(progress):
            return progress
        await asyncio.sleep(0.025)
    raise AssertionError(f"the release never showed {what}; last: {progress}")
