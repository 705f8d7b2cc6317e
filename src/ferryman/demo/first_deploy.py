"""Levels 1, 4 and 6: the shop's first release to production, approved by a person.

Production is three regions of three zones each, crossed in three waves
(us-east, then eu-west, then ap-south) with a bake after each. Nothing runs
there yet, so each region starts both services' instances in every zone,
waits until they are healthy and routes to them (level 1, nine times over).
The build is the one just made: every node comes from the cache. Once it is
live, the shop's users start: traffic runs through every router from here to
the end of the story.
"""

from __future__ import annotations

from ferryman.demo.context import Demo
from ferryman.demo.release import release
from ferryman.demo.traffic import WorldTraffic
from ferryman.demo.world import SERVICES, served, show_served
from ferryman.errors import FerrymanError


async def first_deploy(demo: Demo) -> None:
    """Release v1 to production through its gate, then start the users."""
    demo.chapter("levels 1, 4 and 6: the first release to production, through its gate")
    demo.say(
        "production: us-east, eu-west and ap-south × zones a, b, c; waves one region at a time,"
        f" a {demo.options.bake} bake after each (`ferryman plan {demo.workspace.spec} --env prod`)"
    )
    released = await release(demo, "first", first_gate=True)
    if released.result is None or released.result.status != "succeeded":
        raise FerrymanError(f"{released.release_id} did not succeed: {released.error}")
    figures = demo.findings.release("first")
    routers = released.result.router_urls
    demo.say(
        f"\n[green]live[/] in {figures.seconds:.0f}s: build {figures.cached} of"
        f" {figures.cached + figures.built} nodes from the cache; approved by"
        f" {figures.approved_by} after {figures.gate_wait_s:.1f}s at the gate;"
        f" {figures.instances_started} instances started (2 services × 2 replicas × 9 zones)"
    )
    show_served(demo, routers, await served(routers))
    demo.traffic = WorldTraffic(routers=dict(routers), services=SERVICES, rps=demo.options.rps)
    demo.traffic.start()
    demo.say(
        f"users start: {demo.options.rps:g} requests/s to each service through every router,"
        " until the end (`ferryman traffic --env prod` does the same by hand)"
    )
