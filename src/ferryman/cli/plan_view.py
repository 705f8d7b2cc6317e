"""Render a ``ReleasePlan`` for people (a rich tree) and for machines (JSON)."""

from __future__ import annotations

from rich.tree import Tree

from ferryman import dag
from ferryman.cli.steps_view import describe_step
from ferryman.deploy import strategies
from ferryman.deploy.steps import Recorded, Target, describe
from ferryman.plan.custom_steps import for_region
from ferryman.plan.models import BuildPlan, ReleasePlan, ServicePlan
from ferryman.plan.release import (
    Bake,
    BuildStep,
    CustomStep,
    DeployWave,
    Finalize,
    Gate,
    release_steps,
)
from ferryman.platform.models import Launch, RouteTable


def _weights(plan: BuildPlan) -> dict[str, float]:
    return {n.id: n.expected_duration_s for n in plan.nodes if n.expected_duration_s is not None}


def _seconds(value: float, measured: bool) -> str:
    return f"{value:.1f}s" if measured else f"{value:g} unit(s)"


def dag_tree(plan: BuildPlan) -> Tree:
    """The build DAG: nodes by level, the critical path and the expected duration.

    Durations come from past builds (``expected_duration_s``); without them every
    node weighs one unit.
    """
    graph = {node.id: node.needs for node in plan.nodes}
    weights = _weights(plan)
    measured = len(weights) == len(plan.nodes) and bool(plan.nodes)
    path, length = dag.critical_path(graph, weights)
    slots = plan.max_parallel
    expected = dag.simulate(graph, weights, slots)
    root = Tree(
        f"[bold]build DAG[/] {len(plan.nodes)} node(s), max parallel {slots or 'unlimited'}",
        highlight=False,
    )
    by_id = {node.id: node for node in plan.nodes}
    for depth, level in enumerate(dag.depth_levels(graph)):
        branch = root.add(f"level {depth}")
        for node_id in level:
            node = by_id[node_id]
            needs = f"  [dim]needs {', '.join(node.needs)}[/]" if node.needs else ""
            past = (
                f"  [dim]last {node.expected_duration_s:.1f}s[/]"
                if node.expected_duration_s is not None
                else ""
            )
            branch.add(f"{node_id}{needs}{past}")
    root.add(f"critical path: {' → '.join(path)} ({_seconds(length, measured)})")
    root.add(f"expected duration: {_seconds(expected, measured)}")
    return root


def command_line(text: str, limit: int = 60) -> str:
    """The first line of a command, marked when cut: ``mkdir -p dist … (+2 lines)``."""
    lines = [line for line in text.strip().splitlines() if line.strip()] or [""]
    first = lines[0]
    if len(first) > limit:
        first = first[:limit] + " …"
    elif len(lines) > 1:
        first += " …"
    return first + (f" (+{len(lines) - 1} line{'s' * (len(lines) > 2)})" if len(lines) > 1 else "")


def service_steps(service: ServicePlan, zones: tuple[str, ...]) -> tuple[str, str]:
    """A service's switch and finalize steps, as a region serving ``current`` would run them."""
    current = "current"
    recorded = Recorded(
        service=service.name,
        routes=RouteTable(service=service.name, weights={current: 100}),
        versions_by_zone={zone: [current] for zone in zones},
        launches={current: Launch(command=service.command, replicas=service.replicas)},
    )
    target = Target(
        service=service.name,
        version="new",
        launch=Launch(command=service.command, replicas=service.replicas),
        zones=zones,
        health_timeout_s=service.health.timeout_s,
        health_interval_s=service.health.interval_s,
    )
    rollout = strategies.rollout(service.strategy, recorded, target)
    return (
        " → ".join(describe(step) for step in rollout.switch),
        " → ".join(describe(step) for step in rollout.finalize) or "nothing",
    )


def plan_tree(plan: ReleasePlan) -> Tree:
    """The plan as a tree: build nodes with their steps, then the release's steps by wave."""
    version = plan.version or "(derived from the build)"
    root = Tree(
        f"[bold]release[/] {plan.system} → {plan.environment}  version {version}", highlight=False
    )
    deploy = plan.deploy
    for step in release_steps(deploy):
        if isinstance(step, BuildStep):
            build = root.add("[bold]build[/]")
            for node in plan.build.nodes:
                ref = f"@{node.ref}" if node.ref else ""
                branch = build.add(f"{node.id}  [dim]{node.source}{ref}[/]")
                for build_step in node.steps:
                    branch.add(
                        f"{build_step.name}: [cyan]{command_line(build_step.run)}[/]",
                        highlight=False,
                    )
                branch.add(f"outputs: {', '.join(node.outputs) or 'none (no artifact)'}")
        elif isinstance(step, DeployWave):
            wave = root.add(
                f"[bold]wave {step.wave + 1}[/] on {deploy.platform}: "
                f"{', '.join(step.regions)} together"
            )
            for name in step.regions:
                region = deploy.region(name)
                plane = (
                    ", a router per zone, switched together (two-phase commit)"
                    if region.data_plane == "zonal"
                    else ""
                )
                branch = wave.add(f"region {name}: zones {', '.join(region.zones)} at once{plane}")
                for service in deploy.services:
                    switch, finalize = service_steps(service, region.zones)
                    branch.add(
                        f"{service.name} ({service.strategy.kind}) ×{service.replicas} per zone "
                        f"from {service.artifact_node}: {switch}; then {finalize}"
                        + ("" if not step.finalize_now else " at once")
                    )
                for custom in for_region(deploy.steps, name):
                    branch.add(describe_step(custom), highlight=False)
        elif isinstance(step, Bake):
            bake = root.add(f"bake wave {step.wave + 1} for {step.seconds:g}s")
            for check in step.checks:
                bake.add(describe_step(check), highlight=False)
        elif isinstance(step, CustomStep):
            root.add(describe_step(step.step), highlight=False)
        elif isinstance(step, Finalize):
            root.add(f"[bold]finalize[/] {', '.join(step.regions)}: retire the old versions")
        elif isinstance(step, Gate):
            gate = step.gate
            root.add(
                f"[bold]gate[/] {gate.name} ({gate.point}): {gate.required} of "
                f"{', '.join(gate.approvers_as_written)}",
                highlight=False,
            )
    promotion = deploy.gate_at("promotion")
    if promotion is not None:
        root.add(
            f"[bold]gate[/] {promotion.name} (every held promotion): {promotion.required} of "
            f"{', '.join(promotion.approvers_as_written)}",
            highlight=False,
        )
    return root


def plan_json(plan: ReleasePlan) -> str:
    """The plan as indented JSON."""
    return plan.model_dump_json(indent=2)
