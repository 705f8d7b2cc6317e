"""Teams' steps in a release, on the time-skipping server with an in-memory provider.

Where each point runs (around waves, around each region's switch, before its
promotion, during a bake), the saga's order (compensations interleaved with
region restores, the last done first) and the failure policy (rollback or
pause). The team's worker runs in-process here; tests/integration serves the
same steps from a separate plain-temporalio process against the real agent.
"""

from __future__ import annotations

from typing import Any

import pytest
from temporalio import activity
from temporalio.client import WorkflowFailureError
from temporalio.worker import Worker

from ferryman.temporal.models.region import Decision
from ferryman.temporal.workflows.release import ReleaseWorkflow

from .conftest import REGIONS, Saga
from .step_helpers import Team, call, progress_until, step, team_worker


async def test_steps_run_around_waves_regions_and_the_promotion(saga: Saga) -> None:
    team = Team(saga.provider)
    steps = (
        step(team, "w2", "before-wave", 2),
        step(team, "a1", "after-wave", 1),
        step(team, "env", "before-environment"),
        step(team, "br", "before-region", regions=("eu-1",)),
        step(team, "pr", "promotion", regions=("eu-1",)),
        step(team, "ar", "after-region", regions=("eu-1",)),
    )
    start = len(saga.provider.calls)
    async with team_worker(saga.env.client, team):
        result = await (await saga.start(saga.plan("v2", steps=steps))).result()
    assert result.status == "succeeded"
    timeline = team.timeline(start)
    assert timeline == [
        "run env",
        "run br eu-1",
        "run pr eu-1",
        "route eu-1 switch",
        "run ar eu-1",
        "run a1",
        "run w2",
        "route eu-2 switch",
        "route eu-3 switch",
    ]
    views = {(v.name, v.region): v for v in result.steps}
    assert all(v.status == "succeeded" for v in views.values())
    assert views[("pr", "eu-1")].result == {"label": "run pr eu-1"}
    assert views[("env", "")].input == {"step": "env"}
    payload = next(p for p in team.payloads if p["step"] == "ar")
    assert payload["schema_version"] == 1 and payload["action"] == "run"
    assert payload["at"] == "after-region" and payload["region"] == "eu-1"
    assert payload["version"] == "v2" and payload["versions"] == {"web": "v2"}
    assert payload["key"].endswith("/eu-1/step/ar") and payload["system"] == "hello"


async def test_the_saga_undoes_steps_and_regions_the_last_done_first(saga: Saga) -> None:
    team = Team(saga.provider, fail={"run ar eu-2"})
    steps = (
        step(team, "env", "before-environment"),
        step(team, "a1", "after-wave", 1),
        step(team, "br", "before-region"),
        step(team, "ar", "after-region"),
        step(team, "quiet", "after-wave", 1, undo=False),
    )
    start = len(saga.provider.calls)
    async with team_worker(saga.env.client, team):
        handle = await saga.start(saga.plan("v2", steps=steps))
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
    message = str(failure.value.cause)
    assert "step ar in eu-2 failed: run ar eu-2 broke" in message
    assert "restored eu-1" in message
    timeline = team.timeline(start)
    assert timeline == [
        "run env",
        "run br eu-1",
        "route eu-1 switch",
        "run ar eu-1",
        "run a1",
        "run quiet",
        "run br eu-2",
        "route eu-2 switch",
        "run ar eu-2",
        # eu-2 puts itself back: its routes, then the step that had succeeded there.
        "route eu-2 rollback",
        "compensate br eu-2",
        # The release's saga: after wave 1's steps, eu-1 (its region steps around
        # its restore), then what ran before any region.
        "compensate a1",
        "compensate ar eu-1",
        "route eu-1 restore",
        "compensate br eu-1",
        "compensate env",
    ]
    for region in REGIONS:
        assert saga.serving(region) == {"v1": 100}
    undo = next(p for p in team.payloads if p["action"] == "compensate" and p["step"] == "a1")
    assert undo["compensates"] == {
        "step": "a1",
        "input": {"step": "a1"},
        "result": {"label": "run a1"},
    }
    assert undo["key"].endswith("/step/a1/1/compensate")
    progress = await handle.query(ReleaseWorkflow.progress)
    status = {(v.name, v.region): v.status for v in progress.steps}
    assert status[("ar", "eu-2")] == "failed" and status[("quiet", "")] == "succeeded"
    assert {status[k] for k in status if k not in (("ar", "eu-2"), ("quiet", ""))} == {
        "compensated"
    }
    messages = [e.message for e in progress.events]
    assert any(m.startswith("step a1 (after-wave 1) compensated") for m in messages)


async def test_a_rollback_update_compensates_like_a_failure(saga: Saga) -> None:
    team = Team(saga.provider)
    steps = (step(team, "env", "before-environment"), step(team, "ar", "after-region"))
    start = len(saga.provider.calls)
    async with team_worker(saga.env.client, team):
        handle = await saga.start(saga.plan("v2", bakes=(3600, 0, 0), steps=steps))
        await progress_until(handle, lambda p: p.phase == "bake", "the first bake")
        await handle.execute_update(ReleaseWorkflow.rollback, Decision(by="ann", reason="no"))
        assert (await handle.result()).status == "rolled-back"
    assert team.timeline(start)[-3:] == [
        "compensate ar eu-1",
        "route eu-1 restore",
        "compensate env",
    ]


async def test_a_bake_check_that_says_failed_rolls_the_wave_back(saga: Saga) -> None:
    team = Team(saga.provider)
    team.results["run judge"] = {"passed": False, "message": "error budget burnt"}
    checks = (step(team, "judge", "during-bake", 1, undo=False),)
    async with team_worker(saga.env.client, team):
        handle = await saga.start(saga.plan("v2", bakes=(3600, 0, 0), steps=checks))
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
    assert "step judge failed: error budget burnt" in str(failure.value.cause)
    assert saga.restored_order() == ["eu-1"]
    assert saga.serving("eu-1") == {"v1": 100}
    progress = await handle.query(ReleaseWorkflow.progress)
    (view,) = progress.steps
    assert view.at == "during-bake 1" and view.status == "failed"
    assert view.result == {"label": "run judge", "passed": False, "message": "error budget burnt"}


@pytest.mark.timeout(60)
async def test_a_verdict_ferryman_cannot_read_fails_the_step_instead_of_stalling(
    saga: Saga,
) -> None:
    # A Go worker's nil *bool: "passed": null. Not a boolean, so not a pass.
    team = Team(saga.provider)
    team.results["run judge"] = {"passed": None, "message": None}
    checks = (step(team, "judge", "during-bake", 1, undo=False),)
    async with team_worker(saga.env.client, team):
        handle = await saga.start(saga.plan("v2", bakes=(60, 0, 0), steps=checks))
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
    assert 'step judge failed: the result says "passed": null' in str(failure.value.cause)
    assert saga.serving("eu-1") == {"v1": 100}


@pytest.mark.timeout(60)
async def test_a_step_that_returns_no_json_fails_instead_of_stalling(saga: Saga) -> None:
    # A Go worker returning []byte: a binary/plain payload, which is no JSON value.
    team = Team(saga.provider)

    @activity.defn(name="raw-bytes")
    async def raw(payload: dict[str, Any]) -> bytes:
        return b"\x00done"

    blob = step(team, "blob", "before-environment", undo=False, via=call(team, "raw-bytes"))
    async with Worker(saga.env.client, task_queue=team.queue, activities=[raw]):
        handle = await saga.start(saga.plan("v2", steps=(blob,)))
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
    assert f"step blob failed: raw-bytes on {team.queue} returned bytes, not JSON" in str(
        failure.value.cause
    )
    assert saga.serving("eu-1") == {"v1": 100}


async def test_checks_run_during_every_bake_and_the_bake_waits_for_them(saga: Saga) -> None:
    team = Team(saga.provider)
    checks = (step(team, "judge", "during-bake", undo=False),)
    async with team_worker(saga.env.client, team):
        handle = await saga.start(saga.plan("v2", bakes=(60, 0, 60), steps=checks))
        result = await handle.result()
    assert result.status == "succeeded"
    assert team.calls() == ["run judge", "run judge", "run judge"]
    assert [v.at for v in result.steps] == ["during-bake 1", "during-bake 2", "during-bake 3"]
    waves = [p["wave"] for p in team.payloads]
    assert waves == [1, 2, 3]


async def test_with_on_failure_pause_a_failed_step_waits_and_resume_runs_it_again(
    saga: Saga,
) -> None:
    team = Team(saga.provider, fail_once={"run w2"})
    steps = (step(team, "w2", "before-wave", 2),)
    async with team_worker(saga.env.client, team):
        handle = await saga.start(saga.plan("v2", steps=steps, on_failure="pause"))
        progress = await progress_until(handle, lambda p: p.phase == "paused", "a pause")
        assert "step w2 failed: run w2 broke" in progress.waiting_for
        assert progress.regions["eu-1"] == "switched" and progress.regions["eu-2"] == "pending"
        await handle.execute_update(ReleaseWorkflow.resume, Decision(by="bo", reason="fixed"))
        result = await handle.result()
    assert result.status == "succeeded"
    assert team.calls() == ["run w2", "run w2"]
    assert [v.status for v in result.steps] == ["succeeded"]
