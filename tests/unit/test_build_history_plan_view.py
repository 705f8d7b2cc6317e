"""Build history records and what ``ferryman plan`` shows from them."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from ferryman.build.history import (
    BuildRecord,
    last_artifacts,
    last_durations,
    load_records,
    save_record,
)
from ferryman.cli.plan_view import dag_tree
from ferryman.plan.models import BuildNode, BuildPlan, StepPlan


def _record(build_id: str, finished: str, nodes: dict[str, dict[str, object]]) -> BuildRecord:
    return BuildRecord(
        build_id=build_id,
        system="shop",
        spec_path="/s/ferryman.yaml",
        started=finished,
        finished=finished,
        result={"run_id": build_id, "nodes": nodes},
    )


def test_history_keeps_the_last_measured_durations_and_artifacts(tmp_path: Path) -> None:
    lib = {"status": "succeeded", "duration_s": 2.0, "artifact": {"digest": "sha256:1"}}
    save_record(tmp_path, _record("build/shop/1", "2026-01-01T00:00:00Z", {"lib": lib}))
    hit = {
        "status": "succeeded",
        "cached": True,
        "duration_s": 0.01,
        "artifact": {"digest": "sha256:1"},
    }
    failed = {"status": "failed", "duration_s": 9.0}
    save_record(
        tmp_path, _record("build/shop/2", "2026-01-02T00:00:00Z", {"lib": hit, "ui": failed})
    )
    (tmp_path / "garbage.json").write_text("{")
    records = load_records(tmp_path, "shop")
    assert [r.build_id for r in records] == ["build/shop/1", "build/shop/2"]
    assert load_records(tmp_path, "other") == []
    assert last_durations(records) == {"lib": 2.0}
    assert last_artifacts(records) == {"lib": "sha256:1"}


def _node(nid: str, seconds: float | None, *needs: str) -> BuildNode:
    return BuildNode(
        id=nid,
        repo=nid,
        source="/s",
        steps=(StepPlan(name="b", run="true"),),
        outputs=("x",),
        needs=needs,
        expected_duration_s=seconds,
    )


def test_dag_view_shows_levels_critical_path_and_expected_duration() -> None:
    plan = BuildPlan(
        nodes=(_node("lib", 2.0), _node("api", 3.0, "lib"), _node("ui", 1.0)), max_parallel=1
    )
    console = Console(width=120, record=True)
    console.print(dag_tree(plan))
    text = console.export_text()
    assert "level 0" in text and "level 1" in text
    assert "critical path: lib → api (5.0s)" in text
    assert "expected duration: 6.0s" in text
    assert "api  needs lib  last 3.0s" in text
