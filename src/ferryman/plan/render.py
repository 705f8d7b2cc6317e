"""Render a ``ReleasePlan`` for people (a rich tree) and for machines (JSON)."""

from __future__ import annotations

from rich.tree import Tree

from ferryman.build import dag
from ferryman.deploy.bluegreen import describe
from ferryman.deploy.replace import replace_options
from ferryman.plan.models import BuildPlan, ReleasePlan


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


def plan_tree(plan: ReleasePlan) -> Tree:
    """The plan as a tree: build nodes with their steps, then regions, zones and services."""
    version = plan.version or "(derived from the build)"
    root = Tree(
        f"[bold]release[/] {plan.system} → {plan.environment}  version {version}", highlight=False
    )
    build = root.add("[bold]build[/]")
    for node in plan.build.nodes:
        ref = f"@{node.ref}" if node.ref else ""
        branch = build.add(f"{node.id}  [dim]{node.source}{ref}[/]")
        for step in node.steps:
            branch.add(f"{step.name}: [cyan]{step.run.strip().splitlines()[0]}[/]")
        branch.add(f"outputs: {', '.join(node.outputs)}")
    deploy = root.add(f"[bold]deploy[/] on {plan.deploy.platform}, region after region")
    for region in plan.deploy.regions:
        region_branch = deploy.add(
            f"region {region.name}: zones {', '.join(region.zones)} together"
        )
        for service in plan.deploy.services:
            steps = describe(service.strategy or replace_options(service.health.timeout_s))
            region_branch.add(
                f"{service.name} ×{service.replicas} per zone from {service.artifact_node}: {steps}"
            )
    return root


def plan_json(plan: ReleasePlan) -> str:
    """The plan as indented JSON."""
    return plan.model_dump_json(indent=2)
