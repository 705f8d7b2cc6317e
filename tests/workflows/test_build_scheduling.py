"""BuildWorkflow's scheduling on the time-skipping server, with a fake step runner.

The fake ``ferryman.build_node`` activity records which nodes start, fails the
nodes it is told to, and holds others until an event (another node started, a
cancellation), so these tests pin the workflow's decisions: priority order,
throttles and failure semantics. How many nodes ran at once is read from the
workflow's history (activities scheduled and not yet closed), which records the
workflow's decisions whatever the speed of the machine.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field

from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from ferryman.plan.models import BuildNode, BuildPlan, StepPlan
from ferryman.temporal.converter import DATA_CONVERTER
from ferryman.temporal.models.build import (
    ArtifactRef,
    BuildRequest,
    BuildResult,
    NodeBuildInput,
    NodeBuildOutput,
)
from ferryman.temporal.names import build_task_queue
from ferryman.temporal.workflows.build import BuildWorkflow

DEADLINE_S = 60.0
"""How long a held node waits for what it waits for before failing the test loudly."""


@dataclass
class FakeRunner:
    """Stands in for the build activity: records, fails on request, holds on request.

    Attributes:
        fail: Node → ``build`` or ``infra``: how it fails.
        after: Node → another node that must have started before this one ends.
        until_cancelled: Nodes that end only by being cancelled.
    """

    fail: dict[str, str] = field(default_factory=dict)
    after: dict[str, str] = field(default_factory=dict)
    until_cancelled: set[str] = field(default_factory=set)
    started: list[str] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    attempts: dict[str, int] = field(default_factory=dict)
    handed: dict[str, dict[str, str]] = field(default_factory=dict)

    async def _hold(self, node: str) -> None:
        """Heartbeat until what ``node`` waits for happens; fail loudly at the deadline."""
        deadline = time.monotonic() + DEADLINE_S
        while node in self.until_cancelled or self.after.get(node, node) not in self.started:
            if time.monotonic() > deadline:
                waits = "a cancellation" if node in self.until_cancelled else self.after[node]
                raise ApplicationError(
                    f"{node} waited {DEADLINE_S:g}s for {waits}", non_retryable=True
                )
            activity.heartbeat()
            await asyncio.sleep(0.02)

    @activity.defn(name="ferryman.build_node")
    async def build_node(self, data: NodeBuildInput) -> NodeBuildOutput:
        node = data.node
        self.attempts[node.id] = self.attempts.get(node.id, 0) + 1
        self.handed[node.id] = {dep.node_id: dep.digest for dep in data.dependencies}
        self.started.append(node.id)
        try:
            await self._hold(node.id)
        except asyncio.CancelledError:
            self.cancelled.append(node.id)
            raise
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


@dataclass
class Concurrency:
    """The most nodes the workflow had started and not yet seen end, at any moment.

    Attributes:
        peak: Over every node.
        by_repo: Per repository.
        cancelled: Nodes the workflow asked to cancel.
    """

    peak: int = 0
    by_repo: dict[str, int] = field(default_factory=dict)
    cancelled: set[str] = field(default_factory=set)


async def concurrency(handle: WorkflowHandle[BuildWorkflow, BuildResult]) -> Concurrency:
    """Replay the build's history: activities scheduled and not yet closed, at their most."""
    closing = {
        EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: "activity_task_completed_event_attributes",
        EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED: "activity_task_failed_event_attributes",
        EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT: "activity_task_timed_out_event_attributes",
        EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED: "activity_task_canceled_event_attributes",
    }
    nodes: dict[int, NodeBuildInput] = {}
    open_nodes: set[int] = set()
    seen = Concurrency()
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            payloads = event.activity_task_scheduled_event_attributes.input.payloads
            (data,) = DATA_CONVERTER.payload_converter.from_payloads(payloads, [NodeBuildInput])
            nodes[event.event_id] = data
            open_nodes.add(event.event_id)
            seen.peak = max(seen.peak, len(open_nodes))
            repo = data.node.repo
            count = sum(1 for i in open_nodes if nodes[i].node.repo == repo)
            seen.by_repo[repo] = max(seen.by_repo.get(repo, 0), count)
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED:
            scheduled = event.activity_task_cancel_requested_event_attributes.scheduled_event_id
            seen.cancelled.add(nodes[scheduled].node.id)
        elif event.event_type in closing:
            open_nodes.discard(getattr(event, closing[event.event_type]).scheduled_event_id)
    return seen


async def _run(
    env: WorkflowEnvironment, runner: FakeRunner, plan_of: object
) -> tuple[BuildResult, Concurrency]:
    queue = f"q-{uuid.uuid4()}"
    build_queue = build_task_queue(queue)
    plan = plan_of(build_queue)  # type: ignore[operator]
    async with (
        Worker(env.client, task_queue=queue, workflows=[BuildWorkflow]),
        Worker(env.client, task_queue=build_queue, activities=[runner.build_node]),
    ):
        handle = await env.client.start_workflow(
            BuildWorkflow.run,
            BuildRequest(run_id=f"build/t/{uuid.uuid4()}", plan=plan),
            id=f"build/t/{uuid.uuid4()}",
            task_queue=queue,
        )
        result = await handle.result()
    return result, await concurrency(handle)


async def _build(env: WorkflowEnvironment, runner: FakeRunner, plan_of: object) -> BuildResult:
    return (await _run(env, runner, plan_of))[0]


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
    result, seen = await _run(
        time_skipping, runner, lambda q: _plan(q, ADVERSARIAL, max_parallel=1)
    )
    assert result.succeeded
    assert runner.started[0] == "chain-1"
    assert seen.peak == 1


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
    runner = FakeRunner()
    result, seen = await _run(
        time_skipping, runner, lambda q: _plan(q, graph, max_parallel=3, repo_limits={"svc": 1})
    )
    assert result.succeeded and sorted(runner.finished) == sorted(graph)
    assert seen.peak == 3, "three at once, never more"
    assert seen.by_repo == {"svc": 1, "ui": 2}


async def test_every_ready_node_starts_at_once_without_throttle(
    time_skipping: WorkflowEnvironment,
) -> None:
    graph = {f"n{i}": () for i in range(5)}
    # Each node ends only once the next has started: all five must run at once.
    runner = FakeRunner(after={f"n{i}": f"n{(i + 1) % 5}" for i in range(5)})
    result, seen = await _run(time_skipping, runner, lambda q: _plan(q, graph))
    assert result.succeeded
    assert seen.peak == 5


DIAMOND = {"lib": (), "api": ("lib",), "web": ("api",), "ui": (), "docs": ("ui",)}


async def test_without_fail_fast_independent_branches_finish(
    time_skipping: WorkflowEnvironment,
) -> None:
    runner = FakeRunner(fail={"lib": "build"}, after={"lib": "ui"})
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
    # lib fails once ui runs; ui would run until cancelled.
    runner = FakeRunner(fail={"lib": "build"}, after={"lib": "ui"}, until_cancelled={"ui"})
    result, seen = await _run(time_skipping, runner, lambda q: _plan(q, DIAMOND))
    status = {nid: node.status for nid, node in result.nodes.items()}
    assert status["lib"] == "failed"
    assert status["ui"] == "cancelled"
    assert status["docs"] == "cancelled"
    assert status["api"] == "skipped"
    assert seen.cancelled == {"ui"}, "the workflow cancelled the node still running"
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
