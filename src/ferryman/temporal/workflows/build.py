"""``BuildWorkflow``: build a DAG of nodes (repo × matrix leg) as fast as the throttles allow.

Every ready node starts at once, up to the throttles (``BuildPlan.max_parallel``,
per-repo limits; the build worker's slots bound it too); among ready nodes the
largest bottom level goes first (``ferryman.dag``). Each node is one
``ferryman.build_node`` activity: checkout, cache lookup, fan-in, steps, outputs,
provenance. A node ends ``succeeded``, ``failed`` (``kind`` build: a step or its
outputs; infrastructure: retries exhausted), ``cancelled`` (fail-fast stopped it)
or ``skipped`` (a dependency did not succeed). The workflow returns how every
node ended rather than raising.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import Priority, RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError

with workflow.unsafe.imports_passed_through():
    from ferryman import dag
    from ferryman.plan.models import BuildNode, BuildPlan
    from ferryman.temporal.activities.build import build_node, probe_cache
    from ferryman.temporal.failures import failure_message
    from ferryman.temporal.models.build import (
        ArtifactRef,
        BuildRequest,
        BuildResult,
        CacheProbeInput,
        DependencyArtifact,
        FailureKind,
        NodeBuildInput,
        NodeResult,
    )
    from ferryman.temporal.names import build_task_queue

INFRA_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=5,
)
BUILD_FAILURES = frozenset({"StepFailed", "StepSetupFailed", "OutputsMissing", "CheckoutFailed"})


def failure_kind(error: BaseException) -> FailureKind:
    """``build`` for a failing step or missing outputs, else ``infrastructure``."""
    cause = error.cause if isinstance(error, ActivityError) else error
    if isinstance(cause, ApplicationError) and cause.type in BUILD_FAILURES:
        return "build"
    return "infrastructure"


@workflow.defn(name="ferryman.Build")
class BuildWorkflow:
    """Builds every node of a ``BuildPlan`` and reports each node's outcome."""

    def __init__(self) -> None:
        self._status: dict[str, str] = {}

    @workflow.query(name="nodes")
    def nodes(self) -> dict[str, str]:
        """Node id → pending, queued, running, succeeded, cached, failed, cancelled or skipped."""
        return dict(self._status)

    @workflow.run
    async def run(self, request: BuildRequest) -> BuildResult:
        """Build the plan's DAG, highest bottom level first, within the throttles."""
        plan = request.plan
        by_id = {node.id: node for node in plan.nodes}
        graph = {node.id: node.needs for node in plan.nodes}
        priority = dag.bottom_levels(
            graph, {n.id: n.expected_duration_s or 1.0 for n in plan.nodes}
        )
        throttle = dag.Throttle(
            max_parallel=None if plan.max_parallel is None else plan.max_parallel + plan.prefetch,
            per_group=plan.repo_limits,
            group_of={node.id: node.repo for node in plan.nodes},
        )
        ranks = dag.priority_keys(priority)
        self._status = {node.id: "pending" for node in plan.nodes}
        results: dict[str, NodeResult] = {
            nid: NodeResult(
                id=nid, status="succeeded", artifact=ArtifactRef(digest=digest, files={})
            )
            for nid, digest in plan.prebuilt.items()
        }
        results.update(await self._cached(request))
        for nid, result in results.items():
            if nid in self._status:
                self._status[nid] = _shown(result)
        running: dict[str, asyncio.Task[NodeResult]] = {}
        stopping = False
        while True:
            self._skip_blocked(graph, results)
            ended = {nid: r.status for nid, r in results.items()}
            ready = dag.ready_nodes(graph, ended, set(results) | set(running))
            if stopping:
                for nid in ready:
                    results[nid] = NodeResult(id=nid, status="cancelled", error="fail-fast")
                    self._status[nid] = "cancelled"
                ready = []
            for nid in dag.pick_next(ready, list(running), priority, throttle):
                running[nid] = asyncio.create_task(
                    self._build(request, plan, by_id[nid], results, ranks[nid])
                )
                self._status[nid] = "running"
            for nid in ready:
                if nid not in running:
                    self._status[nid] = "queued"
            if not running:
                break
            await workflow.wait(list(running.values()), return_when=asyncio.FIRST_COMPLETED)
            for nid, task in list(running.items()):
                if task.done():
                    del running[nid]
                    results[nid] = task.result()
                    self._status[nid] = _shown(results[nid])
                    stopping = stopping or (plan.fail_fast and results[nid].status == "failed")
            if stopping and running:
                for task in running.values():
                    task.cancel()
        self._skip_blocked(graph, results)
        ordered = {node.id: results[node.id] for node in plan.nodes}
        return BuildResult(run_id=request.run_id, nodes=ordered)

    async def _cached(self, request: BuildRequest) -> dict[str, NodeResult]:
        """Nodes already in the cache, found in one activity (when all share one queue)."""
        plan = request.plan
        queues = {node.runs_on for node in plan.nodes}
        if not plan.use_cache or len(queues) != 1:
            return {}
        now = workflow.now().isoformat()
        probe = await workflow.execute_activity(
            probe_cache,
            CacheProbeInput(run_id=request.run_id, nodes=plan.nodes, prebuilt=plan.prebuilt),
            task_queue=build_task_queue(workflow.info().task_queue, queues.pop()),
            start_to_close_timeout=timedelta(minutes=30),
            heartbeat_timeout=timedelta(seconds=30),
            retry_policy=INFRA_RETRY,
            summary=f"look up {len(plan.nodes)} node(s) in the build cache",
        )
        return {
            nid: NodeResult(
                id=nid,
                status="succeeded",
                commit=hit.commit,
                artifact=hit.artifact,
                cached=True,
                cache_key=hit.cache_key,
                duration_s=hit.duration_s,
                started_at=now,
                finished_at=workflow.now().isoformat(),
            )
            for nid, hit in probe.hits.items()
        }

    def _skip_blocked(self, graph: dag.Graph, results: dict[str, NodeResult]) -> None:
        while True:
            ended = {nid: r.status for nid, r in results.items()}
            blocked = dag.blocked_nodes(graph, ended, set(results))
            if not blocked:
                return
            for nid in blocked:
                failed = [n for n in graph[nid] if n in ended and ended[n] != "succeeded"]
                if all(ended[n] == "cancelled" for n in failed):
                    results[nid] = NodeResult(id=nid, status="cancelled", error="fail-fast")
                else:
                    results[nid] = NodeResult(
                        id=nid, status="skipped", error=f"needs {', '.join(failed)}"
                    )
                self._status[nid] = results[nid].status

    async def _build(
        self,
        request: BuildRequest,
        plan: BuildPlan,
        node: BuildNode,
        results: dict[str, NodeResult],
        rank: int,
    ) -> NodeResult:
        info = workflow.info()
        started = workflow.now()
        dependencies = tuple(
            DependencyArtifact(
                node_id=dep,
                repo=_repo_of(plan, dep),
                matrix=_matrix_of(plan, dep),
                digest=_digest(results[dep]),
            )
            for dep in node.needs
        )
        timeout_s = sum(step.timeout_s for step in node.steps) + 600
        base = NodeResult(id=node.id, status="running", started_at=started.isoformat())
        try:
            out = await workflow.execute_activity(
                build_node,
                NodeBuildInput(
                    run_id=request.run_id,
                    node=node,
                    dependencies=dependencies,
                    use_cache=plan.use_cache,
                    builder_id=plan.builder_id,
                    invocation_id=f"{info.workflow_id}/{info.run_id}",
                ),
                task_queue=build_task_queue(info.task_queue, node.runs_on),
                start_to_close_timeout=timedelta(seconds=timeout_s),
                heartbeat_timeout=timedelta(seconds=30),
                retry_policy=INFRA_RETRY,
                priority=Priority(priority_key=rank),
                summary=f"build {node.id}",
            )
        except ActivityError as exc:
            if isinstance(exc.cause, CancelledError):
                return _cancelled(base)
            return base.model_copy(
                update={
                    "status": "failed",
                    "error": failure_message(exc),
                    "kind": failure_kind(exc),
                    "finished_at": workflow.now().isoformat(),
                }
            )
        except asyncio.CancelledError:
            return _cancelled(base)
        return base.model_copy(
            update={
                "status": "succeeded",
                "commit": out.commit,
                "artifact": out.artifact,
                "steps": out.steps,
                "cached": out.cached,
                "cache_key": out.cache_key,
                "duration_s": out.duration_s,
                "finished_at": workflow.now().isoformat(),
            }
        )


def _cancelled(base: NodeResult) -> NodeResult:
    update = {
        "status": "cancelled",
        "error": "fail-fast",
        "finished_at": workflow.now().isoformat(),
    }
    return base.model_copy(update=update)


def _shown(result: NodeResult) -> str:
    return "cached" if result.cached else result.status


def _repo_of(plan: BuildPlan, node_id: str) -> str:
    return next((node.repo for node in plan.nodes if node.id == node_id), node_id.split(":")[0])


def _matrix_of(plan: BuildPlan, node_id: str) -> dict[str, str]:
    return next((dict(node.matrix) for node in plan.nodes if node.id == node_id), {})


def _digest(result: NodeResult) -> str:
    assert result.artifact is not None
    return result.artifact.digest
