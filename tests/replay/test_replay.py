"""Saved histories of the example releases replay on the current workflow code.

A change to a workflow that alters the commands it issues for a history it
already wrote (an activity more, less or moved, a timer, another child) breaks
every release running while it is deployed. Each fixture in ``histories/``
(recorded by ``python -m tests.replay.record``) is replayed here with ferryman's
workflows and data converter, as the worker registers them; any replay failure
fails the test. The second half proves that replay would catch such a change:
an altered copy of each workflow fails on the same history an unaltered copy of
it passes. See docs/versioning.md for what to do when a replay fails.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from ferryman.temporal.converter import DATA_CONVERTER
from ferryman.temporal.worker.workers import WORKFLOWS

from . import altered
from .fixtures import HISTORIES, fixture_paths, load, parse_name, role_of, workflow_type_of
from .scenarios import SCENARIOS

CLOSED = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
}


async def replay_failure(history: WorkflowHistory, workflows: Sequence[type]) -> Exception | None:
    """Replay ``history`` with ``workflows`` registered as the worker does; the failure, if any."""
    replayer = Replayer(workflows=list(workflows), data_converter=DATA_CONVERTER)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    return result.replay_failure


def registered_with(replacement: type) -> list[type]:
    """The worker's workflows with ``replacement`` in place of the workflow it subclasses."""
    swapped = [replacement if issubclass(replacement, w) else w for w in WORKFLOWS]
    assert replacement in swapped, f"{replacement.__name__} replaces none of the worker's workflows"
    return swapped


def history(name: str) -> WorkflowHistory:
    return load(HISTORIES / name)


# --- every saved history replays -----------------------------------------------------------------


@pytest.mark.parametrize("path", fixture_paths(), ids=lambda path: path.stem)
async def test_saved_history_replays_on_the_current_workflows(path: Path) -> None:
    failure = await replay_failure(load(path), WORKFLOWS)
    assert failure is None, (
        f"{path.name} no longer replays: {failure}\n"
        "A release running when this code is deployed would fail the same way; "
        "see docs/versioning.md (workflow.patched)."
    )


def test_the_fixtures_cover_every_scenario_and_every_workflow() -> None:
    paths = fixture_paths()
    current = {scenario for scenario, label, _ in map(parse_name, paths) if not label}
    assert current == set(SCENARIOS), "re-record: python -m tests.replay.record"
    recorded = {workflow_type_of(load(path)) for path in paths}
    registered = {str(workflow._Definition.must_from_class(w).name) for w in WORKFLOWS}
    assert registered <= recorded, f"no history of {sorted(registered - recorded)}"


@pytest.mark.parametrize("path", fixture_paths(), ids=lambda path: path.stem)
def test_a_fixture_is_a_whole_run_named_for_its_workflow(path: Path) -> None:
    saved = load(path)
    assert saved.events[-1].event_type in CLOSED, f"{path.name} stops before its workflow ended"
    group, _, role = path.name.removesuffix(".json").partition(".")
    release = load(HISTORIES / f"{group}.release.json")
    assert role_of(saved.workflow_id, release.workflow_id) == role


def kinds(name: str) -> list[int]:
    return [event.event_type for event in history(name).events]


def activity_types(name: str) -> set[str]:
    return {
        event.activity_task_scheduled_event_attributes.activity_type.name
        for event in history(name).events
        if event.HasField("activity_task_scheduled_event_attributes")
    }


def test_the_fixtures_hold_the_paths_they_are_named_for() -> None:
    accepted = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    failed = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED
    assert kinds("saga.release.json")[-1] == failed
    assert kinds("saga.region-eu-3.json")[-1] == failed, "the third wave's region fails"
    assert (HISTORIES / "saga.region-eu-2-restore.json").exists()
    assert accepted in kinds("rollback.release.json"), "the rollback Update"
    assert accepted in kinds("gate.release.json"), "the go-live gate's decision"
    assert accepted in kinds("gate.region-eu-1.json"), "the promotion gate's decision"
    assert "ferryman.analyze" in activity_types("canary.region-eu-1.json")
    assert "ferryman.build_node" in activity_types("plain.build.json"), "a real build"
    assert "ferryman.retire" in activity_types("canary.region-eu-1-finalize.json")


# --- and replay catches a change that is not deterministic --------------------------------------

ALTERATIONS = [
    pytest.param(
        altered.AlteredRelease,
        altered.AsIsRelease,
        "plain.release.json",
        r"Activity machine does not handle this event: .*StartChildWorkflowExecutionInitiated",
        id="lock-before-build",
    ),
    pytest.param(
        altered.AlteredBuild,
        altered.AsIsBuild,
        "plain.build.json",
        r"Activity type of scheduled event 'ferryman\.probe_cache' does not match "
        r"activity type of activity command 'ferryman\.build_node'",
        id="no-cache-probe",
    ),
    pytest.param(
        altered.AlteredRegionDeploy,
        altered.AsIsRegionDeploy,
        "canary.region-eu-1-finalize.json",
        r"Timer machine does not handle this event: .*ActivityTaskScheduled",
        id="timer-before-retire",
    ),
]


@pytest.mark.parametrize(("changed", "unchanged", "name", "mismatch"), ALTERATIONS)
async def test_a_changed_workflow_fails_replay_where_the_unchanged_one_passes(
    changed: type, unchanged: type, name: str, mismatch: str
) -> None:
    saved = history(name)
    assert await replay_failure(saved, registered_with(unchanged)) is None
    failure = await replay_failure(saved, registered_with(changed))
    assert isinstance(failure, workflow.NondeterminismError), repr(failure)
    assert re.search(mismatch, str(failure)), f"failed for another reason: {failure}"


async def test_the_same_change_behind_a_patch_replays_every_saved_release() -> None:
    releases = [path for path in fixture_paths() if path.name.endswith(".release.json")]
    assert releases
    for path in releases:
        assert await replay_failure(load(path), registered_with(altered.AlteredRelease)), path.name
        assert await replay_failure(load(path), registered_with(altered.PatchedRelease)) is None
