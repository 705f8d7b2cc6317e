"""Build activities: one node end to end, or its parts (checkout, one step, outputs).

They run on the ``ferryman-build`` task queue; the worker's slot count there is
the build throttle. ``BuildWorkflow`` uses the fused ``ferryman.build_node``
(one round trip per node: checkout, cache lookup, fan-in, steps, outputs,
provenance). Each is idempotent: a retry after a crash finds the checkout
marker, the steps' result markers, the stored blobs and the cache entry and
returns them.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

from temporalio import activity
from temporalio.exceptions import ApplicationError

from ferryman import paths
from ferryman.build.artifacts import ArtifactStore, Bundle
from ferryman.build.cache import BuildCache, CacheEntry, cache_key
from ferryman.build.checkout import Checkout, checkout
from ferryman.build.fanin import Dependency, hand_over
from ferryman.build.logs import step_log_path
from ferryman.build.provenance import ProvenanceStore, build_statement
from ferryman.build.steps import run_step
from ferryman.errors import BuildError
from ferryman.plan.models import BuildNode
from ferryman.temporal.activities.secrets import read_secrets
from ferryman.temporal.models.build import (
    ArtifactRef,
    CacheProbeInput,
    CacheProbeOutput,
    NodeBuildInput,
    NodeBuildOutput,
    StepInput,
    StepOutcome,
)


def workspace_for(run_id: str, node_id: str) -> Path:
    """The workspace directory of one node in one build run."""
    safe_run = re.sub(r"[^A-Za-z0-9._-]+", "_", run_id)
    return paths.workspaces_dir() / safe_run / node_id


async def run_build_step(data: StepInput, extra_env: dict[str, str] | None = None) -> StepOutcome:
    """Run one build step inside ``build_node``; a non-zero exit fails it for good, naming the step.

    Args:
        data: The step and where to run it.
        extra_env: More variables for the step (the fused activity's fan-in).
    """
    log_path = step_log_path(
        paths.logs_dir(), data.run_id, data.node_id, data.index, data.step.name
    )
    secrets = read_secrets(data.step.secrets)
    try:
        result = await run_step(
            data.step,
            Path(data.workspace),
            log_path,
            env={
                "FERRYMAN_RUN_ID": data.run_id,
                "FERRYMAN_NODE": data.node_id,
                **(extra_env or {}),
            },
            heartbeat=activity.heartbeat,
            secrets=secrets,
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


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@contextlib.asynccontextmanager
async def _heartbeats(interval_s: float = 1.0) -> AsyncIterator[None]:
    """Heartbeat in the background, so cancellation reaches even a long checkout.

    The first beat comes after ``interval_s``: a node done sooner (a cache hit,
    a short step) costs the server no heartbeat call, and the heartbeat timeout
    (30 s) is far longer than one interval.
    """

    async def beat() -> None:
        while True:
            await asyncio.sleep(interval_s)
            activity.heartbeat()

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()


def _artifact_ref(bundle: Bundle) -> ArtifactRef:
    return ArtifactRef(
        digest=bundle.digest, files={name: entry.digest for name, entry in bundle.files.items()}
    )


async def _run_steps(
    data: NodeBuildInput, workspace: Path, env: dict[str, str]
) -> list[StepOutcome]:
    outcomes = []
    for index, step in enumerate(data.node.steps):
        outcome = await run_build_step(
            StepInput(
                run_id=data.run_id,
                node_id=data.node.id,
                index=index,
                step=step,
                workspace=str(workspace),
            ),
            extra_env=env,
        )
        outcomes.append(outcome)
    return outcomes


def _checkout(run_id: str, node: BuildNode) -> Checkout:
    dest = workspace_for(run_id, node.id)
    try:
        return checkout(node.source, node.ref, dest, paths.home() / "git-cache")
    except BuildError as exc:
        raise ApplicationError(str(exc), type="CheckoutFailed", non_retryable=True) from exc


@activity.defn(name="ferryman.build_node")
async def build_node(data: NodeBuildInput) -> NodeBuildOutput:
    """Build one node, or reuse its cached artifact when nothing it depends on changed."""
    started, clock = _now(), time.monotonic()
    node = data.node
    store = ArtifactStore(paths.artifacts_dir())
    cache = BuildCache(store)
    async with _heartbeats():
        source = await asyncio.to_thread(_checkout, data.run_id, data.node)
        deps = {dep.node_id: dep.digest for dep in data.dependencies}
        key = cache_key(source.tree_digest, node, deps)
        entry = await asyncio.to_thread(cache.lookup, key) if data.use_cache else None
        if entry is not None:
            bundle = store.bundle(entry.artifact)
            return NodeBuildOutput(
                commit=source.commit,
                artifact=_artifact_ref(bundle),
                cache_key=key,
                cached=True,
                duration_s=time.monotonic() - clock,
            )
        handed = [
            Dependency(d.node_id, d.repo, dict(d.matrix), d.digest) for d in data.dependencies
        ]
        env = await asyncio.to_thread(hand_over, store, source.path, handed)
        outcomes = await _run_steps(data, source.path, env)
        bundle = await asyncio.to_thread(_collect, store, node.id, source.path, node.outputs)
        statement = build_statement(
            node_id=node.id,
            bundle=bundle,
            external={
                "repo": node.repo,
                "source": node.source,
                "ref": node.ref or "HEAD",
                "matrix": node.matrix,
            },
            commit=source.commit,
            source=node.source,
            dependencies=deps,
            builder_id=data.builder_id,
            invocation_id=data.invocation_id,
            started_on=started,
            finished_on=_now(),
            internal={"cacheKey": key, "node": node.id},
        )
        provenance = ProvenanceStore(store, paths.home() / "keys")
        await asyncio.to_thread(provenance.save, bundle.digest, statement)
        cache.record(
            CacheEntry(
                key=key,
                node_id=node.id,
                artifact=bundle.digest,
                commit=source.commit,
                invocation=data.invocation_id,
            )
        )
    return NodeBuildOutput(
        commit=source.commit,
        artifact=_artifact_ref(bundle),
        cache_key=key,
        cached=False,
        steps=tuple(outcomes),
        duration_s=time.monotonic() - clock,
        provenance=str(provenance.path(bundle.digest)),
    )


@activity.defn(name="ferryman.probe_cache")
async def probe_cache(data: CacheProbeInput) -> CacheProbeOutput:
    """Every node that is a cache hit, resolved in topological order in one activity.

    A node is probed only when all its needs are hits (or prebuilt): only then
    are the output digests its key depends on known. Sources are checked out
    into the nodes' workspaces, which a later ``build_node`` finds ready.
    """
    store = ArtifactStore(paths.artifacts_dir())
    cache = BuildCache(store)
    known = dict(data.prebuilt)
    hits: dict[str, NodeBuildOutput] = {}
    async with _heartbeats():
        for node in data.nodes:
            if not all(need in known for need in node.needs):
                continue
            started = time.monotonic()
            source = await asyncio.to_thread(_checkout, data.run_id, node)
            key = cache_key(source.tree_digest, node, {need: known[need] for need in node.needs})
            entry = await asyncio.to_thread(cache.lookup, key)
            if entry is None:
                continue
            known[node.id] = entry.artifact
            hits[node.id] = NodeBuildOutput(
                commit=source.commit,
                artifact=_artifact_ref(store.bundle(entry.artifact)),
                cache_key=key,
                cached=True,
                duration_s=time.monotonic() - started,
            )
    return CacheProbeOutput(hits=hits)


def _collect(
    store: ArtifactStore, node_id: str, workspace: Path, outputs: tuple[str, ...]
) -> Bundle:
    try:
        return store.collect(workspace, outputs)
    except BuildError as exc:
        raise ApplicationError(
            f"{node_id}: {exc}", type="OutputsMissing", non_retryable=True
        ) from exc


BUILD_ACTIVITIES = (build_node, probe_cache)
