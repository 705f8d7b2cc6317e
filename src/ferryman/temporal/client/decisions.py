"""Sending decisions to a running release: promote its held regions, or roll it back.

Both are Updates with validators: a refused decision never reaches the history,
and the caller gets the workflow's one-line reason.
"""

from __future__ import annotations

from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError

from ferryman.errors import ReleaseError
from ferryman.temporal.client.releases import note_promotion, release_progress
from ferryman.temporal.models.region import Decision
from ferryman.temporal.names import region_deploy_id
from ferryman.temporal.workflows.region import RegionDeployWorkflow
from ferryman.temporal.workflows.release import ReleaseWorkflow


def _refusal(action: str, exc: WorkflowUpdateFailedError) -> ReleaseError:
    reason = getattr(exc.cause, "message", None) or str(exc.cause or exc)
    return ReleaseError(f"{action} refused: {reason}")


async def promote(
    client: Client, release_id: str, decision: Decision, region: str | None = None
) -> list[str]:
    """Promote one region, or every region of the release now deploying.

    Returns:
        The workflow's answer for each region.

    Raises:
        ReleaseError: The release does not exist, has no such region, nothing is
            deploying, or a region refuses (the validator's reason).
    """
    progress, _ = await release_progress(client, release_id)
    if progress is None:
        raise ReleaseError(f"no release {release_id!r} (see `ferryman status`)")
    if region is not None and region not in progress.regions:
        known = ", ".join(progress.regions) or "none"
        raise ReleaseError(f"{progress.environment} has no region {region} (regions: {known})")
    regions = (
        [region]
        if region
        else [name for name, state in progress.regions.items() if state == "deploying"]
    )
    if not regions:
        raise ReleaseError(f"{release_id} has no region deploying right now; nothing to promote")
    answers: list[str] = []
    for name in regions:
        handle = client.get_workflow_handle_for(
            RegionDeployWorkflow.run, region_deploy_id(release_id, name)
        )
        try:
            answers.append(await handle.execute_update(RegionDeployWorkflow.promote, decision))
            await note_promotion(client, release_id, name, decision)
        except WorkflowUpdateFailedError as exc:
            raise _refusal("promote", exc) from exc
        except RPCError as exc:
            raise ReleaseError(
                f"promote refused: {release_id} is not deploying {name} ({exc.message})"
            ) from exc
    return answers


async def rollback(client: Client, release_id: str, decision: Decision) -> str:
    """Roll back every region the release touched; returns once they are back.

    Raises:
        ReleaseError: The release does not exist or refuses (the validator's reason).
    """
    handle = client.get_workflow_handle_for(ReleaseWorkflow.run, release_id)
    try:
        return await handle.execute_update(ReleaseWorkflow.rollback, decision)
    except WorkflowUpdateFailedError as exc:
        raise _refusal("rollback", exc) from exc
    except RPCError as exc:
        raise ReleaseError(f"rollback refused: no running release {release_id!r}") from exc


async def steer(client: Client, release_id: str, action: str, decision: Decision) -> str:
    """Send ``pause``, ``resume`` or ``abort`` to a release; returns its answer.

    Raises:
        ReleaseError: The release does not exist or refuses (the validator's reason).
    """
    handle = client.get_workflow_handle_for(ReleaseWorkflow.run, release_id)
    updates = {
        "pause": ReleaseWorkflow.pause,
        "resume": ReleaseWorkflow.resume,
        "abort": ReleaseWorkflow.abort,
    }
    try:
        return await handle.execute_update(updates[action], decision)
    except WorkflowUpdateFailedError as exc:
        raise _refusal(action, exc) from exc
    except RPCError as exc:
        raise ReleaseError(f"{action} refused: no running release {release_id!r}") from exc
