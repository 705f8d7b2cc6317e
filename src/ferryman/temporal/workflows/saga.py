"""Helpers for compensations inside workflows: finish them whatever happens meanwhile."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import TypeVar

from temporalio.exceptions import CancelledError, ChildWorkflowError

T = TypeVar("T")


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
