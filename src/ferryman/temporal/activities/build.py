"""Build activities: check out a source, run one step, store the outputs.

They run on the ``ferryman-build`` task queue; the worker's slot count there is
the build throttle. Each is idempotent: a retry after a crash finds the
checkout marker, the step's result marker or the stored blobs and returns them.
"""

from __future__ import annotations

import re
from pathlib import Path

from temporalio import activity
from temporalio.exceptions import ApplicationError

from ferryman import paths
from ferryman.build.artifacts import ArtifactStore
from ferryman.build.checkout import checkout
from ferryman.build.logs import step_log_path
from ferryman.build.steps import run_step
from ferryman.errors import BuildError
from ferryman.temporal.models import (
    ArtifactRef,
    CheckoutInput,
    CheckoutResult,
    CollectInput,
    StepInput,
    StepOutcome,
)


def workspace_for(run_id: str, node_id: str) -> Path:
    """The workspace directory of one node in one build run."""
    safe_run = re.sub(r"[^A-Za-z0-9._-]+", "_", run_id)
    return paths.workspaces_dir() / safe_run / node_id


@activity.defn(name="ferryman.checkout")
async def checkout_source(data: CheckoutInput) -> CheckoutResult:
    """Check out a node's source (git clone/fetch through a mirror cache, or a copy)."""
    dest = workspace_for(data.run_id, data.node.id)
    try:
        result = checkout(data.node.source, data.node.ref, dest, paths.home() / "git-cache")
    except BuildError as exc:
        raise ApplicationError(str(exc), type="CheckoutFailed", non_retryable=True) from exc
    return CheckoutResult(
        workspace=str(result.path), commit=result.commit, tree_digest=result.tree_digest
    )


@activity.defn(name="ferryman.run_step")
async def run_build_step(data: StepInput) -> StepOutcome:
    """Run one build step; a non-zero exit fails the activity without retry, naming the step."""
    log_path = step_log_path(
        paths.logs_dir(), data.run_id, data.node_id, data.index, data.step.name
    )
    try:
        result = await run_step(
            data.step,
            Path(data.workspace),
            log_path,
            env={"FERRYMAN_RUN_ID": data.run_id, "FERRYMAN_NODE": data.node_id},
            heartbeat=activity.heartbeat,
        )
    except BuildError as exc:
        raise ApplicationError(str(exc), type="StepSetupFailed", non_retryable=True) from exc
    if result.timed_out or result.exit_code != 0:
        why = (
            f"timed out after {data.step.timeout_s:g}s"
            if result.timed_out
            else f"exited with code {result.exit_code}"
        )
        tail = result.tail.strip().splitlines()[-1:] if result.tail else []
        detail = f": {tail[0]}" if tail else ""
        raise ApplicationError(
            f"{data.node_id}: step '{data.step.name}' {why}{detail} (log: {log_path})",
            type="StepFailed",
            non_retryable=True,
        )
    return StepOutcome(
        name=data.step.name,
        exit_code=result.exit_code,
        duration_s=result.duration_s,
        log_path=str(log_path),
    )


@activity.defn(name="ferryman.collect_artifacts")
async def collect_artifacts(data: CollectInput) -> ArtifactRef:
    """Store a node's outputs in the content-addressed artifact store."""
    store = ArtifactStore(paths.artifacts_dir())
    try:
        bundle = store.collect(Path(data.workspace), data.outputs)
    except BuildError as exc:
        raise ApplicationError(
            f"{data.node_id}: {exc}", type="OutputsMissing", non_retryable=True
        ) from exc
    return ArtifactRef(
        digest=bundle.digest, files={name: entry.digest for name, entry in bundle.files.items()}
    )


BUILD_ACTIVITIES = (checkout_source, run_build_step, collect_artifacts)
