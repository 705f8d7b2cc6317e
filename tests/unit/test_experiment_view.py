"""How experiments and analyses are shown: report rows, the plot, the status lines."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from rich.console import Console

from ferryman.analysis.models import Judgement, SampleSummary
from ferryman.cli.experiment import default_plot
from ferryman.cli.experiment_view import experiments, plot, rows
from ferryman.cli.live import render_analysis
from ferryman.temporal.client.experiments import ExperimentLook
from ferryman.temporal.models.region import RegionProgress, ServiceView

START = datetime(2026, 1, 1, 12, 0, 0)


def look(seconds: float, verdict: str, treatment: tuple[int, int]) -> ExperimentLook:
    judgement = Judgement(
        metric="conversion",
        judge="experiment",
        verdict=verdict,
        canary=SampleSummary(n=treatment[0], events=treatment[1], mean=treatment[1] / treatment[0]),
        baseline=SampleSummary(n=500, events=50, mean=0.1),
        statistics={"difference": 0.2, "lift": 2.0, "lower": 0.15, "upper": 0.25},
        reason="v2 converts better than v1",
    )
    return ExperimentLook(
        region="eu-1",
        service="checkout",
        control="v1",
        treatment="v2",
        at=START + timedelta(seconds=seconds),
        judgement=judgement,
    )


def test_rows_show_both_variants_with_the_effect_and_the_winner() -> None:
    table = rows([look(0, "continue", (100, 25)), look(2, "pass", (500, 150))])
    assert table[0] == {
        "variant": "v1",
        "role": "control",
        "exposure": "500",
        "conversions": "50",
        "rate": "10.0%",
        "effect": "—",
        "interval": "",
        "decision": "",
    }
    assert table[1]["effect"] == "+200.0%"
    assert table[1]["interval"] == "[+15.00, +25.00] pp"
    assert table[1]["decision"] == "winner"
    lost = rows([look(0, "fail", (500, 10))])
    assert (lost[0]["decision"], lost[1]["decision"]) == ("winner", "worse")


def test_the_plot_is_a_png_or_an_svg(tmp_path: Path) -> None:
    groups = experiments([look(2, "pass", (500, 150)), look(0, "continue", (100, 25))])
    assert [one.at for one in groups[("eu-1", "checkout")]] == sorted(
        one.at for one in groups[("eu-1", "checkout")]
    )
    png = plot(groups, tmp_path / "ab.png", "release/shop/prod/7")
    assert png.read_bytes().startswith(b"\x89PNG")
    svg = plot(groups, tmp_path / "ab.svg", "release/shop/prod/7")
    assert "<svg" in svg.read_text()


def test_the_default_plot_name_comes_from_the_release() -> None:
    assert default_plot("release/shop/prod/7") == Path("experiment-release-shop-prod-7.png")


def test_status_shows_the_step_and_the_latest_verdict() -> None:
    service = ServiceView(
        service="web",
        version="v2",
        phase="analyze",
        step="analysis at 5%: v2 vs v1.baseline (error-rate)",
        analysis="error-rate/errors fail: e=136 ≥ 1/α=100: harm",
    )
    region = RegionProgress(region="eu-1", phase="deploying", services=(service,))
    console = Console(width=200, record=True)
    for line in render_analysis([region]):
        console.print(line)
    text = console.export_text()
    assert "eu-1 web: analysis at 5%" in text and "harm" in text
