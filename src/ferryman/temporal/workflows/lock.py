"""``ReleaseLockWorkflow``: two releases of a system to one environment never interleave.

One lock workflow per system and environment (``lock/<system>/<env>``) keeps a
FIFO queue of releases. A release asks for it through an activity that
signals-with-start the lock (``acquire``); the lock signals the head of the
queue ``lock_granted`` and, to a release that asked not to wait while another
holds it, ``lock_refused``. A release signals ``release`` when it ends. A
holder that ended without saying so (terminated, say) is noticed by a periodic
check and dropped, so the queue never sticks. The lock ends as soon as nobody
holds or waits; the next release starts it again.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from ferryman.temporal.activities.lock import LockActivities
    from ferryman.temporal.models.lock import LockRequest, LockState

CHECK_EVERY = timedelta(minutes=1)


@workflow.defn(name="ferryman.ReleaseLock")
class ReleaseLockWorkflow:
    """Grants one system's environment to one release at a time, in arrival order."""

    @workflow.init
    def __init__(self, state: LockState | None = None) -> None:
        # Set up before any signal is handled: a signal-with-start's signal comes first.
        self._queue: list[LockRequest] = list(state.queue) if state else []
        self._granted = ""
        self._changed = False

    @workflow.query
    def holders(self) -> list[str]:
        """The releases holding (first) or waiting for the lock, in order."""
        return [request.release_id for request in self._queue]

    @workflow.signal
    async def acquire(self, request: LockRequest) -> None:
        """Queue ``request`` (once), or refuse it if it does not wait and the lock is held."""
        if any(r.release_id == request.release_id for r in self._queue):
            return
        if self._queue and not request.wait:
            holder = self._queue[0].release_id
            await workflow.get_external_workflow_handle(request.release_id).signal(
                "lock_refused", holder
            )
            return
        self._queue.append(request)
        self._changed = True

    @workflow.signal
    def release(self, release_id: str) -> None:
        """Drop ``release_id`` from the queue (the holder, or one that gave up waiting)."""
        self._queue = [r for r in self._queue if r.release_id != release_id]
        self._changed = True

    @workflow.run
    async def run(self, state: LockState | None = None) -> None:
        """Grant the head of the queue and check on it now and then; end once nobody waits."""
        while self._queue:
            await self._grant()
            self._changed = False
            try:
                await workflow.wait_condition(lambda: self._changed, timeout=CHECK_EVERY)
            except TimeoutError:
                await self._drop_ended_holder()
            if workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(LockState(queue=tuple(self._queue)))
        await workflow.wait_condition(workflow.all_handlers_finished)

    async def _grant(self) -> None:
        if not self._queue or self._granted == self._queue[0].release_id:
            return
        self._granted = self._queue[0].release_id
        await workflow.get_external_workflow_handle(self._granted).signal("lock_granted")

    async def _drop_ended_holder(self) -> None:
        if not self._queue:
            return
        holder = self._queue[0].release_id
        running = await workflow.execute_activity_method(
            LockActivities.is_running,
            holder,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=10)),
            summary=f"is {holder} still running?",
        )
        if not running:
            self.release(holder)
