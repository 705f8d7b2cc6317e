"""The release as a saga, on the time-skipping server with an in-memory provider.

Regions go wave by wave with their old versions kept warm; a failure or a
``rollback`` Update puts every touched region back, the last wave first. The
provider is faked (these pin the workflow's order and decisions); the same
paths run against the real agent in tests/integration.
"""

from __future__ import annotations

import asyncio

import pytest
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError

from ferryman.platform.models import RouteTable
from ferryman.temporal.models.region import Decision
from ferryman.temporal.workflows.release import ReleaseWorkflow

from .conftest import REGIONS, Saga, wait_phase


async def test_a_failure_in_the_third_wave_puts_back_the_second_then_the_first(
    saga: Saga,
) -> None:
    saga.provider.unhealthy_zones = {"eu-3/b"}
    with pytest.raises(WorkflowFailureError) as failure:
        await (await saga.start(saga.plan("v2"))).result()
    message = str(failure.value.cause)
    assert "eu-3: zone b: web v2 0/2 instances healthy" in message
    assert "restored eu-2, eu-1" in message
    assert saga.restored_order() == ["eu-2", "eu-1"]
    for region in REGIONS:
        assert saga.serving(region) == {"v1": 100}, region
        assert saga.running(region) == {"v1"}, region


async def test_old_versions_stay_warm_until_the_release_commits(saga: Saga) -> None:
    handle = await saga.start(saga.plan("v2", bakes=(0, 3600, 0)))
    await wait_phase(handle, "bake", wave_region="eu-2")
    assert saga.serving("eu-1") == {"v2": 100}
    assert saga.running("eu-1") == {"v1", "v2"}, "eu-1 keeps v1 warm while eu-2 bakes"
    await handle.terminate()


async def test_rollback_during_a_bake_restores_every_touched_region(saga: Saga) -> None:
    handle = await saga.start(saga.plan("v2", bakes=(0, 3600, 0)))
    await wait_phase(handle, "bake", wave_region="eu-2")
    answer = await handle.execute_update(
        ReleaseWorkflow.rollback, Decision(by="erin", reason="p99 up")
    )
    assert "rolled-back" in answer and "erin" in answer
    result = await handle.result()
    assert result.status == "rolled-back"
    assert saga.restored_order() == ["eu-2", "eu-1"]
    assert saga.serving("eu-3") == {"v1": 100} and saga.running("eu-3") == {"v1"}, "untouched"
    for region in REGIONS:
        assert saga.serving(region) == {"v1": 100}
        assert saga.running(region) == {"v1"}
    progress = await handle.query(ReleaseWorkflow.progress)
    assert any("rollback asked by erin: p99 up" in e.message for e in progress.events)
    with pytest.raises(Exception, match=r"already finished|completed|not found"):
        await handle.execute_update(ReleaseWorkflow.rollback, Decision(by="frank"))


async def test_a_second_rollback_is_refused_while_the_first_runs(saga: Saga) -> None:
    # The first rollback's route swap back waits here until the second was refused.
    gate = asyncio.Event()
    swap = saga.provider.set_traffic

    async def held_swap(key: str, region: str, routes: RouteTable) -> int:
        if "/restore/" in key:
            await gate.wait()
        return await swap(key, region, routes)

    saga.provider.set_traffic = held_swap  # type: ignore[method-assign]
    handle = await saga.start(saga.plan("v2", bakes=(3600, 0, 0)))
    await wait_phase(handle, "bake", wave_region="eu-1")
    first = asyncio.ensure_future(
        handle.execute_update(ReleaseWorkflow.rollback, Decision(by="gina"))
    )
    await wait_phase(handle, "rolling-back")
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(ReleaseWorkflow.rollback, Decision(by="hal"))
    assert "already rolling back (asked by gina)" in str(refused.value.cause)
    gate.set()
    assert "gina" in await first
    assert saga.serving("eu-1") == {"v1": 100}


async def test_keep_none_retires_at_once_and_a_failure_starts_old_versions_again(
    saga: Saga,
) -> None:
    saga.provider.unhealthy_zones = {"eu-3/a"}
    starts = saga.provider.starts
    with pytest.raises(WorkflowFailureError):
        await (await saga.start(saga.plan("v2", keep_previous="none"))).result()
    # v2 started in eu-1, eu-2 and eu-3 (2 zones × 2 replicas each), then v1 again in eu-1, eu-2.
    assert saga.provider.starts == starts + 3 * 4 + 2 * 4
    for region in REGIONS:
        assert saga.serving(region) == {"v1": 100}
        assert saga.running(region) == {"v1"}


async def test_cancelling_the_release_puts_back_what_it_touched(saga: Saga) -> None:
    handle = await saga.start(saga.plan("v2", bakes=(3600, 0, 0)))
    await wait_phase(handle, "bake", wave_region="eu-1")
    await handle.cancel()
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    assert saga.restored_order() == ["eu-1"]
    assert saga.serving("eu-1") == {"v1": 100} and saga.running("eu-1") == {"v1"}
