"""Level 6 rollout controls on the time-skipping server with an in-memory provider.

Pause and resume, abort, a failure that pauses instead of rolling back, a wave's
failure budget, one release at a time per environment, and continue-as-new
keeping the compensation. The provider is faked; the same paths run against
the real agent in tests/integration.
"""

from __future__ import annotations

import asyncio

import pytest
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError

from ferryman.temporal.models.region import Decision
from ferryman.temporal.workflows.release import ReleaseWorkflow

from .conftest import REGIONS, ReleaseHandle, Saga, wait_phase


async def wait_for(handle: ReleaseHandle, phase: str) -> None:
    """Poll the release's progress until ``phase``; fails loudly after a deadline."""
    for _ in range(800):
        if (await handle.query(ReleaseWorkflow.progress)).phase == phase:
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"release never reached {phase}")


async def test_pause_between_waves_then_resume_goes_on(saga: Saga) -> None:
    handle = await saga.start(saga.plan("v2", bakes=(3600, 0, 0)))
    await wait_phase(handle, "bake", wave_region="eu-1")
    answer = await handle.execute_update(
        ReleaseWorkflow.pause, Decision(by="ivy", reason="watching p99")
    )
    assert "pausing after the current step" in answer
    with pytest.raises(WorkflowUpdateFailedError) as twice:
        await handle.execute_update(ReleaseWorkflow.pause, Decision(by="ivy", reason="again"))
    assert "already paused" in str(twice.value.cause)
    # The bake ends (time skips while we wait on the result below); the rollout then stops.
    result = asyncio.ensure_future(handle.result())
    await wait_for(handle, "paused")
    assert not result.done()
    progress = await handle.query(ReleaseWorkflow.progress)
    assert "paused by ivy (watching p99)" in progress.waiting_for
    assert saga.serving("eu-2") == {"v1": 100}, "nothing moves while paused"
    await handle.execute_update(ReleaseWorkflow.resume, Decision(by="jo", reason="fine"))
    assert (await result).status == "succeeded"
    for region in REGIONS:
        assert saga.serving(region) == {"v2": 100} and saga.running(region) == {"v2"}


async def test_resume_and_abort_are_refused_when_they_make_no_sense(saga: Saga) -> None:
    handle = await saga.start(saga.plan("v2", bakes=(3600, 0, 0)))
    await wait_phase(handle, "bake", wave_region="eu-1")
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(ReleaseWorkflow.resume, Decision(by="kim"))
    assert "is not paused (phase bake)" in str(refused.value.cause)
    await handle.terminate()


async def test_abort_keeps_what_switched_and_touches_nothing_else(saga: Saga) -> None:
    handle = await saga.start(saga.plan("v2", bakes=(3600, 0, 0)))
    await wait_phase(handle, "bake", wave_region="eu-1")
    answer = await handle.execute_update(
        ReleaseWorkflow.abort, Decision(by="lee", reason="fixing forward")
    )
    assert "aborted (asked by lee)" in answer
    result = await handle.result()
    assert result.status == "aborted"
    assert saga.serving("eu-1") == {"v2": 100}
    assert saga.running("eu-1") == {"v2"}, "the old version of a switched region is retired"
    for region in ("eu-2", "eu-3"):
        assert saga.serving(region) == {"v1": 100} and saga.running(region) == {"v1"}
    assert saga.restored_order() == []
    progress = await handle.query(ReleaseWorkflow.progress)
    assert any("aborted by lee: fixing forward" in e.message for e in progress.events)


async def test_a_failure_with_on_failure_pause_waits_and_resume_switches_it_again(
    saga: Saga,
) -> None:
    saga.provider.unhealthy_zones = {"eu-2/a"}
    handle = await saga.start(saga.plan("v2", on_failure="pause"))
    await wait_for(handle, "paused")
    progress = await handle.query(ReleaseWorkflow.progress)
    assert progress.regions["eu-1"] == "switched" and progress.regions["eu-2"] == "failed"
    assert "resuming switches eu-2 again" in progress.waiting_for
    assert saga.serving("eu-2") == {"v1": 100}, "the failed region put itself back"
    saga.provider.unhealthy_zones = set()
    answer = await handle.execute_update(
        ReleaseWorkflow.resume, Decision(by="mo", reason="zone a fixed")
    )
    assert "switching eu-2 again" in answer
    assert (await handle.result()).status == "succeeded"
    for region in REGIONS:
        assert saga.serving(region) == {"v2": 100} and saga.running(region) == {"v2"}


async def test_a_failure_with_on_failure_pause_can_still_be_rolled_back(saga: Saga) -> None:
    saga.provider.unhealthy_zones = {"eu-3/a"}
    handle = await saga.start(saga.plan("v2", on_failure="pause"))
    await wait_for(handle, "paused")
    await handle.execute_update(ReleaseWorkflow.rollback, Decision(by="ned", reason="no"))
    assert (await handle.result()).status == "rolled-back"
    assert saga.restored_order() == ["eu-2", "eu-1"]
    for region in REGIONS:
        assert saga.serving(region) == {"v1": 100}


async def test_a_wave_may_lose_regions_within_its_budget(saga: Saga) -> None:
    plan = saga.plan("v2")
    waves = (plan.deploy.waves[0].model_copy(update={"regions": REGIONS, "max_failed_regions": 1}),)
    plan = plan.model_copy(update={"deploy": plan.deploy.model_copy(update={"waves": waves})})
    saga.provider.unhealthy_zones = {"eu-2/b"}
    result = await (await saga.start(plan)).result()
    assert result.status == "partial"
    assert saga.serving("eu-1") == {"v2": 100} and saga.serving("eu-3") == {"v2": 100}
    assert saga.serving("eu-2") == {"v1": 100} and saga.running("eu-2") == {"v1"}


async def test_a_second_release_waits_for_the_first_and_a_no_queue_one_is_refused(
    saga: Saga,
) -> None:
    first = await saga.start(saga.plan("v2", bakes=(3600, 0, 0)))
    await wait_phase(first, "bake", wave_region="eu-1")
    second = await saga.start(saga.plan("v3"))
    await wait_for(second, "queued")
    progress = await second.query(ReleaseWorkflow.progress)
    assert "another release of hello to dev to finish" in progress.waiting_for
    refused = await saga.start(saga.plan("v4").model_copy(update={"queue": False}))
    with pytest.raises(WorkflowFailureError) as failure:
        await refused.result()
    assert f"dev is busy with {first.id}; not queued (--no-queue)" in str(failure.value.cause)
    assert (await first.result()).status == "succeeded"
    assert (await second.result()).status == "succeeded"
    for region in REGIONS:
        assert saga.serving(region) == {"v3": 100}


async def test_continue_as_new_keeps_the_compensation_and_the_log(saga: Saga) -> None:
    plan = saga.plan("v2", bakes=(0, 3600, 0)).model_copy(update={"history_limit": 30})
    started = await saga.start(plan)
    # A handle without a run id follows the release into the runs it continues as.
    handle = saga.env.client.get_workflow_handle_for(ReleaseWorkflow.run, started.id)
    await wait_phase(handle, "bake", wave_region="eu-2")
    description = await handle.describe()
    assert description.run_id != started.first_execution_run_id, "it continued as new"
    await handle.execute_update(ReleaseWorkflow.rollback, Decision(by="oz", reason="after CAN"))
    assert (await handle.result()).status == "rolled-back"
    assert saga.restored_order() == ["eu-2", "eu-1"], "the compensation crossed the runs"
    progress = await handle.query(ReleaseWorkflow.progress)
    messages = [e.message for e in progress.events]
    assert any("continuing as new" in m for m in messages), messages
    assert any("wave 1: switching eu-1" in m for m in messages), "the log survives"
    for region in REGIONS:
        assert saga.serving(region) == {"v1": 100}
