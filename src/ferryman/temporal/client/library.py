"""ferryman as a library: start a release from a spec or a plan, follow it, decide its gates.

These are the functions ``ferryman`` exports (see ``ferryman.__all__``); the CLI,
the dashboard and a user's own program all drive releases the same way. A
client must use ferryman's data converter (pydantic models as JSON): connect
with :func:`ferryman.connect`, or pass
``temporalio.contrib.pydantic.pydantic_data_converter`` yourself.

Example::

    import ferryman

    client = await ferryman.connect(ferryman.Connection("localhost:7233"))
    handle = await ferryman.start_release(client, "ferryman.yaml", "prod")
    async for progress in ferryman.follow_release(client, handle.id):
        print(progress.phase, progress.waiting_for)
        if progress.phase == "awaiting-approval":
            await ferryman.decide_gate(client, handle.id, user="alice", comment="go")
    result = await handle.result()

On one machine, ``ferryman dev``'s worker serves the regions it has been told
of: call ``ferryman.serve_regions_on_dev_stack(plan)`` before starting a release
whose regions no ``ferryman release`` has announced (a no-op without a dev stack).

To run a release inside your own workflow, start ``ReleaseWorkflow`` as a child
on ferryman's task queue (served by ``ferryman worker`` or ``ferryman dev``)::

    result = await workflow.execute_child_workflow(
        ReleaseWorkflow.run, plan, id=f"{workflow.info().workflow_id}/api", task_queue="ferryman"
    )
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from os import PathLike
from pathlib import Path

from temporalio.client import Client

from ferryman.approvals.policy import GateDecision
from ferryman.errors import PlanError
from ferryman.identity.config import load_directory
from ferryman.identity.models import Directory
from ferryman.plan.compile import compile_plan
from ferryman.plan.models import ReleasePlan
from ferryman.spec.load import load_spec, spec_file
from ferryman.spec.models import Spec
from ferryman.temporal.client import gates as gate_client
from ferryman.temporal.client import releases
from ferryman.temporal.models.release import FINISHED_PHASES, ReleaseProgress
from ferryman.temporal.names import TASK_QUEUE

ReleaseHandle = releases.ReleaseHandle


def plan_release(
    source: ReleasePlan | Spec | str | PathLike[str],
    environment: str | None = None,
    *,
    version: str | None = None,
    spec_path: str | PathLike[str] | None = None,
    requested_by: str = "",
    directory: Directory | None = None,
) -> ReleasePlan:
    """The plan of a release: ``source`` itself, or compiled from a spec.

    Args:
        source: A plan (used as it is), a loaded spec, or the path of a
            ``ferryman.yaml`` (or of the directory holding it).
        environment: The environment to release to (required unless ``source`` is a plan).
        version: The version label (default: derived from each service's commit).
        spec_path: For a loaded ``Spec``: where it was read from (its relative
            sources resolve against it); default ``./ferryman.yaml``.
        requested_by: Who asks for the release (gates' separation of duties).
        directory: Users and groups that gate approvers name (default: the ferryman
            config, read only when the environment has gates).

    Raises:
        PlanError: No environment given, or the spec cannot release to it.
        SpecError: The spec file has problems (all of them, located).
    """
    if isinstance(source, ReleasePlan):
        return source
    if environment is None:
        raise PlanError("an environment is needed to plan a release from a spec")
    if isinstance(source, Spec):
        spec, path = source, Path(spec_path or "ferryman.yaml")
    else:
        path = spec_file(Path(source))
        spec = load_spec(path)
    gated = environment in spec.environments and bool(spec.environments[environment].gates)
    config = directory if directory is not None or not gated else load_directory()
    return compile_plan(
        spec, path, environment, version, directory=config, requested_by=requested_by
    )


async def start_release(
    client: Client,
    source: ReleasePlan | Spec | str | PathLike[str],
    environment: str | None = None,
    *,
    version: str | None = None,
    task_queue: str = TASK_QUEUE,
    spec_path: str | PathLike[str] | None = None,
    requested_by: str = "",
    directory: Directory | None = None,
) -> ReleaseHandle:
    """Start a release from a plan or a spec; returns its handle (``await handle.result()``).

    The release gets the next free id ``release/<system>/<env>/<seq>`` and runs on
    ``task_queue``, which ferryman's workers must serve (``ferryman worker``, or
    ``ferryman dev`` on one machine, after ``serve_regions_on_dev_stack(plan)``).
    Arguments as for :func:`plan_release`.
    """
    plan = plan_release(
        source,
        environment,
        version=version,
        spec_path=spec_path,
        requested_by=requested_by,
        directory=directory,
    )
    return await releases.start_release(client, plan, task_queue)


async def follow_release(
    client: Client, release_id: str, *, interval: float = 0.5
) -> AsyncIterator[ReleaseProgress]:
    """Yield a release's progress each time it changes, until the release has finished.

    Progress comes from a worker's answer to the ``progress`` query, else from what
    the release last recorded on the server (so it works with no worker running).

    Raises:
        ReleaseError: No release ``release_id``.
    """
    from ferryman.errors import ReleaseError

    last: ReleaseProgress | None = None
    while True:
        progress, source = await releases.release_progress(client, release_id)
        if progress is None and source == "none":
            raise ReleaseError(f"no release {release_id!r}")
        if progress is not None and progress != last:
            last = progress
            yield progress
        if progress is not None and progress.phase in FINISHED_PHASES:
            return
        await asyncio.sleep(interval)


async def decide_gate(
    client: Client,
    release_id: str,
    *,
    user: str,
    approve: bool = True,
    gate: str = "",
    comment: str = "",
    inputs: Mapping[str, str] | None = None,
    region: str | None = None,
) -> str:
    """Approve or reject a gate of a release; returns where the gate stands.

    Args:
        client: Connected with ferryman's data converter.
        release_id: The release.
        user: Who decides (your program authenticates them; the gate's policy
            judges whether they may).
        approve: Approve (True) or reject (False).
        gate: The gate's name; empty: the release's only pending gate.
        comment: Why, kept in the audit trail.
        inputs: Values the gate asks for (e.g. ``{"ticket": "CHG-42"}``).
        region: For a ``promotion`` gate: the region whose promotion to decide.

    Raises:
        GateRefused: No such gate, several match, or the policy refuses (``kind``
            says which).
    """
    decision = GateDecision(
        gate=gate,
        verdict="approve" if approve else "reject",
        user=user,
        comment=comment,
        inputs=dict(inputs or {}),
        channel="api",
    )
    return await gate_client.decide(client, release_id, decision, region)
