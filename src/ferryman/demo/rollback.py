"""Levels 6 and 7: a bad version, caught by the canary in wave 2 and rolled back world-wide.

The change breaks checkout in eu-west only (its settings there make 30 % of
requests fail; ``shoplib`` reads a ``regions`` key of ``behaviour.json``), as
region-specific bugs do. Wave 1 (us-east) takes it: its canary passes there,
rightly. Wave 2's canary in eu-west fails the analysis; eu-west puts itself
back in one route swap, and the release's saga restores us-east too, so the
whole world serves the good version again. Measured: the decision (when the
analysis failed, from the region deploy's record), the last region's routes
put back (the agent's event log), the last request the bad version answered
(the users' timeline), and how many requests it answered and failed (the load
generator's per-version counts).
"""

from __future__ import annotations

import asyncio

from ferryman.demo.context import ENV, Demo
from ferryman.demo.judgements import show, verdicts
from ferryman.demo.measure import last_answer, share
from ferryman.demo.release import Released, release
from ferryman.errors import FerrymanError

BROKEN_IN = "eu-west"
ERROR_RATE = 0.3
SETTLE_S = 1.0


async def restored_regions(demo: Demo, released: Released, after: float) -> list[tuple[str, float]]:
    """Regions whose routes the agent set after ``after``, each with its last time, in order."""
    last: dict[str, float] = {}
    for event in await demo.platform.events("routes.set"):
        where = event.detail.split()[0] if event.detail else ""
        environment, _, region = where.partition("/")
        if environment == ENV and after <= event.time <= released.ended:
            last[region] = event.time
    return sorted(last.items(), key=lambda item: item[1])


async def bad_release(demo: Demo) -> None:
    """Release a version that fails in eu-west; see it caught, rolled back and measured."""
    demo.chapter("levels 6 and 7: a bad version — the canary catches it, the saga rolls back")
    shop = demo.workspace
    shop.add_route("catalog", "catalog: sell mugs", '"teapot"]', '"teapot", "mugs"]')
    shop.behave(
        "checkout",
        "checkout: new payment settings (broken in eu-west)",
        regions={BROKEN_IN: {"error_rate": ERROR_RATE}},
    )
    demo.say(
        f"committed a checkout change that fails {ERROR_RATE:.0%} of requests in {BROKEN_IN}"
        " only (and a harmless catalog change); releasing it like the last one…"
    )
    assert demo.traffic is not None, "the users started with the first deploy"
    released = await release(demo, "bad")
    await asyncio.sleep(SETTLE_S)
    if released.result is not None:
        raise FerrymanError(f"{released.release_id} was not caught: {released.result.status}")
    regions = [r.name for r in released.plan.deploy.regions]
    found = await verdicts(demo, released.release_id, regions)
    failing = next((v for v in found if v.verdict == "fail"), None)
    if failing is None:
        raise FerrymanError(
            f"{released.release_id} failed, but not by its analysis: {released.error}"
        )
    figures = demo.findings.rollback
    bad = released.versions["checkout"]
    figures.bad_version = bad
    figures.caught_in = failing.region
    figures.reason = failing.reason
    figures.decision_at = failing.at
    back = await restored_regions(demo, released, failing.at)
    figures.restored = [region for region, _ in back]
    figures.region_back_ms = {region: (at - failing.at) * 1000 for region, at in back}
    figures.routes_back_ms = (back[-1][1] - failing.at) * 1000 if back else -1.0
    seen = demo.traffic.since(released.started)
    last = last_answer(seen, "checkout", bad)
    figures.last_bad_ms = max(0.0, (last - failing.at) * 1000) if last is not None else 0.0
    counted = demo.traffic.stats["checkout"].by_version.get(bad)
    figures.bad_answered = counted.requests if counted else 0
    figures.bad_failed = counted.errors if counted else 0
    figures.checkout_requests = share(seen, "checkout", bad).total
    there = [s for s in seen if s.region == failing.region]
    first_bad = min((s.at for s in there if s.version == bad), default=failing.at)
    judged = [s for s in there if first_bad <= s.at <= failing.at]
    caught = share(judged, "checkout", bad)
    figures.caught_region_answered = caught.answered
    figures.caught_region_requests = caught.total
    backs = ", ".join(f"{r} {ms:.0f} ms" for r, ms in figures.region_back_ms.items())
    demo.say(f"\n[red]caught[/]: {released.error}")
    show(demo, found)
    demo.say(
        f"  routes put back after the verdict (agent's event log): {backs or 'nowhere'};"
        f" the bad version's last answer {figures.last_bad_ms:.0f} ms after it\n"
        f"  the bad version {bad} answered {figures.bad_answered} of"
        f" {figures.checkout_requests} checkout requests ({figures.bad_failed} failed);"
        f" in {failing.region}, {caught.answered} of {caught.total} while it was judged"
        f" ({caught.percent:.0f}%)"
    )
