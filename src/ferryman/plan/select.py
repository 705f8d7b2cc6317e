"""Narrow a build plan to the repos that changed and everything downstream (pure)."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from ferryman.dag import downstream
from ferryman.plan.models import BuildPlan


def affected_plan(
    plan: BuildPlan, changed: Collection[str], artifacts: Mapping[str, str]
) -> BuildPlan:
    """The plan with only the nodes of ``changed`` repos and the nodes that need them.

    A node left out but needed by a kept node is handed over as ``prebuilt`` with
    its last artifact; if it has none, it is kept (and so are its own needs).

    Args:
        plan: The full build plan.
        changed: Names of repos whose sources changed.
        artifacts: Node id → bundle digest of its last successful build.

    Returns:
        The narrowed plan, nodes in the original order.
    """
    graph = {node.id: node.needs for node in plan.nodes}
    roots = [node.id for node in plan.nodes if node.repo in changed]
    keep = downstream(graph, roots)
    prebuilt: dict[str, str] = {}
    todo = list(keep)
    while todo:
        for need in graph[todo.pop()]:
            if need in keep or need in prebuilt:
                continue
            if need in artifacts:
                prebuilt[need] = artifacts[need]
            else:
                keep.add(need)
                todo.append(need)
    nodes = tuple(node for node in plan.nodes if node.id in keep)
    return plan.model_copy(update={"nodes": nodes, "prebuilt": prebuilt})
