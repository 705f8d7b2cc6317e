"""Steering a release at the edges: while it waits in the queue, and while a failure rolls it back.

Time-skipping server, in-memory provider (workflow logic only; the CLI and the
real platform are exercised in tests/integration/test_rollout_cli.py).
"""

from __future__ import annotations

import asyncio

import pytest
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError

from ferryman.plan.models import GatePlan
from ferryman.platform.models import RouteTable
from ferryman.temporal.models.region import Decision
from ferryman.temporal.workflows.release import ReleaseWorkflow

from .conftest import REGIONS, Saga, wait_phase
from .test_release_rollout import wait_for


async def test_an_aborted_queued_release_deploys_nothing(saga: Saga) -> None:
    first = await saga.start(saga.plan("v2", bakes=(3600, 0, 0)))
    await wait_phase(first, "bake", wave_region="eu-1")
    second = await saga.start(saga.plan("v3"))
    await wait_for(second, "queued")
    answer = await second.execute_update(
        ReleaseWorkflow.abort, Decision(by="pat", reason="superseded")
    )
    assert "aborted (asked by pat)" in answer
    assert (await second.result()).status == "aborted"
    assert (await first.result()).status == "succeeded"
    for region in REGIONS:
        assert saga.serving(region) == {"v2": 100}, "the aborted release switched nothing"
        assert saga.running(region) == {"v2"}


async def test_a_queued_release_paused_stops_before_its_first_wave(saga: Saga) -> None:
    first = await saga.start(saga.plan("v2", bakes=(3600, 0, 0)))
    await wait_phase(first, "bake", wave_region="eu-1")
    second = await saga.start(saga.plan("v3"))
    await wait_for(second, "queued")
    await second.execute_update(ReleaseWorkflow.pause, Decision(by="quinn", reason="freeze"))
    assert (await first.result()).status == "succeeded"
    await wait_for(second, "paused")
    assert saga.serving("eu-1") == {"v2": 100}, "paused before its first wave"
    await second.execute_update(ReleaseWorkflow.resume, Decision(by="quinn", reason="thaw"))
    assert (await second.result()).status == "succeeded"
    for region in REGIONS:
        assert saga.serving(region) == {"v3": 100}


async def test_abort_and_pause_are_refused_while_a_failure_rolls_back(
    saga: Saga, monkeypatch: pytest.MonkeyPatch
) -> None:
    saga.provider.unhealthy_zones = {"eu-3/a"}
    held = asyncio.Event()
    set_traffic = saga.provider.set_traffic

    async def hold_restores(key: str, region: str, routes: RouteTable) -> int:
        if "/restore/" in key:
            await held.wait()
        return await set_traffic(key, region, routes)

    monkeypatch.setattr(saga.provider, "set_traffic", hold_restores)
    handle = await saga.start(saga.plan("v2"))
    await wait_for(handle, "rolling-back")
    for update in (ReleaseWorkflow.abort, ReleaseWorkflow.pause):
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await asyncio.wait_for(
                handle.execute_update(update, Decision(by="rae", reason="stop")), timeout=10
            )
        assert "is past" in str(refused.value.cause) and "rolling-back" in str(refused.value.cause)
    held.set()
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()
    assert "restored eu-2, eu-1" in str(failure.value.cause)
    assert saga.restored_order() == ["eu-2", "eu-1"]


async def test_abort_at_a_gate_stops_there_and_keeps_what_switched(saga: Saga) -> None:
    gate = GatePlan(name="go-on", at="before-wave", wave=2)
    handle = await saga.start(saga.plan("v2", gates=(gate,)))
    await wait_for(handle, "awaiting-approval")
    answer = await asyncio.wait_for(
        handle.execute_update(ReleaseWorkflow.abort, Decision(by="sam", reason="fix forward")),
        timeout=30,
    )
    assert "aborted (asked by sam)" in answer
    assert (await handle.result()).status == "aborted"
    assert saga.serving("eu-1") == {"v2": 100} and saga.running("eu-1") == {"v2"}
    for region in ("eu-2", "eu-3"):
        assert saga.serving(region) == {"v1": 100} and saga.running(region) == {"v1"}


async def test_a_restored_regions_cleanup_does_not_hold_back_the_next_regions_routes(
    saga: Saga, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Routes go back wave after wave; retiring the new version in a restored region comes after."""
    saga.provider.unhealthy_zones = {"eu-3/a"}
    held = asyncio.Event()
    retire = saga.provider.retire

    async def hold_eu2_cleanup(key: str, region: str, zone: str, service: str, v: str) -> int:
        if region == "eu-2" and "/restore/" in key:
            await held.wait()
        return await retire(key, region, zone, service, v)

    monkeypatch.setattr(saga.provider, "retire", hold_eu2_cleanup)
    handle = await saga.start(saga.plan("v2"))
    for _ in range(800):
        if saga.restored_order() == ["eu-2", "eu-1"]:
            break
        await asyncio.sleep(0.025)
    assert saga.restored_order() == ["eu-2", "eu-1"], "eu-1's routes waited for eu-2's cleanup"
    assert saga.serving("eu-1") == {"v1": 100} and saga.serving("eu-2") == {"v1": 100}
    assert "v2" in saga.running("eu-2"), "eu-2's v2 is retired after every region's routes"
    progress = await handle.query(ReleaseWorkflow.progress)
    assert progress.phase == "rolling-back", "the release waits for its cleanups"
    held.set()
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()
    assert str(failure.value.cause).endswith("restored eu-2, eu-1")
    for region in REGIONS:
        assert saga.serving(region) == {"v1": 100} and saga.running(region) == {"v1"}
