"""Messages of ``ReleaseLockWorkflow``: one release at a time per system and environment."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class _Msg(BaseModel):
    model_config = ConfigDict(frozen=True)


class LockRequest(_Msg):
    """A release asking for its environment.

    Attributes:
        release_id: The release (a workflow id), told by signal when it holds the lock.
        wait: Queue behind the holder; False refuses at once when the lock is held.
    """

    release_id: str
    wait: bool = True


class LockInput(_Msg):
    """Ask the lock of ``lock_id`` (starting it if needed) for ``request``."""

    lock_id: str
    task_queue: str
    request: LockRequest


class LockState(_Msg):
    """The queue, carried across continue-as-new: the holder first."""

    queue: tuple[LockRequest, ...] = ()
