"""Render a ``ReleasePlan`` for people (a rich tree) and for machines (JSON)."""

from __future__ import annotations

from rich.tree import Tree

from ferryman.plan.models import ReleasePlan


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
    deploy = root.add(f"[bold]deploy[/] on {plan.deploy.platform}")
    for region in plan.deploy.regions:
        region_branch = deploy.add(f"region {region.name}")
        for zone in region.zones:
            zone_branch = region_branch.add(f"zone {zone}")
            for service in plan.deploy.services:
                zone_branch.add(
                    f"{service.name} ×{service.replicas} from {service.artifact_node}: "
                    f"start → health {service.health.path} → switch router → retire old"
                )
    return root


def plan_json(plan: ReleasePlan) -> str:
    """The plan as indented JSON."""
    return plan.model_dump_json(indent=2)
