"""Activities of the release lock: ask for it (signal-with-start), and check on a holder."""

from __future__ import annotations

from collections.abc import Callable

from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from ferryman.temporal.models.lock import LockInput


class LockActivities:
    """Talk to lock workflows with the worker's own client.

    Args:
        client: The worker's connected Temporal client.
    """

    def __init__(self, client: Client) -> None:
        self._client = client

    @activity.defn(name="ferryman.request_lock")
    async def request_lock(self, data: LockInput) -> None:
        """Signal the lock ``acquire``, starting it if it does not run (idempotent)."""
        await self._client.start_workflow(
            "ferryman.ReleaseLock",
            None,
            id=data.lock_id,
            task_queue=data.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            start_signal="acquire",
            start_signal_args=[data.request],
            static_summary=f"one release at a time ({data.lock_id})",
        )

    @activity.defn(name="ferryman.is_running")
    async def is_running(self, workflow_id: str) -> bool:
        """Whether the workflow ``workflow_id`` (its latest run) is still running."""
        try:
            description = await self._client.get_workflow_handle(workflow_id).describe()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return False
            raise
        return description.status == WorkflowExecutionStatus.RUNNING

    def all(self) -> list[Callable[..., object]]:
        """Every activity of this class, for registering on a worker."""
        return [self.request_lock, self.is_running]
