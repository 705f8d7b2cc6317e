"""Levels 0 and 2: build the shop as a DAG — what ``ferryman build`` does — and verify it.

Four repos, two of them for two platforms: six nodes, lib first, the legs of
catalog and checkout at once, ui beside them. Every node checks out its repo,
runs its steps with their logs kept, stores its outputs content-addressed and
signs a provenance statement; the release builds that follow find them in
the cache. Numbers come from the build's own record of each node.
"""

from __future__ import annotations

from ferryman import paths
from ferryman.build.artifacts import ArtifactStore
from ferryman.build.provenance import ProvenanceStore
from ferryman.cli.build import build_and_record, build_plan_for
from ferryman.dag import critical_path
from ferryman.demo.context import Demo
from ferryman.demo.measure import epoch
from ferryman.errors import FerrymanError
from ferryman.temporal.models.build import BuildResult

TRACED = "catalog:linux-amd64"
"""The node whose artifact the demo traces back to its sources and verifies."""


def span_s(result: BuildResult) -> float:
    """First node's start to last node's end, from the nodes' own times."""
    starts = [epoch(n.started_at) for n in result.nodes.values() if n.started_at]
    ends = [epoch(n.finished_at) for n in result.nodes.values() if n.finished_at]
    return max(ends) - min(starts) if starts and ends else 0.0


async def build_shop(demo: Demo) -> None:
    """Build the shop, say what each node did, trace and verify one artifact."""
    demo.chapter("levels 0 and 2: build the shop — 4 repos as a DAG, 2 platforms, cached, signed")
    spec = demo.workspace.spec
    system, plan = build_plan_for(spec, no_cache=False, changed_since=None, max_parallel=None)
    graph = {node.id: node.needs for node in plan.nodes}
    demo.say(
        f"$ ferryman build {spec}\n"
        f"  {len(plan.nodes)} nodes: "
        + ", ".join(f"{n.id} ← {', '.join(n.needs)}" if n.needs else n.id for n in plan.nodes)
    )
    build_id, result = await build_and_record(
        demo.client, system, plan, str(spec.resolve()), demo.console
    )
    if not result.succeeded:
        raise FerrymanError(f"{build_id} failed: `ferryman logs {build_id}` shows why")
    figures = demo.findings.build
    figures.build_id = build_id
    figures.nodes = len(result.nodes)
    figures.repos = len({node.repo for node in plan.nodes})
    figures.platforms = len({node.matrix.get("platform") for node in plan.nodes} - {None})
    figures.built = sum(1 for n in result.nodes.values() if not n.cached)
    figures.cached = sum(1 for n in result.nodes.values() if n.cached)
    figures.seconds = span_s(result)
    lib = result.nodes["lib"]
    figures.lib_steps = [step.name for step in lib.steps]
    figures.lib_seconds = lib.duration_s
    path, weight = critical_path(graph, {k: n.duration_s for k, n in result.nodes.items()})
    demo.say(
        f"  {figures.built} built, {figures.cached} from cache in {figures.seconds:.1f}s; "
        f"critical path {' → '.join(path)} ({weight:.1f}s of steps)\n"
        f"  level 0, one repo: lib ran {' then '.join(figures.lib_steps)} in "
        f"{figures.lib_seconds:.1f}s — `ferryman logs {build_id}` prints each step's log"
    )
    traced = result.nodes[TRACED].artifact
    assert traced is not None, f"{TRACED} builds outputs"
    store = ProvenanceStore(ArtifactStore(paths.artifacts_dir()), paths.home() / "keys")
    figures.artifact = f"{TRACED} {traced.digest}"
    figures.provenance_problems = store.verify(traced.digest)
    verdict = (
        "[green]signature and every digest hold[/]"
        if not figures.provenance_problems
        else f"[red]{'; '.join(figures.provenance_problems)}[/]"
    )
    demo.say(
        f"  {TRACED} is {traced.digest[:19]}…, signed with its SLSA provenance: {verdict}\n"
        f"  (`ferryman provenance {TRACED}` shows what it was built from, down to lib's commit)"
    )
