"""Build history on disk: one JSON record per finished build, newest last.

``$FERRYMAN_HOME/builds/<stamp>-<build id>.json`` holds the build id, the spec,
when it ran and the ``BuildResult`` as JSON. The CLI writes a record after each
build (a release's build is recorded from Temporal the next time the history is
read) and reads them back for ``ferryman builds``, for expected durations in plans (the last
measured duration of each node) and for the artifacts of nodes that
``--changed-since`` leaves out.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ferryman.build.artifacts import atomic_write_bytes


@dataclass(frozen=True)
class BuildRecord:
    """One finished build.

    Attributes:
        build_id: The workflow id.
        system: The spec's system.
        spec_path: The spec file, absolute.
        started: RFC 3339 start time.
        finished: RFC 3339 end time.
        result: The ``BuildResult`` as JSON data.
    """

    build_id: str
    system: str
    spec_path: str
    started: str
    finished: str
    result: dict[str, Any]

    @property
    def run_id(self) -> str:
        """The run the build's step logs are filed under (the release id for a release)."""
        return str(self.result.get("run_id") or self.build_id)

    @property
    def nodes(self) -> dict[str, dict[str, Any]]:
        """Node id → its result as JSON data."""
        nodes: dict[str, dict[str, Any]] = self.result.get("nodes", {})
        return nodes


def save_record(root: Path, record: BuildRecord) -> Path:
    """Write ``record`` under ``root``; returns its path."""
    stamp = record.finished.replace(":", "").replace("-", "")
    name = re.sub(r"[^A-Za-z0-9.-]+", "_", record.build_id).strip("_")
    path = root / f"{stamp}-{name}.json"
    atomic_write_bytes(path, json.dumps(record.__dict__, indent=2).encode())
    return path


def load_records(root: Path, system: str | None = None) -> list[BuildRecord]:
    """Every readable record under ``root``, oldest first, optionally for one system.

    A build recorded twice (by the CLI that ran it and from Temporal) counts once,
    at its latest record.
    """
    records: dict[str, BuildRecord] = {}
    for path in sorted(root.glob("*.json")):
        try:
            record = BuildRecord(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            continue
        if system is None or record.system == system:
            records.pop(record.build_id, None)
            records[record.build_id] = record
    return list(records.values())


def last_durations(records: list[BuildRecord]) -> dict[str, float]:
    """Node id → its last measured build duration (cache hits and failures do not count)."""
    durations: dict[str, float] = {}
    for record in records:
        for node_id, node in record.nodes.items():
            if node.get("status") == "succeeded" and not node.get("cached"):
                durations[node_id] = float(node.get("duration_s", 0.0))
    return durations


def last_artifacts(records: list[BuildRecord]) -> dict[str, str]:
    """Node id → the bundle digest of its last successful build."""
    artifacts: dict[str, str] = {}
    for record in records:
        for node_id, node in record.nodes.items():
            artifact = node.get("artifact")
            if node.get("status") == "succeeded" and artifact:
                artifacts[node_id] = str(artifact["digest"])
    return artifacts
