"""One production release, as ``ferryman release demo.yaml --env prod`` makes it.

The plan is compiled as the CLI's user (``alice``), the dev stack's worker is
asked to serve production's regions, the release starts, waits at its gate
(:mod:`ferryman.demo.gate`), and is followed live to its end. Its figures —
time, cache hits, who approved and how long the gate waited, the versions,
the instances the agent started — are read back from the workflows and the
agent, not from what the demo meant to do.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from ferryman.cli.live import follow
from ferryman.demo.context import ENV, Demo
from ferryman.demo.gate import audit, pass_gate
from ferryman.devstack import serve_regions_on_dev_stack
from ferryman.identity.config import cli_user, config_path, load_directory
from ferryman.plan.compile import compile_plan
from ferryman.plan.models import ReleasePlan
from ferryman.plan.version import derive_version
from ferryman.spec.load import load_spec
from ferryman.temporal.client.releases import start_release
from ferryman.temporal.client.views import build_result
from ferryman.temporal.models.release import ReleaseResult


@dataclass(frozen=True)
class Released:
    """How a release ended.

    Attributes:
        release_id: Its workflow id.
        plan: What it was asked to do.
        result: Its result; ``None`` when it failed.
        error: Why it failed ("" when it did not).
        started: When it was started (wall clock).
        ended: When it ended (wall clock).
        versions: Service → the version it released.
    """

    release_id: str
    plan: ReleasePlan
    result: ReleaseResult | None
    error: str
    started: float
    ended: float
    versions: dict[str, str]


def plan_as_the_cli_user(demo: Demo) -> ReleasePlan:
    """The demo spec's production plan, requested by the CLI's user (alice)."""
    config = Path(demo.info.config_path) if demo.info.config_path else config_path()
    directory = load_directory(config)
    spec_file = demo.workspace.spec
    return compile_plan(
        load_spec(spec_file, directory),
        spec_file,
        ENV,
        directory=directory,
        requested_by=cli_user(directory, config) or "",
    )


async def release(demo: Demo, role: str, *, first_gate: bool = False) -> Released:
    """Release the demo spec to production and record its figures as ``role``.

    Args:
        demo: The run.
        role: ``first``, ``good`` or ``bad``: where its figures go.
        first_gate: Explain the gate in full (the first time a person meets it).
    """
    plan = plan_as_the_cli_user(demo)
    serve_regions_on_dev_stack(plan)
    events = await demo.platform.events()
    mark = events[-1].seq if events else 0
    started = time.time()
    handle = await start_release(demo.client, plan)
    demo.say(
        f"\n$ ferryman release {demo.workspace.spec} --env {ENV}\n"
        f"[bold]▶ {handle.id}[/] requested by {plan.requested_by or 'nobody'}; building…"
    )
    await pass_gate(demo, handle.id, first_gate)
    result, error = await follow(demo.client, handle, demo.console)
    ended = time.time()
    build = await build_result(demo.client, handle.id)
    versions = {}
    if build is not None:
        for service in plan.deploy.services:
            versions[service.name] = derive_version(build.nodes[service.artifact_node].commit)
    figures = demo.findings.release(role)
    figures.release_id = handle.id
    figures.status = result.status if result is not None else "failed"
    figures.error = error
    figures.seconds = ended - started
    if build is not None:
        figures.built = sum(1 for n in build.nodes.values() if not n.cached)
        figures.cached = sum(1 for n in build.nodes.values() if n.cached)
    figures.approved_by, figures.gate_wait_s = await audit(demo, handle.id)
    figures.versions = versions
    started_here = await demo.platform.events("instance.started", since=mark)
    figures.instances_started = len(started_here)
    return Released(handle.id, plan, result, error, started, ended, versions)
