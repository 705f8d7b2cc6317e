"""The saved workflow histories: where they live, how they are named and read back.

A fixture is exactly what ``WorkflowHistory.to_json()`` writes (the format of
``temporal workflow show --output json`` and of the Web UI's download), named
``<scenario>.<role>.json``: ``release``, ``build``, ``region-<name>[-<action>]``
or ``lock``. Histories kept from before a change (while a ``workflow.patched``
branch still serves them) are ``<scenario>@<label>.<role>.json``. The workflow
id a history ran under (children's ids derive from it, so replay needs it) is
read from its first event.
"""

from __future__ import annotations

import json
from pathlib import Path

from temporalio.client import WorkflowHistory

HISTORIES = Path(__file__).parent / "histories"


def fixture_paths(directory: Path = HISTORIES) -> list[Path]:
    """Every saved history, in a stable order."""
    return sorted(directory.glob("*.json"))


def load(path: Path) -> WorkflowHistory:
    """The history saved at ``path``, under the workflow id it ran with."""
    history = WorkflowHistory.from_json("", json.loads(path.read_text(encoding="utf-8")))
    return WorkflowHistory(workflow_id_of(history), history.events)


def workflow_id_of(history: WorkflowHistory) -> str:
    """The workflow id recorded in the history's ``WorkflowExecutionStarted`` event."""
    started = history.events[0].workflow_execution_started_event_attributes
    if not started.workflow_id:
        raise ValueError("the first event records no workflow id (a server before 1.21?)")
    return started.workflow_id


def workflow_type_of(history: WorkflowHistory) -> str:
    """The registered name of the workflow the history ran (``ferryman.Release``, …)."""
    return history.events[0].workflow_execution_started_event_attributes.workflow_type.name


def role_of(workflow_id: str, release_id: str) -> str:
    """The role of ``workflow_id`` in the tree of ``release_id``: ``release``, ``build``, …."""
    if workflow_id == release_id:
        return "release"
    if workflow_id.startswith("lock/"):
        return "lock"
    if not workflow_id.startswith(f"{release_id}/"):
        raise ValueError(f"{workflow_id} is not part of {release_id}")
    return workflow_id.removeprefix(f"{release_id}/").replace("/", "-")


def file_name(scenario: str, workflow_id: str, release_id: str) -> str:
    """The fixture file name of ``workflow_id``, recorded in ``scenario``."""
    return f"{scenario}.{role_of(workflow_id, release_id)}.json"


def parse_name(path: Path) -> tuple[str, str, str]:
    """``(scenario, label, role)`` of a fixture's file name (``label`` is "" unless kept)."""
    group, _, role = path.name.removesuffix(".json").partition(".")
    scenario, _, label = group.partition("@")
    return scenario, label, role


def kept_name(path: Path, label: str) -> str:
    """The name ``path`` is kept under, labelled ``label``, once its scenario is re-recorded."""
    scenario, _, role = parse_name(path)
    return f"{scenario}@{label}.{role}.json"
