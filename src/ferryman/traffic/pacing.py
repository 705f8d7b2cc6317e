"""Open-loop pacing: the n-th request is due at ``start + n / rps``, whatever came before.

A slow answer does not delay the next request (that would hide latency, the
"coordinated omission" trap); a request the client could not send on time is
counted as late instead.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class Pacer:
    """Hands out send times at a fixed rate.

    Args:
        rps: Requests per second, > 0.
        clock: Monotonic clock, replaceable in tests.
    """

    def __init__(self, rps: float, clock: Callable[[], float] = time.monotonic) -> None:
        if rps <= 0:
            raise ValueError(f"rps must be > 0, got {rps:g}")
        self.rps = rps
        self._clock = clock
        self._start: float | None = None
        self._sent = 0

    def due(self, n: int) -> float:
        """When request ``n`` (from 0) is due, on the pacer's clock."""
        if self._start is None:
            self._start = self._clock()
        return self._start + n / self.rps

    async def next(self) -> float:
        """Wait until the next request is due; returns how late it is in seconds (≥ 0)."""
        due = self.due(self._sent)
        self._sent += 1
        delay = due - self._clock()
        if delay > 0:
            await asyncio.sleep(delay)
            return 0.0
        return -delay
