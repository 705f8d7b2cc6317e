"""``BuildWorkflow``: check out, run steps and store outputs for every build node.

Nodes run in plan order (a topological order); a failed node skips the nodes
that need it. The workflow returns how every node ended rather than raising,
so a release can say exactly which node failed and why.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from ferryman.plan.models import BuildNode
    from ferryman.temporal.activities.build import (
        checkout_source,
        collect_artifacts,
        run_build_step,
    )
    from ferryman.temporal.models import (
        BuildRequest,
        BuildResult,
        CheckoutInput,
        CollectInput,
        NodeResult,
        StepInput,
        StepOutcome,
    )

INFRA_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=5,
)


def failure_message(error: BaseException) -> str:
    """The innermost application message of an activity or child failure."""
    while isinstance(error, ActivityError | ApplicationError) and error.cause is not None:
        if isinstance(error, ApplicationError) and error.message:
            break
        error = error.cause
    return str(error.message if isinstance(error, ApplicationError) else error)


@workflow.defn(name="ferryman.Build")
class BuildWorkflow:
    """Builds every node of a ``BuildPlan`` and reports each node's outcome."""

    def __init__(self) -> None:
        self._status: dict[str, str] = {}

    @workflow.query(name="nodes")
    def nodes(self) -> dict[str, str]:
        """Node id → pending | running | succeeded | failed | skipped."""
        return dict(self._status)

    @workflow.run
    async def run(self, request: BuildRequest) -> BuildResult:
        """Build the plan's nodes in order."""
        self._status = {node.id: "pending" for node in request.plan.nodes}
        results: dict[str, NodeResult] = {}
        for node in request.plan.nodes:
            failed_needs = [n for n in node.needs if results[n].status != "succeeded"]
            if failed_needs:
                results[node.id] = NodeResult(
                    id=node.id, status="skipped", error=f"needs {', '.join(failed_needs)}"
                )
            else:
                self._status[node.id] = "running"
                results[node.id] = await self._build_node(request.run_id, node)
            self._status[node.id] = results[node.id].status
        return BuildResult(run_id=request.run_id, nodes=results)

    async def _build_node(self, run_id: str, node: BuildNode) -> NodeResult:
        outcomes: list[StepOutcome] = []
        commit = ""
        try:
            checkout = await workflow.execute_activity(
                checkout_source,
                CheckoutInput(run_id=run_id, node=node),
                task_queue=node.task_queue,
                start_to_close_timeout=timedelta(minutes=10),
                retry_policy=INFRA_RETRY,
                summary=f"checkout {node.id}",
            )
            commit = checkout.commit
            for index, step in enumerate(node.steps):
                outcome = await workflow.execute_activity(
                    run_build_step,
                    StepInput(
                        run_id=run_id,
                        node_id=node.id,
                        index=index,
                        step=step,
                        workspace=checkout.workspace,
                    ),
                    task_queue=node.task_queue,
                    start_to_close_timeout=timedelta(seconds=step.timeout_s + 60),
                    heartbeat_timeout=timedelta(seconds=10),
                    retry_policy=INFRA_RETRY,
                    summary=f"{node.id}: {step.name}",
                )
                outcomes.append(outcome)
            artifact = await workflow.execute_activity(
                collect_artifacts,
                CollectInput(
                    run_id=run_id,
                    node_id=node.id,
                    workspace=checkout.workspace,
                    outputs=node.outputs,
                ),
                task_queue=node.task_queue,
                start_to_close_timeout=timedelta(minutes=10),
                retry_policy=INFRA_RETRY,
                summary=f"store outputs of {node.id}",
            )
        except ActivityError as exc:
            return NodeResult(
                id=node.id,
                status="failed",
                commit=commit,
                steps=tuple(outcomes),
                error=failure_message(exc),
            )
        return NodeResult(
            id=node.id, status="succeeded", commit=commit, artifact=artifact, steps=tuple(outcomes)
        )
