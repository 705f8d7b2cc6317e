"""The release-train example's workflow, closed while a car is under way: the car rolls back.

Under Temporal's default parent-close policy a child release is terminated with
its parent, and a terminated release runs no saga. The train asks for
``REQUEST_CANCEL`` instead: its car is cancelled, and a cancelled release puts
back what it touched. The dev server applies parent-close policies (the
time-skipping test server does not); the platform is the in-memory provider.
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError
from temporalio.worker import Worker

import ferryman
from ferryman.temporal.workflows.release import ReleaseWorkflow
from ferryman.testing.fake_provider import FakeProvider
from ferryman.testing.waiting import eventually
from ferryman.testing.workers import serving

from .conftest import EXAMPLES

sys.path.insert(0, str(EXAMPLES / "release-train"))
from train import ReleaseTrain, TrainRequest

pytestmark = pytest.mark.integration


async def test_terminating_the_train_rolls_its_running_car_back(
    dev_client: Client, hello_spec: Path
) -> None:
    provider = FakeProvider()
    first = ferryman.plan_release(hello_spec.parent, "dev", version="v1")
    waves = tuple(w.model_copy(update={"bake_s": 3600}) for w in first.deploy.ordered_waves())
    second = ferryman.plan_release(hello_spec.parent, "dev", version="v2")
    baking = second.model_copy(update={"deploy": second.deploy.model_copy(update={"waves": waves})})
    train_queue = f"release-train-{uuid.uuid4().hex[:8]}"
    async with serving(dev_client, lambda p, e: provider, ["local-1"]) as queue:
        assert await (await ferryman.start_release(dev_client, first, task_queue=queue)).result()
        async with Worker(dev_client, task_queue=train_queue, workflows=[ReleaseTrain]):
            train = await dev_client.start_workflow(
                ReleaseTrain.run,
                TrainRequest(plans=[baking], ferryman_queue=queue),
                id=f"train/{uuid.uuid4().hex[:8]}",
                task_queue=train_queue,
            )
            car = dev_client.get_workflow_handle_for(ReleaseWorkflow.run, f"{train.id}/hello")

            async def baking_v2() -> bool:
                try:
                    progress = await car.query(ReleaseWorkflow.progress)
                except RPCError:
                    return False
                return progress.phase == "bake"

            await eventually(baking_v2, what="the car baking v2")
            assert provider.routes[("local-1", "web")].weights == {"v2": 100}
            await train.terminate("stopping the train")

            async def car_closed() -> WorkflowExecutionStatus | None:
                status = (await car.describe()).status
                return None if status == WorkflowExecutionStatus.RUNNING else status

            closed = await eventually(car_closed, what="the car to close")
    assert closed == WorkflowExecutionStatus.CANCELED, "a terminated car runs no saga"
    assert provider.routes[("local-1", "web")].weights == {"v1": 100}
