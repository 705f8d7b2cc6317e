"""Geometry for the dashboard's inline SVG (pure): the build DAG, the world view, charts.

Templates only draw what is computed here, so the shapes are unit-tested
without a browser.

Example::

    dag = dag_layout([DagNode("lib", ()), DagNode("app", ("lib",))])
    dag.nodes[1].x > dag.nodes[0].x      # dependencies to the left
    chart = line_chart([(0, 0.01, 0.012), (2, 0.02, 0.011)])
    chart.series[0].points               # canary points in pixels
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

NODE_W, NODE_H, GAP_X, GAP_Y, PAD = 190, 46, 60, 18, 10


@dataclass(frozen=True)
class DagNode:
    """A build node and what it needs."""

    id: str
    needs: tuple[str, ...]
    state: str = "pending"
    detail: str = ""
    cached: bool = False


@dataclass(frozen=True)
class Box:
    """A node placed on the canvas."""

    node: DagNode
    x: float
    y: float
    w: float = NODE_W
    h: float = NODE_H


@dataclass(frozen=True)
class Dag:
    """A laid-out DAG: boxes, edges as SVG path data, and the canvas size."""

    nodes: tuple[Box, ...]
    edges: tuple[str, ...]
    width: float
    height: float


def _depths(nodes: Sequence[DagNode]) -> dict[str, int]:
    known = {node.id for node in nodes}
    needs = {node.id: [n for n in node.needs if n in known] for node in nodes}
    depth: dict[str, int] = {}

    def visit(node: str, seen: frozenset[str]) -> int:
        if node in depth:
            return depth[node]
        if node in seen:  # a cycle never reaches a plan; draw it flat rather than fail
            return 0
        depth[node] = 1 + max((visit(n, seen | {node}) for n in needs[node]), default=-1)
        return depth[node]

    for node in nodes:
        visit(node.id, frozenset())
    return depth


def dag_layout(nodes: Sequence[DagNode]) -> Dag:
    """Columns by depth (a node right of everything it needs), rows in plan order."""
    depth = _depths(nodes)
    columns: dict[int, list[DagNode]] = {}
    for node in nodes:
        columns.setdefault(depth[node.id], []).append(node)
    boxes: dict[str, Box] = {}
    for column, members in sorted(columns.items()):
        for row, node in enumerate(members):
            x = PAD + column * (NODE_W + GAP_X)
            boxes[node.id] = Box(node, x, PAD + row * (NODE_H + GAP_Y))
    edges = []
    for node in nodes:
        to = boxes[node.id]
        for need in node.needs:
            if need not in boxes:
                continue
            start = boxes[need]
            x1, y1 = start.x + start.w, start.y + start.h / 2
            x2, y2 = to.x, to.y + to.h / 2
            mid = (x1 + x2) / 2
            edges.append(
                f"M{x1:.0f},{y1:.0f} C{mid:.0f},{y1:.0f} {mid:.0f},{y2:.0f} {x2:.0f},{y2:.0f}"
            )
    width = max((b.x + b.w for b in boxes.values()), default=0) + PAD
    height = max((b.y + b.h for b in boxes.values()), default=0) + PAD
    return Dag(tuple(boxes[n.id] for n in nodes), tuple(edges), width, height)


# --- charts ----------------------------------------------------------------------------------

CHART_W, CHART_H, MARGIN_L, MARGIN_R, MARGIN_T, MARGIN_B = 460, 170, 52, 12, 12, 28


@dataclass(frozen=True)
class Series:
    """One line of a chart: its name, SVG path and points (x, y, value) in pixels."""

    name: str
    path: str
    points: tuple[tuple[float, float, float], ...]


@dataclass(frozen=True)
class Chart:
    """A line chart of canary against baseline over time."""

    series: tuple[Series, ...]
    y_ticks: tuple[tuple[float, str], ...]
    x_ticks: tuple[tuple[float, str], ...]
    width: float = CHART_W
    height: float = CHART_H
    plot: tuple[float, float, float, float] = field(
        default=(MARGIN_L, MARGIN_T, CHART_W - MARGIN_R, CHART_H - MARGIN_B)
    )


def _fmt(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) < 0.01 or abs(value) >= 10000:
        return f"{value:.1e}"
    return f"{value:.3g}"


def line_chart(
    samples: Sequence[tuple[float, float | None, float | None]],
    names: tuple[str, str] = ("canary", "baseline"),
) -> Chart:
    """Two series over time from ``(seconds, canary, baseline)`` samples (None: no value)."""
    left, top, right, bottom = MARGIN_L, MARGIN_T, CHART_W - MARGIN_R, CHART_H - MARGIN_B
    values = [v for _, *pair in samples for v in pair if v is not None and math.isfinite(v)]
    low, high = min(values, default=0.0), max(values, default=1.0)
    low = min(low, 0.0)
    if high - low < 1e-12:
        high = low + (abs(low) or 1.0)
    high += (high - low) * 0.1
    times = [t for t, *_ in samples]
    t0, t1 = min(times, default=0.0), max(times, default=1.0)
    span = (t1 - t0) or 1.0

    def px(t: float) -> float:
        return left + (t - t0) / span * (right - left) if len(samples) > 1 else (left + right) / 2

    def py(v: float) -> float:
        return bottom - (v - low) / (high - low) * (bottom - top)

    series = []
    for index, name in enumerate(names):
        kept = [(t, pair[index]) for t, *pair in samples]
        points = tuple(
            (round(px(t), 1), round(py(v), 1), v)
            for t, v in kept
            if v is not None and math.isfinite(v)
        )
        path = " ".join(f"{'M' if i == 0 else 'L'}{x},{y}" for i, (x, y, _) in enumerate(points))
        series.append(Series(name, path, points))
    y_ticks = tuple((round(py(v), 1), _fmt(v)) for v in (low, (low + high) / 2, high))
    x_ticks = tuple((round(px(t), 1), f"+{t - t0:.0f}s") for t in {t0, t1})
    return Chart(tuple(series), y_ticks, tuple(sorted(x_ticks)))


# --- the world view --------------------------------------------------------------------------

PALETTE = ("#3b82f6", "#f59e0b", "#10b981", "#a855f7", "#ef4444", "#14b8a6")


def version_colours(versions: Sequence[str]) -> dict[str, str]:
    """A colour per version, stable in the order given."""
    ordered = list(dict.fromkeys(versions))
    return {v: PALETTE[i % len(PALETTE)] for i, v in enumerate(ordered)}


@dataclass(frozen=True)
class Segment:
    """A slice of a traffic-split bar."""

    version: str
    percent: int
    x: float
    w: float
    colour: str


def split_bar(
    weights: dict[str, int], width: float, colours: dict[str, str]
) -> tuple[Segment, ...]:
    """The segments of a traffic bar ``width`` wide for ``weights`` (percent by version)."""
    total = sum(w for w in weights.values() if w > 0) or 1
    x, segments = 0.0, []
    for version, weight in weights.items():
        if weight <= 0:
            continue
        w = width * weight / total
        segments.append(
            Segment(version, weight, round(x, 1), round(w, 1), colours.get(version, "#999"))
        )
        x += w
    return tuple(segments)
