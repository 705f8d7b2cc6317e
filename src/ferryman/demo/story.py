"""The story, in order: build, first release, a good release, a bad one, and the world after.

Each chapter is a module of its own; this one only orders them, keeps the
users' traffic running from the first deploy to the end, and asks the world
what it serves once the story is over.
"""

from __future__ import annotations

import time

from rich.console import Console

from ferryman.demo.build_step import build_shop
from ferryman.demo.context import Demo
from ferryman.demo.findings import Findings
from ferryman.demo.first_deploy import first_deploy
from ferryman.demo.options import DemoOptions
from ferryman.demo.rollback import bad_release
from ferryman.demo.rollout import good_release
from ferryman.demo.workspace import Workspace
from ferryman.demo.world import served, show_served
from ferryman.devstack import StackInfo
from ferryman.temporal.client.connection import Connection, connect


async def tell(
    info: StackInfo, options: DemoOptions, workspace: Workspace, console: Console
) -> Findings:
    """Run every chapter on the running stack; returns what was measured."""
    client = await connect(Connection.from_env(info.temporal_address, info.namespace), wait_s=10)
    demo = Demo(info, options, console, client, workspace, Findings())
    try:
        await build_shop(demo)
        await first_deploy(demo)
        await good_release(demo)
        await bad_release(demo)
    finally:
        if demo.traffic is not None:
            await demo.traffic.stop()
    await the_world_after(demo)
    return demo.findings


async def the_world_after(demo: Demo) -> None:
    """Ask every router what it serves now, and count what the users saw all along."""
    demo.chapter("the world after")
    findings = demo.findings
    assert demo.traffic is not None
    routers = demo.traffic.routers
    findings.served = await served(routers)
    show_served(demo, routers, findings.served)
    good = findings.good_versions
    wrong = {
        f"{region} {service}: {', '.join(versions)}"
        for region, services in findings.served.items()
        for service, versions in services.items()
        if versions != [good.get(service)]
    }
    if wrong:
        demo.say(f"  [red]not on the good version[/]: {'; '.join(sorted(wrong))}")
    else:
        demo.say(f"  [green]every region serves the good version[/] ({', '.join(good.values())})")
    findings.requests = sum(s.requests for s in demo.traffic.stats.values())
    findings.failed = sum(s.errors for s in demo.traffic.stats.values())
    demo.say(
        f"  users sent {findings.requests} requests in {_minutes(demo)}:"
        f" {findings.failed} failed, all of them answers of the bad version"
        if findings.failed == findings.rollback.bad_failed
        else f"  users sent {findings.requests} requests: {findings.failed} failed"
        f" ({findings.rollback.bad_failed} by the bad version)"
    )


def _minutes(demo: Demo) -> str:
    assert demo.traffic is not None
    if not demo.traffic.timeline:
        return "no time"
    seconds = time.time() - demo.traffic.timeline[0].at
    return f"{seconds:.0f}s"
