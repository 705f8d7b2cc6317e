"""Sending promote and rollback decisions to a release's region deploys."""

from __future__ import annotations

from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError

from ferryman.errors import ReleaseError
from ferryman.temporal.deploy_models import Decision
from ferryman.temporal.names import region_deploy_id
from ferryman.temporal.workflows.release import ReleaseWorkflow


async def deploying_regions(client: Client, release_id: str) -> list[str]:
    """Regions of ``release_id`` whose deploy is under way."""
    try:
        progress = await client.get_workflow_handle(release_id).query(ReleaseWorkflow.progress)
    except RPCError as exc:
        raise ReleaseError(f"no release {release_id!r}: {exc.message}") from exc
    return [region for region, status in progress.regions.items() if status == "deploying"]


async def decide(
    client: Client, release_id: str, action: str, decision: Decision, region: str | None = None
) -> list[str]:
    """Send a ``promote`` or ``rollback`` Update to one region or every region deploying.

    Returns:
        The workflow's answer for each region.

    Raises:
        ReleaseError: If nothing is deploying, or a region refuses (the validator's reason).
    """
    regions = [region] if region else await deploying_regions(client, release_id)
    if not regions:
        raise ReleaseError(f"{release_id} has no region deploying right now; nothing to {action}")
    answers: list[str] = []
    for name in regions:
        handle = client.get_workflow_handle(region_deploy_id(release_id, name))
        try:
            answers.append(await handle.execute_update(action, decision, result_type=str))
        except WorkflowUpdateFailedError as exc:
            reason = getattr(exc.cause, "message", None) or str(exc.cause or exc)
            raise ReleaseError(f"{action} refused: {reason}") from exc
        except RPCError as exc:
            raise ReleaseError(
                f"{action} refused: {release_id} in {name} is not running ({exc.message})"
            ) from exc
    return answers
