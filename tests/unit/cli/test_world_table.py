"""``ferryman status RELEASE`` as a world table: each region's wave, state, what it serves, bake."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rich.console import Console

from ferryman.cli.live import bake_left, render_progress, render_waves, waiting_line
from ferryman.cli.release_view import PlatformRow
from ferryman.temporal.models.region import RegionProgress, ServiceView, ZoneView
from ferryman.temporal.models.release import ReleaseProgress

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
WAVES = (("us-east",), ("eu-west", "eu-north"), ("ap-south",))


def text(renderable: object) -> str:
    console = Console(width=300, record=True)
    console.print(renderable)
    return console.export_text()


def rows(table_text: str) -> list[list[str]]:
    return [line.split() for line in table_text.splitlines() if line.strip()]


def baking(**changes: object) -> ReleaseProgress:
    progress = ReleaseProgress(
        release_id="release/shop/prod/7",
        system="shop",
        environment="prod",
        phase="bake",
        version="v2",
        waves=WAVES,
        regions={
            "us-east": "switched",
            "eu-west": "switched",
            "eu-north": "switched",
            "ap-south": "pending",
        },
        bake_until=(NOW + timedelta(minutes=4, seconds=10)).isoformat(),
    )
    return progress.model_copy(update=changes)


def platform(region: str, *versions: str, weights: dict[str, int]) -> PlatformRow:
    return PlatformRow(region, "web", {"a": list(versions), "b": list(versions)}, weights)


def test_each_region_shows_its_wave_state_serving_traffic_and_the_bake_left() -> None:
    served = [
        platform("us-east", "v1", "v2", weights={"v2": 100}),
        platform("eu-west", "v1", "v2", weights={"v2": 100}),
        platform("eu-north", "v1", "v2", weights={"v2": 100}),
        platform("ap-south", "v1", weights={"v1": 100}),
    ]
    shown = rows(text(render_waves(baking(), platform=served, now=NOW)))
    assert shown[0] == ["wave", "region", "state", "step", "serving", "traffic", "bake"]
    assert shown[1] == ["1", "us-east", "switched", "v1,", "v2", "v2", "100%"]
    assert shown[2] == ["2", "eu-west", "switched", "v1,", "v2", "v2", "100%", "4m10s", "left"]
    assert shown[3] == ["eu-north", "switched", "v1,", "v2", "v2", "100%"]
    assert shown[4] == ["3", "ap-south", "pending", "v1", "v1", "100%"]


def test_without_the_platform_the_region_deploys_tell_what_they_serve() -> None:
    view = RegionProgress(
        region="ap-south",
        phase="deploying",
        services=(
            ServiceView(
                service="web",
                version="v2",
                phase="await-healthy",
                step="barrier (20s)",
                weights={"v1": 100},
                zones=(
                    ZoneView(zone="a", status="starting", versions=("v1", "v2")),
                    ZoneView(zone="b", status="healthy", versions=("v1", "v2")),
                ),
            ),
        ),
    )
    progress = baking(phase="deploy", bake_until="", regions={"ap-south": "deploying"})
    shown = text(render_waves(progress, [view], now=NOW))
    line = next(ln for ln in shown.splitlines() if "ap-south" in ln).split()
    assert line == ["3", "ap-south", "deploying", "barrier", "(20s)", "v1,", "v2", "v1", "100%"]
    first = next(ln for ln in shown.splitlines() if "us-east" in ln).split()
    assert first == ["1", "us-east", "pending", "-", "-"], "nothing known there: dashes"


def test_several_services_are_named_in_a_region() -> None:
    served = [
        PlatformRow("us-east", "catalog", {"a": ["c2"]}, {"c2": 100}),
        PlatformRow("us-east", "checkout", {"a": ["k1", "k2"]}, {"k1": 90, "k2": 10}),
    ]
    shown = text(render_waves(baking(), platform=served, now=NOW))
    assert "catalog c2; checkout k1, k2" in shown
    assert "catalog: c2 100%; checkout: k1 90%, k2 10%" in shown


def waits(progress: ReleaseProgress) -> str | None:
    line = waiting_line(progress, now=NOW)
    return None if line is None else line.plain


def test_what_the_release_waits_for_is_one_line() -> None:
    assert waits(baking()) == "waiting for wave 2's bake to end (in 4m10s); then wave 3"
    last = baking(regions={**baking().regions, "ap-south": "switched"})
    assert waits(last) == "waiting for wave 3's bake to end (in 4m10s); then the release commits"
    queued = baking(phase="queued", bake_until="", waiting_for="another release to finish")
    assert waits(queued) == "waiting for another release to finish"
    assert waits(baking(phase="deploy", bake_until="")) is None


def test_bake_left_reads_in_hours_minutes_or_seconds() -> None:
    def left(seconds: float) -> str:
        until = (NOW + timedelta(seconds=seconds)).isoformat()
        return bake_left(baking(bake_until=until), now=NOW)

    assert left(5400) == "1h30m left"
    assert left(59.2) == "1m00s left"
    assert left(12) == "12s left"
    assert left(-3) == "0s left", "a bake past its end (the worker is catching up) shows 0s"
    assert bake_left(baking(phase="deploy"), now=NOW) == ""


def test_the_release_view_includes_the_world_and_what_it_waits_for() -> None:
    shown = text(render_progress(baking(), platform=[platform("us-east", "v2", weights={})]))
    assert "ap-south" in shown and "waiting for wave 2's bake to end" in shown
    assert "no routes" in shown
