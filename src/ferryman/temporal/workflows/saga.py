"""Helpers for compensations inside workflows: finish them whatever happens meanwhile."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Sequence
from typing import TypeVar

from temporalio import workflow
from temporalio.exceptions import CancelledError, ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from ferryman.deploy.steps import SetRoutes, Step

T = TypeVar("T")
ROUTES_BACK = "routes_back"
"""Signal a restoring region deploy sends its release once its route tables are back."""


async def settle(work: Awaitable[T]) -> T:
    """Await ``work`` to its end, even if the workflow is cancelled meanwhile.

    A compensation abandoned half-way would leave a region half put back; a
    cancellation that arrives during one is absorbed here instead.
    """
    future = asyncio.ensure_future(work)
    while not future.done():
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(future)
    return future.result()


def was_cancelled(error: BaseException | None) -> bool:
    """Whether a child workflow's failure is its cancellation."""
    if isinstance(error, ChildWorkflowError):
        return isinstance(error.cause, CancelledError)
    return isinstance(error, asyncio.CancelledError)


def routes_back_at(steps: Sequence[Step]) -> int:
    """How many of a restore's ``steps`` put users back: up to its last route swap.

    What follows (retiring the version that failed) is cleanup, which need not
    hold back the next region's compensation.
    """
    last = [index for index, step in enumerate(steps) if isinstance(step, SetRoutes)]
    return last[-1] + 1 if last else 0


async def announce_routes_back(region: str) -> None:
    """Tell the parent release that ``region``'s routes are back (no-op without a parent)."""
    parent = workflow.info().parent
    if parent is None:
        return
    handle = workflow.get_external_workflow_handle(parent.workflow_id)
    # The release also learns it when the restore ends; a lost signal only costs time.
    with contextlib.suppress(Exception):
        await handle.signal(ROUTES_BACK, region)
