"""The canary analysis's verdicts, as each region deploy recorded them (its ``analysis`` query)."""

from __future__ import annotations

from dataclasses import dataclass

from ferryman.demo.context import Demo
from ferryman.demo.measure import epoch
from ferryman.temporal.client.views import region_analysis


@dataclass(frozen=True)
class Verdict:
    """One analysis run's end in one region.

    Attributes:
        region: Where.
        service: The canary's service.
        step: The step, e.g. ``analysis at 25%``.
        verdict: ``pass``, ``fail``, ``inconclusive``…
        reason: The judge's one line.
        at: When it was reached (wall clock).
    """

    region: str
    service: str
    step: str
    verdict: str
    reason: str
    at: float


async def verdicts(demo: Demo, release_id: str, regions: list[str]) -> list[Verdict]:
    """Every decided analysis run of the release, region by region, oldest first."""
    found: list[Verdict] = []
    for region, view in (await region_analysis(demo.client, release_id, regions)).items():
        for record in view.records:
            if record.key == "run" and record.judgement.verdict != "continue":
                found.append(
                    Verdict(
                        region=region,
                        service=record.service,
                        step=record.step,
                        verdict=record.judgement.verdict,
                        reason=record.judgement.reason,
                        at=epoch(record.at),
                    )
                )
    return sorted(found, key=lambda v: v.at)


def show(demo: Demo, found: list[Verdict]) -> None:
    """Print each verdict with its reason."""
    for v in found:
        colour = {"pass": "green", "fail": "red"}.get(v.verdict, "yellow")
        demo.say(f"  {v.region} {v.service} {v.step}: [{colour}]{v.verdict}[/] — {v.reason}")
