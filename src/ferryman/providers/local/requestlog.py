"""A router's bounded per-request log: the ground truth for skew windows and rollback timing.

Every request a router routes is appended as one tuple: when the router
received it (wall clock, the clock every router of the machine shares), the
service and version that answered, the status, the generation that routed it
and the zone of the instance. The log keeps the latest :data:`CAPACITY`
entries; readers page through it with ``since`` (a timestamp)::

    log = RequestLog()
    log.add(time.time(), "web", "v2", 200, 7, "a")
    log.since(0.0)    # [(t, "web", "v2", 200, 7, "a")]
"""

from __future__ import annotations

from collections import deque

CAPACITY = 50_000
"""Entries kept per router: at 100 requests/s, over eight minutes."""

Entry = tuple[float, str, str, int, int, str]
"""(received, service, version, status, generation, zone)."""


class RequestLog:
    """The latest requests of one router, oldest first.

    Args:
        capacity: How many entries to keep.
    """

    def __init__(self, capacity: int = CAPACITY) -> None:
        self._entries: deque[Entry] = deque(maxlen=capacity)

    def __len__(self) -> int:
        return len(self._entries)

    def add(
        self, received: float, service: str, version: str, status: int, generation: int, zone: str
    ) -> None:
        """Append one request (entries arrive in about receipt order; see :meth:`since`)."""
        self._entries.append((received, service, version, status, generation, zone))

    def since(self, after: float, limit: int = CAPACITY) -> list[Entry]:
        """Entries received after ``after``, oldest first, at most ``limit``.

        Requests are appended when they finish, so receipt times are only nearly
        sorted; the answer is sorted, and a reader that pages with the last
        timestamp it saw may miss a request that was still in flight then.
        """
        return sorted(entry for entry in self._entries if entry[0] > after)[:limit]
