"""The release views: holds, the platform beside the record, Host hints, one failure line."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from ferryman.cli.live import render_progress
from ferryman.cli.release_view import (
    PlatformRow,
    differences,
    hold_notices,
    instance_log_hints,
    platform_table,
    served_lines,
)
from ferryman.temporal.models.region import RegionProgress, ServiceView, ZoneView
from ferryman.temporal.models.release import ReleaseEvent, ReleaseProgress, ReleaseResult


def text(renderable: object) -> str:
    console = Console(width=400, record=True)
    console.print(renderable)
    return console.export_text()


def held(phase: str = "awaiting-promotion", step: str = "await-promotion") -> RegionProgress:
    return RegionProgress.model_validate(
        {
            "region": "eu-west",
            "phase": phase,
            "services": [
                ServiceView(
                    service="web",
                    version="v2",
                    phase=step,
                    zones=(ZoneView(zone="a", status="healthy"),),
                )
            ],
        }
    )


def test_a_held_promotion_says_what_it_waits_for_and_how_to_continue() -> None:
    (notice,) = hold_notices("release/shop/staging/4", [held()])
    line = notice.plain
    assert line.startswith("⏸ waiting for promotion in eu-west: web v2 is healthy")
    assert "ferryman promote release/shop/staging/4 --region eu-west" in line
    assert "ferryman rollback release/shop/staging/4" in line
    (pause,) = hold_notices("r/1", [held("paused", "pause")])
    assert pause.plain.startswith("⏸ paused between traffic steps in eu-west")
    assert hold_notices("r/1", [held("deploying", "prepare")]) == []
    progress = ReleaseProgress(
        release_id="r/1", system="s", environment="e", phase="deploy", regions={}
    )
    assert "waiting for promotion" in text(render_progress(progress, [held()]))


def test_the_platform_beside_the_record_flags_a_difference() -> None:
    rows = [
        PlatformRow("eu-west", "web", {"a": ["p2"]}, {"p2": 100}, recorded={"p1": 100}),
        PlatformRow("eu-west", "api", {"a": ["q1"]}, {"q1": 100}, recorded={"q1": 100}),
    ]
    shown = text(platform_table(rows))
    assert "p1 100%  ≠ now" in shown and "q1 100%  ≠" not in shown
    assert differences(rows) == [
        "eu-west/web: the platform routes p2 100%, this release recorded p1 100% "
        "(changed since, e.g. by a later release)"
    ]


def test_a_failure_is_shown_once() -> None:
    error = "build failed: hello failed: step 'test' exited with code 1: boom"
    progress = ReleaseProgress(
        release_id="r/1",
        system="s",
        environment="e",
        phase="failed",
        events=(
            ReleaseEvent(at="2026-01-01T00:00:01", message="building 1 node(s)"),
            ReleaseEvent(at="2026-01-01T00:00:02", message=f"release failed: {error}"),
        ),
        error=error,
    )
    assert text(render_progress(progress)).count("exited with code 1") == 1
    assert "exited with code 1" not in text(render_progress(progress, show_error=False))


def test_a_router_of_several_services_names_the_host_header() -> None:
    result = ReleaseResult(
        release_id="r/1",
        version="v1",
        status="succeeded",
        router_urls={"local-1": "http://127.0.0.1:7500"},
    )
    lines = served_lines(result, {"local-1": {"web", "other-system-web"}})
    assert lines[0] == "local-1: http://127.0.0.1:7500  serves v1"
    assert "curl -H 'Host: other-system-web' http://127.0.0.1:7500/" in lines[1]
    assert served_lines(result, {"local-1": {"web"}}) == lines[:1]


def test_a_failed_health_check_points_at_the_instance_logs(tmp_path: Path) -> None:
    (tmp_path / "web-f32b43833f59-a-9237f0.log").write_text("starting\n\nboom: config missing\n")
    error = (
        "local-1: zone a: web f32b43833f59 0/1 instances healthy after 3s "
        "web-f32b43833f59-a-9237f0: nothing listening on port 46761"
    )
    assert instance_log_hints(error, tmp_path) == [
        f"log of web-f32b43833f59-a-9237f0: {tmp_path / 'web-f32b43833f59-a-9237f0.log'}",
        "  | starting",
        "  | boom: config missing",
    ]
