"""Levels 3, 5, 6 and 7: a good change of both services crosses the world under traffic.

Catalog goes blue-green: in each region the new colour starts in all three
zones at once, waits at a barrier until every zone is healthy, is smoke-tested,
and takes the traffic in one atomic route swap; the old colour stays warm until
the release ends. Checkout goes as a canary: a share of users first, next to a
fresh baseline of the old version, judged on the routers' own error counts,
then everyone. Region after region, wave after wave, with the users' requests
flowing throughout: the skew window (how long a region answered with both
catalog versions) and every failed request are measured on their timeline.
"""

from __future__ import annotations

import asyncio

from ferryman.demo.context import Demo
from ferryman.demo.judgements import show, verdicts
from ferryman.demo.measure import failed, skew_window_ms
from ferryman.demo.release import release
from ferryman.errors import FerrymanError

SETTLE_S = 1.0
"""Users keep going this long after a release, so the timeline covers its last switch."""


async def good_release(demo: Demo) -> None:
    """Change both services, release, and measure what the users saw."""
    demo.chapter("levels 3, 5, 6 and 7: blue-green and a canary, wave after wave, under traffic")
    options, shop = demo.options, demo.workspace
    shop.add_route("catalog", "catalog: sell teapots", '"kettle"]', '"kettle", "teapot"]')
    shop.add_route(
        "checkout", "checkout: carts say how many items", '{"cart": []}', '{"cart": [], "items": 0}'
    )
    demo.say(
        "committed a change to catalog and one to checkout; releasing both:\n"
        "  catalog blue-green — every zone of a region at once behind a barrier, one route swap\n"
        f"  checkout canary — {options.canary_weight}% of users next to a fresh baseline, judged"
        " on the routers' error counts (sequential test), then everyone"
    )
    assert demo.traffic is not None, "the users started with the first deploy"
    before = demo.findings.release("first").versions
    released = await release(demo, "good")
    await asyncio.sleep(SETTLE_S)
    if released.result is None or released.result.status != "succeeded":
        raise FerrymanError(f"{released.release_id} did not succeed: {released.error}")
    seen = demo.traffic.since(released.started)
    figures = demo.findings.rollout
    regions = [r.name for r in released.plan.deploy.regions]
    old, new = before["catalog"], released.versions["catalog"]
    figures.skew_ms = {r: skew_window_ms(seen, r, "catalog", old, new) for r in regions}
    figures.requests = len(seen)
    figures.failed = failed(seen)
    found = await verdicts(demo, released.release_id, regions)
    figures.verdicts = {v.region: f"{v.verdict}: {v.reason}" for v in found}
    demo.findings.good_versions = dict(released.versions)
    took = demo.findings.release("good").seconds
    skews = ", ".join(f"{r} {ms:.1f} ms" for r, ms in figures.skew_ms.items())
    demo.say(f"\n[green]released[/] in {took:.0f}s; the canary's verdicts:")
    show(demo, found)
    demo.say(
        f"  catalog's skew window (first {new} answer → last {old} answer): {skews}\n"
        f"  users: {figures.requests} requests during the release,"
        f" [{'green' if figures.failed == 0 else 'red'}]{figures.failed} failed[/]"
    )
