"""Benchmark: ferryman's DAG build against ``make -j K`` on the same graphs, side by side.

Every node's only build step is ``sleep D`` in both systems. ferryman runs on a
real Temporal dev server with a real worker whose build queue has K slots
(``max_concurrent_activities``) and ``build.max_parallel = K``; make runs a
generated Makefile with ``make -j K``. Runs alternate (ferryman, make, ferryman,
make, …). Prints, per graph, both makespans, the lower bound
``max(critical path, total work / K)`` and the ratios; then a no-op rebuild of
the 200-node graph (all cache hits); the last line is one JSON object.

    .venv/bin/python bench/dag.py --quick        # under 2 minutes
    .venv/bin/python bench/dag.py                # the full set, 3 rounds
    .venv/bin/python bench/dag.py --graph my.json --slots 8

``--graph FILE`` takes ``{"nodes": [{"name": "a", "duration_s": 1.5, "needs": []}, …]}``.
Round 1 gives ferryman no durations (every node weighs 1); later rounds use the
durations ferryman measured in round 1, as ``ferryman build`` does from its history.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

from ferryman import dag
from ferryman.devstack.processes import spawn, wait_until
from ferryman.devstack.stack import temporal_binary
from ferryman.plan.models import BuildNode, BuildPlan, StepPlan
from ferryman.temporal.converter import DATA_CONVERTER
from ferryman.temporal.models.build import BuildRequest, BuildResult
from ferryman.temporal.names import build_task_queue
from ferryman.temporal.worker.workers import central_workers
from ferryman.temporal.workflows.build import BuildWorkflow
from ferryman.testing import TemporalDevServer

NEW_MATCHER = ("--dynamic-config-value", "matching.useNewMatcher=true")
"""Temporal's priority-aware task matcher: backlogged activities start by priority key."""


@dataclass
class BenchServer(TemporalDevServer):
    """The dev server with extra flags (e.g. the priority-aware matcher)."""

    flags: tuple[str, ...] = ()

    def start(self) -> BenchServer:
        """Start the server and wait until its namespace answers."""
        argv = [
            temporal_binary(), "server", "start-dev", "--ip", "127.0.0.1", "--headless",
            "--port", str(self.port), "--ui-port", str(self.ui_port), "--log-level", "warn",
            *self.flags,
        ]  # fmt: skip
        log = self.log_dir / "temporal.log"
        self.process = spawn(argv, log)
        wait_until(lambda: _answers(self.address), 90, "Temporal dev server", self.process, log)
        return self


def _answers(address: str) -> bool:
    async def probe() -> bool:
        try:
            await Client.connect(address)
        except RuntimeError:
            return False
        return True

    return asyncio.run(probe())


@dataclass(frozen=True)
class Graph:
    """A benchmark graph: name → (duration, needs), in declaration order."""

    name: str
    nodes: dict[str, tuple[float, tuple[str, ...]]]
    adversarial: bool = False

    def edges(self) -> dict[str, tuple[str, ...]]:
        return {n: needs for n, (_, needs) in self.nodes.items()}

    def durations(self) -> dict[str, float]:
        return {n: d for n, (d, _) in self.nodes.items()}

    def bound(self, slots: int) -> float:
        _, path = dag.critical_path(self.edges(), self.durations())
        return max(path, sum(self.durations().values()) / slots)


def layered(name: str, count: int, layers: int, lo: float, hi: float, seed: int) -> Graph:
    """A random layered DAG: each node needs 1-3 nodes of earlier layers."""
    rng = random.Random(seed)
    sizes = [count // layers + (1 if i < count % layers else 0) for i in range(layers)]
    nodes: dict[str, tuple[float, tuple[str, ...]]] = {}
    previous: list[str] = []
    index = 0
    for size in sizes:
        current = []
        for _ in range(size):
            node = f"n{index:03d}"
            index += 1
            picks = rng.sample(previous, min(len(previous), rng.randint(1, 3))) if previous else []
            nodes[node] = (round(rng.uniform(lo, hi), 2), tuple(sorted(picks)))
            current.append(node)
        previous = previous[-2 * size :] + current
    return Graph(name, nodes)


def adversarial(name: str, slots: int, chain: int, width: int, step: float) -> Graph:
    """Independent short nodes declared first, the long critical chain declared last."""
    nodes: dict[str, tuple[float, tuple[str, ...]]] = {}
    for i in range(width):
        nodes[f"free{i:03d}"] = (step, ())
    for i in range(chain):
        nodes[f"chain{i:02d}"] = (step, (f"chain{i - 1:02d}",) if i else ())
    return Graph(name, nodes, adversarial=True)


def load_graph(path: Path) -> Graph:
    """A user-supplied graph (see the module docstring for the format)."""
    data = json.loads(path.read_text())
    nodes = {
        str(n["name"]): (float(n["duration_s"]), tuple(str(x) for x in n.get("needs", ())))
        for n in data["nodes"]
    }
    unknown = {x for _, needs in nodes.values() for x in needs} - set(nodes)
    if unknown:
        raise SystemExit(f"{path}: unknown needs {sorted(unknown)}")
    cycle = dag.find_cycle({n: needs for n, (_, needs) in nodes.items()})
    if cycle:
        raise SystemExit(f"{path}: cycle {' → '.join(cycle)}")
    return Graph(path.stem, nodes)


# --- make ---------------------------------------------------------------------------------


def run_make(graph: Graph, slots: int, work: Path) -> float:
    """Makespan of ``make -j slots`` on the graph (targets are files; built from scratch)."""
    work.mkdir(parents=True, exist_ok=True)
    for stale in work.glob("*.done"):
        stale.unlink()
    lines = ["all: " + " ".join(f"{n}.done" for n in graph.nodes), ""]
    for node, (duration, needs) in graph.nodes.items():
        lines.append(f"{node}.done: " + " ".join(f"{n}.done" for n in needs))
        lines.append(f"\tsleep {duration} && touch $@")
    (work / "Makefile").write_text("\n".join(lines) + "\n")
    started = time.monotonic()
    subprocess.run(["make", "-s", "-j", str(slots), "all"], cwd=work, check=True)
    return time.monotonic() - started


# --- ferryman -----------------------------------------------------------------------------


def plan_for(
    graph: Graph,
    slots: int,
    sources: Path,
    queue: str,
    weights: dict[str, float] | None,
    prefetch: int = 0,
) -> BuildPlan:
    """The build plan: one node per graph node, ``sleep D`` as its only step."""
    nodes = []
    for node, (duration, needs) in graph.nodes.items():
        source = sources / graph.name / node
        if not source.exists():
            source.mkdir(parents=True)
            (source / "node.txt").write_text(f"{node}\n")
        nodes.append(
            BuildNode(
                id=node,
                repo=node,
                source=str(source),
                steps=(StepPlan(name="sleep", run=f"sleep {duration}"),),
                outputs=("node.txt",),
                needs=needs,
                expected_duration_s=(weights or {}).get(node),
            )
        )
    order = dag.topological_order({n.id: n.needs for n in nodes})
    by_id = {n.id: n for n in nodes}
    return BuildPlan(nodes=tuple(by_id[n] for n in order), max_parallel=slots, prefetch=prefetch)


async def run_ferryman(
    client: Client, plan: BuildPlan, queue: str, use_cache: bool
) -> tuple[float, BuildResult]:
    """Makespan of one build, from start request to result."""
    plan = plan.model_copy(update={"use_cache": use_cache})
    run_id = f"bench/{uuid.uuid4()}"
    started = time.monotonic()
    result = await client.execute_workflow(
        BuildWorkflow.run, BuildRequest(run_id=run_id, plan=plan), id=run_id, task_queue=queue
    )
    elapsed = time.monotonic() - started
    if not result.succeeded:
        bad = [
            f"{n.id}: {n.status} {n.error}"
            for n in result.nodes.values()
            if n.status != "succeeded"
        ]
        raise SystemExit("ferryman build failed: " + "; ".join(bad[:3]))
    return elapsed, result


def overheads_ms(graph: Graph, result: BuildResult) -> list[float]:
    """Per node: time from the workflow scheduling it to seeing it done, minus its sleep."""
    values = []
    for node in result.nodes.values():
        start = datetime.fromisoformat(node.started_at)
        end = datetime.fromisoformat(node.finished_at)
        values.append(((end - start).total_seconds() - graph.nodes[node.id][0]) * 1000)
    return values


@activity.defn(name="bench.noop")
async def noop_activity(value: int) -> int:
    """Does nothing: measures Temporal's own round trip."""
    return value


@workflow.defn(name="bench.RoundTrip", sandboxed=False)
class RoundTrip:
    """Runs ``count`` no-op activities one after another on another queue."""

    @workflow.run
    async def run(self, args: tuple[str, int]) -> None:
        queue, count = args
        for i in range(count):
            await workflow.execute_activity(
                noop_activity, i, task_queue=queue, start_to_close_timeout=timedelta(seconds=30)
            )


async def roundtrip_ms(client: Client, count: int = 30) -> float:
    """Median-free estimate of one workflow → activity → workflow round trip on this server."""
    queue = f"bench-rt-{uuid.uuid4()}"
    async with (
        Worker(client, task_queue=queue + "-wf", workflows=[RoundTrip]),
        Worker(client, task_queue=queue, activities=[noop_activity]),
    ):
        started = time.monotonic()
        await client.execute_workflow(
            RoundTrip.run, (queue, count), id=queue, task_queue=queue + "-wf"
        )
    return (time.monotonic() - started) / count * 1000


def geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


async def bench(
    graphs: list[Graph],
    slots: int,
    rounds: int,
    noop_graph: str | None,
    prefetch: int = 0,
    flags: tuple[str, ...] = (),
) -> dict[str, float]:
    """Run every graph through both systems, alternating; print per graph; return the summary."""
    root = Path(tempfile.mkdtemp(prefix="ferryman-bench-"))
    os.environ["FERRYMAN_HOME"] = str(root / "home")
    server = await asyncio.to_thread(BenchServer(log_dir=root, flags=flags).start)
    try:
        client = await Client.connect(server.address, data_converter=DATA_CONVERTER)
        queue = f"bench-{uuid.uuid4()}"
        build_queue = build_task_queue(queue)
        workers = central_workers(client, queue, build_slots=slots)
        async with workers[0], workers[1]:
            return await _bench_all(
                client, graphs, (slots, rounds, prefetch), noop_graph, root, queue, build_queue
            )
    finally:
        server.stop()


async def _bench_all(
    client: Client,
    graphs: list[Graph],
    settings: tuple[int, int, int],
    noop_graph: str | None,
    root: Path,
    queue: str,
    build_queue: str,
) -> dict[str, float]:
    slots, rounds, prefetch = settings
    normal: list[float] = []
    hostile: list[float] = []
    vs_bound: list[float] = []
    overheads: list[float] = []
    noop_s = float("nan")
    print(
        f"K = {slots} build slots, prefetch {prefetch}, {rounds} round(s),"
        " alternating ferryman / make",
        flush=True,
    )
    rt = await roundtrip_ms(client)
    print(f"Temporal round trip (no-op activity, sequential): {rt:.0f} ms", flush=True)
    for graph in graphs:
        bound = graph.bound(slots)
        ours: list[float] = []
        theirs: list[float] = []
        weights: dict[str, float] | None = None
        for _ in range(rounds):
            plan = plan_for(graph, slots, root / "sources", build_queue, weights, prefetch)
            elapsed, result = await run_ferryman(client, plan, queue, use_cache=False)
            ours.append(elapsed)
            overheads += overheads_ms(graph, result)
            weights = weights or {n.id: n.duration_s for n in result.nodes.values()}
            theirs.append(
                await asyncio.to_thread(run_make, graph, slots, root / "make" / graph.name)
            )
        f_mean, m_mean = statistics.mean(ours), statistics.mean(theirs)
        ratio = f_mean / m_mean
        (hostile if graph.adversarial else normal).append(ratio)
        vs_bound.append(f_mean / bound)
        runs_f = ", ".join(f"{v:.2f}" for v in ours)
        runs_m = ", ".join(f"{v:.2f}" for v in theirs)
        print(
            f"{graph.name:<20} nodes {len(graph.nodes):>3}  ferryman {f_mean:6.2f}s"
            f"  make {m_mean:6.2f}s  bound {bound:6.2f}s  ferryman/make {ratio:4.2f}"
            f"  ferryman/bound {f_mean / bound:4.2f}  (runs: ferryman {runs_f}; make {runs_m})",
            flush=True,
        )
        if graph.name == noop_graph:
            plan = plan_for(graph, slots, root / "sources", build_queue, weights, prefetch)
            await run_ferryman(client, plan, queue, use_cache=True)  # make sure all entries exist
            noop_s, result = await run_ferryman(client, plan, queue, use_cache=True)
            hits = sum(1 for n in result.nodes.values() if n.cached)
            print(
                f"{graph.name:<20} no-op rebuild {noop_s:.2f}s"
                f" ({hits}/{len(result.nodes)} cache hits)",
                flush=True,
            )
    summary = {
        "ratio_vs_make": round(geomean(normal + hostile), 3),
        "ratio_vs_make_adversarial": round(geomean(hostile), 3) if hostile else None,
        "ratio_vs_bound": round(geomean(vs_bound), 3),
        "noop_rebuild_s": round(noop_s, 3) if not math.isnan(noop_s) else None,
        "overhead_ms_per_node": round(statistics.median(overheads), 1),
        "temporal_roundtrip_ms": round(rt, 1),
    }
    return {k: v for k, v in summary.items() if v is not None}  # type: ignore[misc]


def default_graphs(quick: bool, slots: int) -> list[Graph]:
    """Random layered DAGs of 50 and 200 nodes and two adversarial ones."""
    if quick:
        return [
            layered("layered-50", 50, 8, 0.2, 0.8, seed=1),
            layered("layered-200", 200, 12, 0.1, 0.4, seed=2),
            adversarial("adversarial-chain", slots, chain=8, width=6 * slots, step=0.4),
        ]
    return [
        layered("layered-50", 50, 8, 0.2, 1.0, seed=1),
        layered("layered-50b", 50, 5, 0.2, 1.0, seed=3),
        layered("layered-200", 200, 12, 0.1, 0.6, seed=2),
        adversarial("adversarial-chain", slots, chain=10, width=8 * slots, step=0.5),
        adversarial("adversarial-wide", slots, chain=6, width=16 * slots, step=0.3),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small graphs, one round (< 2 min)")
    parser.add_argument("--graph", type=Path, help="a JSON graph of your own instead")
    parser.add_argument("--slots", type=int, default=4, help="K: build slots and make -j")
    parser.add_argument("--rounds", type=int, default=None, help="alternating rounds per graph")
    parser.add_argument(
        "--prefetch", type=int, default=0, help="BuildPlan.prefetch: extra nodes queued ahead"
    )
    parser.add_argument(
        "--new-matcher",
        action="store_true",
        help="start the dev server with matching.useNewMatcher=true (priority-ordered backlog)",
    )
    args = parser.parse_args(argv)
    if args.graph is not None:
        graphs = [load_graph(args.graph)]
        noop = graphs[0].name
    else:
        graphs = default_graphs(args.quick, args.slots)
        noop = "layered-200"
    rounds = args.rounds or (1 if args.quick else 3)
    flags = NEW_MATCHER if args.new_matcher else ()
    summary = asyncio.run(bench(graphs, args.slots, rounds, noop, args.prefetch, flags))
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    sys.exit(main())
