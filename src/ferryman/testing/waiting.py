"""Waiting in tests: a condition polled until a deadline, failing loudly, never a bare sleep.

::

    started = await eventually(lambda: provider.events("instance.started"), what="a start")

A test that waits for the state it needs, instead of sleeping long enough for
it on a fast machine, neither flakes on a loaded one nor passes by luck: when
the condition never holds, it fails and says what it waited for.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class NeverHappened(AssertionError):
    """A condition a test waited for did not hold before its deadline."""


async def eventually(
    check: Callable[[], Awaitable[T]], *, what: str, within: float = 60.0, every: float = 0.05
) -> T:
    """Await ``check()`` until it returns something truthy; returns that value.

    Raises:
        NeverHappened: Still falsy after ``within`` seconds (the message names ``what``
            and the last value seen).
    """
    deadline = time.monotonic() + within
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise NeverHappened(f"timed out after {within:g}s waiting for {what} (last: {value!r})")
        await asyncio.sleep(every)


def until(check: Callable[[], T], *, what: str, within: float = 60.0, every: float = 0.1) -> T:
    """The blocking form of :func:`eventually`, for synchronous tests."""
    deadline = time.monotonic() + within
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise NeverHappened(f"timed out after {within:g}s waiting for {what} (last: {value!r})")
        time.sleep(every)
