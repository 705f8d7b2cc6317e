"""Pure decisions of the DAG build: cycles, levels, priorities, ready sets and throttles.

``BuildWorkflow`` interprets these; nothing here touches Temporal or the disk.

Example::

    >>> graph = {"lib": (), "api": ("lib",), "ui": ()}
    >>> bottom_levels(graph, {"lib": 2.0, "api": 3.0, "ui": 1.0})
    {'lib': 5.0, 'api': 3.0, 'ui': 1.0}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

Graph = Mapping[str, Sequence[str]]
"""Node → the nodes it needs (its dependencies)."""


def find_cycle(graph: Graph) -> list[str] | None:
    """A dependency cycle as a closed path (``[a, b, c, a]``), or ``None``.

    Edges to unknown nodes are ignored. The search visits nodes in mapping
    order, so the answer is deterministic.
    """
    state: dict[str, int] = {}
    for start in graph:
        if state.get(start):
            continue
        stack: list[tuple[str, int]] = [(start, 0)]
        path: list[str] = [start]
        state[start] = 1
        while stack:
            node, index = stack[-1]
            needs = [n for n in graph.get(node, ()) if n in graph]
            if index < len(needs):
                stack[-1] = (node, index + 1)
                nxt = needs[index]
                if state.get(nxt) == 1:
                    return [*path[path.index(nxt) :], nxt]
                if not state.get(nxt):
                    state[nxt] = 1
                    stack.append((nxt, 0))
                    path.append(nxt)
            else:
                state[node] = 2
                stack.pop()
                path.pop()
    return None


def topological_order(graph: Graph) -> list[str]:
    """Nodes so that every node comes after its needs (stable: mapping order breaks ties).

    Raises:
        ValueError: The graph has a cycle.
    """
    cycle = find_cycle(graph)
    if cycle:
        raise ValueError("cycle: " + " → ".join(cycle))
    order: list[str] = []
    seen: set[str] = set()
    for start in graph:
        stack = [(start, iter(graph[start]))]
        if start in seen:
            continue
        seen.add(start)
        while stack:
            node, needs = stack[-1]
            nxt = next((n for n in needs if n not in seen and n in graph), None)
            if nxt is None:
                order.append(node)
                stack.pop()
            else:
                seen.add(nxt)
                stack.append((nxt, iter(graph[nxt])))
    return order


def dependents(graph: Graph) -> dict[str, list[str]]:
    """Node → the nodes that need it."""
    result: dict[str, list[str]] = {node: [] for node in graph}
    for node, needs in graph.items():
        for need in needs:
            if need in result:
                result[need].append(node)
    return result


def bottom_levels(graph: Graph, weights: Mapping[str, float]) -> dict[str, float]:
    """Each node's longest weighted path to a sink, its own weight included.

    Args:
        graph: Node → needs.
        weights: Node → expected duration; missing nodes weigh 1.

    Returns:
        Node → bottom level; larger means more work waits behind it.
    """
    below = dependents(graph)
    levels: dict[str, float] = {}
    for node in reversed(topological_order(graph)):
        after = max((levels[d] for d in below[node]), default=0.0)
        levels[node] = weights.get(node, 1.0) + after
    return levels


def depth_levels(graph: Graph) -> list[list[str]]:
    """Nodes grouped by depth: level 0 needs nothing, level n needs something at n-1."""
    depth: dict[str, int] = {}
    for node in topological_order(graph):
        depth[node] = 1 + max((depth[n] for n in graph[node] if n in depth), default=-1)
    levels: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for node, level in depth.items():
        levels[level].append(node)
    return levels


def critical_path(graph: Graph, weights: Mapping[str, float]) -> tuple[list[str], float]:
    """The heaviest chain through the graph and its total weight."""
    levels = bottom_levels(graph, weights)
    if not levels:
        return [], 0.0
    below = dependents(graph)
    sources = [n for n in graph if not [m for m in graph[n] if m in graph]]
    node = max(sources, key=lambda n: levels[n])
    path = [node]
    while below[node]:
        node = max(below[node], key=lambda n: levels[n])
        path.append(node)
    return path, levels[path[0]]


def downstream(graph: Graph, roots: Sequence[str]) -> set[str]:
    """``roots`` and every node that needs one of them, directly or not."""
    below = dependents(graph)
    seen = set(roots)
    todo = list(roots)
    while todo:
        for nxt in below.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


@dataclass(frozen=True)
class Throttle:
    """Limits on how many nodes run at once.

    Attributes:
        max_parallel: Across the whole build; ``None`` is unlimited.
        per_group: Group (repo) → its own limit.
        group_of: Node → its group.
    """

    max_parallel: int | None = None
    per_group: Mapping[str, int] | None = None
    group_of: Mapping[str, str] | None = None

    def admits(self, node: str, running: Sequence[str]) -> bool:
        """Whether ``node`` may start while ``running`` run."""
        if self.max_parallel is not None and len(running) >= self.max_parallel:
            return False
        groups = self.group_of or {}
        limit = (self.per_group or {}).get(groups.get(node, node))
        if limit is None:
            return True
        group = groups.get(node, node)
        return sum(1 for r in running if groups.get(r, r) == group) < limit


def priority_keys(priority: Mapping[str, float], levels: int = 5) -> dict[str, int]:
    """Temporal priority keys (1 = first) from priorities: the highest fifth gets 1, and so on.

    Lets the task queue itself prefer critical nodes among those waiting for a slot.
    """
    order = sorted(priority, key=lambda n: -priority[n])
    count = max(len(order), 1)
    return {node: 1 + (index * levels) // count for index, node in enumerate(order)}


def ready_nodes(graph: Graph, done: Mapping[str, str], started: set[str]) -> list[str]:
    """Nodes not started whose needs all ended ``succeeded``."""
    return [
        node
        for node, needs in graph.items()
        if node not in started and all(done.get(n) == "succeeded" for n in needs)
    ]


def blocked_nodes(graph: Graph, done: Mapping[str, str], started: set[str]) -> list[str]:
    """Nodes not started with a need that ended in anything but ``succeeded``."""
    return [
        node
        for node, needs in graph.items()
        if node not in started and any(n in done and done[n] != "succeeded" for n in needs)
    ]


def pick_next(
    ready: Sequence[str],
    running: Sequence[str],
    priority: Mapping[str, float],
    throttle: Throttle,
) -> list[str]:
    """The ready nodes to start now, highest priority first, within the throttle.

    Ties keep the order of ``ready`` (plan order), so the choice is deterministic.
    """
    order = sorted(range(len(ready)), key=lambda i: (-priority.get(ready[i], 1.0), i))
    chosen: list[str] = []
    for index in order:
        node = ready[index]
        if throttle.admits(node, [*running, *chosen]):
            chosen.append(node)
    return chosen


def simulate(graph: Graph, weights: Mapping[str, float], slots: int | None) -> float:
    """The makespan of the bottom-level list schedule on ``slots`` workers (``None``: unlimited).

    Used to show an expected build duration; missing weights count as 1.
    """
    priority = bottom_levels(graph, weights)
    throttle = Throttle(max_parallel=slots)
    now = 0.0
    done: dict[str, str] = {}
    running: dict[str, float] = {}
    while len(done) < len(graph):
        ready = ready_nodes(graph, done, set(done) | set(running))
        for node in pick_next(ready, list(running), priority, throttle):
            running[node] = now + weights.get(node, 1.0)
        if not running:
            break
        now = min(running.values())
        for node in [n for n, end in running.items() if end <= now]:
            del running[node]
            done[node] = "succeeded"
    return now
