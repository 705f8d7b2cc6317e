"""BuildWorkflow's scheduling on the time-skipping server, with a fake step runner.

The fake ``ferryman.build_node`` activity records when each node starts and ends
(and how many run at once) and fails the nodes it is told to, so these tests pin
the workflow's decisions: priority order, throttles and failure semantics.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field

from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from ferryman.plan.models import BuildNode, BuildPlan, StepPlan
from ferryman.temporal.models.build import (
    ArtifactRef,
    BuildRequest,
    BuildResult,
    NodeBuildInput,
    NodeBuildOutput,
)
from ferryman.temporal.names import build_task_queue
from ferryman.temporal.workflows.build import BuildWorkflow


@dataclass
class FakeRunner:
    """Stands in for the build activity: sleeps, records, fails on request."""

    durations: dict[str, float] = field(default_factory=dict)
    fail: dict[str, str] = field(default_factory=dict)
    started: list[str] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    running: set[str] = field(default_factory=set)
    peak: int = 0
    peak_by_repo: dict[str, int] = field(default_factory=dict)
    attempts: dict[str, int] = field(default_factory=dict)
    handed: dict[str, dict[str, str]] = field(default_factory=dict)

    @activity.defn(name="ferryman.build_node")
    async def build_node(self, data: NodeBuildInput) -> NodeBuildOutput:
        node = data.node
        self.attempts[node.id] = self.attempts.get(node.id, 0) + 1
        self.handed[node.id] = {dep.node_id: dep.digest for dep in data.dependencies}
        self.started.append(node.id)
        self.running.add(node.id)
        self.peak = max(self.peak, len(self.running))
        same_repo = sum(1 for n in self.running if n.split(":")[0] == node.repo)
        self.peak_by_repo[node.repo] = max(self.peak_by_repo.get(node.repo, 0), same_repo)
        try:
            remaining = self.durations.get(node.id, 0.05)
            while remaining > 0:
                activity.heartbeat()
                await asyncio.sleep(min(0.02, remaining))
                remaining -= 0.02
        except asyncio.CancelledError:
            self.cancelled.append(node.id)
            raise
        finally:
            self.running.discard(node.id)
        kind = self.fail.get(node.id)
        if kind == "build":
            raise ApplicationError(
                f"{node.id}: step 'b' exited with code 1", type="StepFailed", non_retryable=True
            )
        if kind == "infra":
            raise ApplicationError(
                "disk on fire", type="WorkerLost", non_retryable=self.attempts[node.id] >= 2
            )
        self.finished.append(node.id)
        digest = "sha256:" + f"{abs(hash(node.id)):064d}"[:64]
        return NodeBuildOutput(
            commit="c" * 40,
            artifact=ArtifactRef(digest=digest, files={}),
            cache_key="k",
            cached=False,
            duration_s=0.01,
        )


def _plan(queue: str, graph: dict[str, tuple[str, ...]], **settings: object) -> BuildPlan:
    nodes = tuple(
        BuildNode(
            id=node,
            repo=node.split(":")[0],
            source="/nowhere",
            steps=(StepPlan(name="b", run="true"),),
            outputs=("x",),
            needs=needs,
        )
        for node, needs in graph.items()
    )
    return BuildPlan(nodes=nodes, use_cache=False, **settings)  # type: ignore[arg-type]


async def _build(env: WorkflowEnvironment, runner: FakeRunner, plan_of: object) -> BuildResult:
    queue = f"q-{uuid.uuid4()}"
    build_queue = build_task_queue(queue)
    plan = plan_of(build_queue)  # type: ignore[operator]
    async with (
        Worker(env.client, task_queue=queue, workflows=[BuildWorkflow]),
        Worker(env.client, task_queue=build_queue, activities=[runner.build_node]),
    ):
        return await env.client.execute_workflow(
            BuildWorkflow.run,
            BuildRequest(run_id=f"build/t/{uuid.uuid4()}", plan=plan),
            id=f"build/t/{uuid.uuid4()}",
            task_queue=queue,
        )


# Short independent nodes declared first; the long critical chain declared last.
ADVERSARIAL = {
    "free-a": (),
    "free-b": (),
    "free-c": (),
    "chain-1": (),
    "chain-2": ("chain-1",),
    "chain-3": ("chain-2",),
}


async def test_largest_bottom_level_starts_first(time_skipping: WorkflowEnvironment) -> None:
    runner = FakeRunner()
    result = await _build(time_skipping, runner, lambda q: _plan(q, ADVERSARIAL, max_parallel=1))
    assert result.succeeded
    assert runner.started[0] == "chain-1"
    assert runner.peak == 1


async def test_measured_durations_weigh_the_priority(time_skipping: WorkflowEnvironment) -> None:
    def plan(queue: str) -> BuildPlan:
        base = _plan(queue, {"quick": (), "slow": ()}, max_parallel=1)
        nodes = tuple(
            n.model_copy(update={"expected_duration_s": 30.0 if n.id == "slow" else 1.0})
            for n in base.nodes
        )
        return base.model_copy(update={"nodes": nodes})

    runner = FakeRunner()
    await _build(time_skipping, runner, plan)
    assert runner.started == ["slow", "quick"]


async def test_global_and_per_repo_throttles(time_skipping: WorkflowEnvironment) -> None:
    graph = {f"svc:{i}": () for i in range(6)} | {f"ui:{i}": () for i in range(4)}
    runner = FakeRunner(durations=dict.fromkeys(graph, 0.15))
    result = await _build(
        time_skipping, runner, lambda q: _plan(q, graph, max_parallel=3, repo_limits={"svc": 1})
    )
    assert result.succeeded
    assert runner.peak == 3
    assert runner.peak_by_repo["svc"] == 1


async def test_every_ready_node_starts_at_once_without_throttle(
    time_skipping: WorkflowEnvironment,
) -> None:
    graph = {f"n{i}": () for i in range(5)}
    runner = FakeRunner(durations=dict.fromkeys(graph, 0.3))
    await _build(time_skipping, runner, lambda q: _plan(q, graph))
    assert runner.peak == 5


DIAMOND = {"lib": (), "api": ("lib",), "web": ("api",), "ui": (), "docs": ("ui",)}


async def test_without_fail_fast_independent_branches_finish(
    time_skipping: WorkflowEnvironment,
) -> None:
    runner = FakeRunner(fail={"lib": "build"}, durations={"ui": 0.2, "docs": 0.1})
    result = await _build(time_skipping, runner, lambda q: _plan(q, DIAMOND, fail_fast=False))
    status = {nid: node.status for nid, node in result.nodes.items()}
    assert status == {
        "lib": "failed",
        "api": "skipped",
        "web": "skipped",
        "ui": "succeeded",
        "docs": "succeeded",
    }
    assert result.nodes["lib"].kind == "build"
    assert "exited with code 1" in result.nodes["lib"].error
    assert result.nodes["web"].error == "needs api"
    assert "api" not in runner.started


async def test_fail_fast_cancels_running_nodes(time_skipping: WorkflowEnvironment) -> None:
    runner = FakeRunner(fail={"lib": "build"}, durations={"lib": 0.05, "ui": 5.0})
    result = await _build(time_skipping, runner, lambda q: _plan(q, DIAMOND))
    status = {nid: node.status for nid, node in result.nodes.items()}
    assert status["lib"] == "failed"
    assert status["ui"] == "cancelled"
    assert status["docs"] == "cancelled"
    assert status["api"] == "skipped"
    assert "ui" in runner.cancelled
    assert "docs" not in runner.started


async def test_infrastructure_failures_are_retried_then_reported(
    time_skipping: WorkflowEnvironment,
) -> None:
    runner = FakeRunner(fail={"ui": "infra"})
    result = await _build(time_skipping, runner, lambda q: _plan(q, {"ui": ()}))
    assert runner.attempts["ui"] == 2
    assert result.nodes["ui"].status == "failed"
    assert result.nodes["ui"].kind == "infrastructure"


async def test_prebuilt_nodes_hand_their_artifacts_to_what_needs_them(
    time_skipping: WorkflowEnvironment,
) -> None:
    def plan(queue: str) -> BuildPlan:
        full = _plan(queue, {"lib": (), "api": ("lib",)})
        nodes = tuple(n for n in full.nodes if n.id == "api")
        return full.model_copy(update={"nodes": nodes, "prebuilt": {"lib": "sha256:" + "f" * 64}})

    runner = FakeRunner()
    result = await _build(time_skipping, runner, plan)
    assert set(result.nodes) == {"api"}
    assert runner.handed["api"] == {"lib": "sha256:" + "f" * 64}
