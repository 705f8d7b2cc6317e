"""How an A/B experiment is shown: a table per experiment and a plot of its looks over time.

Plain functions of :class:`~ferryman.temporal.client.experiments.ExperimentLook`
lists, so they are tested without Temporal. The plot is drawn with matplotlib
(no display needed: the Agg backend), as PNG or SVG by the file's extension.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ferryman.analysis.models import Judgement, percent
from ferryman.temporal.client.experiments import ExperimentLook

COLUMNS = ("variant", "role", "exposure", "conversions", "rate", "effect", "interval", "decision")


def experiments(looks: Sequence[ExperimentLook]) -> dict[tuple[str, str], list[ExperimentLook]]:
    """Looks grouped by (region, service), each group oldest first."""
    groups: dict[tuple[str, str], list[ExperimentLook]] = {}
    for look in sorted(looks, key=lambda one: one.at):
        groups.setdefault((look.region, look.service), []).append(look)
    return groups


def decision(judgement: Judgement, control: str, treatment: str) -> tuple[str, str]:
    """The decision shown on the control's and the treatment's rows."""
    verdict = judgement.verdict
    if verdict == "pass":
        return "", "winner"
    if verdict == "fail":
        return "winner", "worse"
    if verdict == "inconclusive":
        return "", "no difference (held for a human)"
    if verdict == "no-data":
        return "", "no data"
    return "", "running"


def rows(looks: Sequence[ExperimentLook]) -> list[dict[str, str]]:
    """The table of one experiment from its latest look: control first, then the treatment."""
    last = looks[-1]
    judgement = last.judgement
    stats = judgement.statistics
    control_decision, treatment_decision = decision(judgement, last.control, last.treatment)
    lift = stats.get("lift")
    lower, upper = stats.get("lower"), stats.get("upper")
    interval = (
        f"[{lower * 100:+.2f}, {upper * 100:+.2f}] pp"
        if lower is not None and upper is not None
        else ""
    )
    sides = (
        (last.control, "control", judgement.baseline),
        (last.treatment, "treatment", judgement.canary),
    )
    table = []
    for (name, role, summary), shown in zip(
        sides, (control_decision, treatment_decision), strict=True
    ):
        table.append(
            {
                "variant": name,
                "role": role,
                "exposure": f"{summary.n:,}",
                "conversions": f"{summary.events or 0:,}",
                "rate": percent(summary.mean),
                "effect": "—"
                if role == "control"
                else ("n/a" if lift is None else f"{lift * 100:+.1f}%"),
                "interval": "" if role == "control" else interval,
                "decision": shown,
            }
        )
    return table


def plot(groups: dict[tuple[str, str], list[ExperimentLook]], path: Path, title: str) -> Path:
    """Save the conversion rate of each variant over time, and the difference with its interval.

    One column of two panels per experiment: the variants' cumulative conversion
    rates, then treatment − control with its confidence interval.

    Returns:
        ``path``, written as PNG or SVG by its extension.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    count = max(len(groups), 1)
    figure, axes = plt.subplots(
        2, count, figsize=(max(8.0, 6.5 * count), 6), squeeze=False, sharex="col"
    )
    for column, ((region, service), looks) in enumerate(groups.items()):
        start = looks[0].at
        seconds = [(look.at - start).total_seconds() for look in looks]
        rates, differences = axes[0][column], axes[1][column]
        for side, name in (("baseline", looks[0].control), ("canary", looks[0].treatment)):
            values = [_rate(getattr(look.judgement, side).mean) for look in looks]
            rates.plot(seconds, values, marker="o", markersize=3, label=name)
        rates.set_ylabel("conversion rate (%)")
        rates.set_title(f"{region} / {service}")
        rates.legend(loc="best")
        rates.grid(alpha=0.3)
        diff = [_rate(look.judgement.statistics.get("difference")) for look in looks]
        low = [_rate(look.judgement.statistics.get("lower")) for look in looks]
        high = [_rate(look.judgement.statistics.get("upper")) for look in looks]
        differences.plot(seconds, diff, color="black", label="treatment − control")
        differences.fill_between(seconds, low, high, alpha=0.25, label="interval")
        differences.axhline(0, color="grey", linewidth=0.8)
        differences.set_xlabel("seconds since the first look")
        differences.set_ylabel("difference (pp)")
        differences.legend(loc="best")
        differences.grid(alpha=0.3)
    figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path


def _rate(value: float | None) -> float:
    return float("nan") if value is None else value * 100
