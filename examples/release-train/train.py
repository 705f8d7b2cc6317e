"""A release train: your own Temporal workflow that releases several systems one after another.

Each car is a ferryman release, run as a CHILD workflow (``ferryman.ReleaseWorkflow``)
on ferryman's task queue, where ferryman's workers serve it; this workflow runs
on your own queue, served by ``worker.py``. Between two cars the train waits for
a person's go: a ``go`` Update with a validator (a refused go never reaches the
history). A car that does not succeed stops the train; the cars before it stay
released.

The plans are compiled before the train starts (``start.py``): a workflow must
not read files, and a plan is everything a release needs.
"""

from __future__ import annotations

from typing import Literal

from temporalio import workflow
from temporalio.exceptions import ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel, Field

    from ferryman import ReleasePlan, ReleaseWorkflow

TRAIN_QUEUE = "release-train"


class TrainRequest(BaseModel):
    """The cars of a train, in order, and where ferryman's workers listen."""

    plans: list[ReleasePlan] = Field(min_length=1)
    ferryman_queue: str = "ferryman"
    go_between: bool = True


class Car(BaseModel):
    """How one car's release went."""

    system: str
    release_id: str
    status: str
    version: str = ""
    error: str = ""


class TrainResult(BaseModel):
    """How the train went: every car that left, and whether all of them did."""

    status: Literal["done", "stopped"]
    cars: list[Car]


class TrainStatus(BaseModel):
    """Where the train is (the ``status`` query)."""

    cars: list[Car]
    current: str = ""
    waiting_for: str = ""


class Go(BaseModel):
    """A person's go for the next car."""

    by: str
    reason: str = ""


@workflow.defn(name="ReleaseTrain")
class ReleaseTrain:
    """Releases each plan in turn as a ferryman child workflow, with a go between cars."""

    def __init__(self) -> None:
        self._cars: list[Car] = []
        self._current = ""
        self._waiting_for = ""
        self._go: Go | None = None

    @workflow.run
    async def run(self, request: TrainRequest) -> TrainResult:
        """Run the cars in order; stop at the first one that does not succeed."""
        for index, plan in enumerate(request.plans):
            if index > 0 and request.go_between:
                self._waiting_for = f"a go for {plan.system} (after {self._current})"
                await workflow.wait_condition(lambda: self._go is not None)
                self._go, self._waiting_for = None, ""
            self._current = plan.system
            car = await self._release(plan, request.ferryman_queue)
            self._cars.append(car)
            if car.status not in ("succeeded", "unchanged"):
                return TrainResult(status="stopped", cars=self._cars)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return TrainResult(status="done", cars=self._cars)

    async def _release(self, plan: ReleasePlan, queue: str) -> Car:
        release_id = f"{workflow.info().workflow_id}/{plan.system}"
        try:
            result = await workflow.execute_child_workflow(
                ReleaseWorkflow.run,
                plan,
                id=release_id,
                task_queue=queue,
                static_summary=f"release {plan.system} to {plan.environment}",
                # Closing the train cancels the car, which rolls back (terminating it would not).
                parent_close_policy=workflow.ParentClosePolicy.REQUEST_CANCEL,
            )
        except ChildWorkflowError as exc:
            reason = getattr(exc.cause, "message", "") or str(exc.cause or exc)
            return Car(system=plan.system, release_id=release_id, status="failed", error=reason)
        return Car(
            system=plan.system,
            release_id=release_id,
            status=result.status,
            version=result.version,
            error=result.error,
        )

    @workflow.update
    def go(self, go: Go) -> str:
        """Let the next car leave."""
        waited = self._waiting_for
        self._go = go
        return f"{waited}: given by {go.by}"

    @go.validator
    def _check_go(self, go: Go) -> None:
        if not self._waiting_for:
            raise ValueError(f"the train is not waiting for a go (releasing {self._current})")

    @workflow.query
    def status(self) -> TrainStatus:
        """The cars so far, the one running, and what the train waits for."""
        return TrainStatus(cars=self._cars, current=self._current, waiting_for=self._waiting_for)
