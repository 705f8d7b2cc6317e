"""Figures from ground truth: the users' own timeline of answers, the agent's event log.

Pure functions over what :mod:`ferryman.demo.traffic` saw (each request's
send time, region, service, answering version and failure) and the times the
agent recorded. Times are wall-clock seconds (``time.time()``); on loopback a
request is sent within a fraction of a millisecond of the router seeing it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from ferryman.demo.traffic import Seen


def skew_window_ms(seen: Iterable[Seen], region: str, service: str, old: str, new: str) -> float:
    """How long a region answered with both versions: first ``new`` answer to last ``old`` one.

    0 when no ``old`` answer came after the first ``new`` one (the switch was
    clean to the request); ``-1`` when the region never answered with ``new``.
    """
    here = [s for s in seen if s.region == region and s.service == service]
    first_new = min((s.at for s in here if s.version == new), default=None)
    if first_new is None:
        return -1.0
    last_old = max((s.at for s in here if s.version == old), default=first_new)
    return max(0.0, last_old - first_new) * 1000


@dataclass(frozen=True)
class Share:
    """Requests answered by one version, against all requests of the window.

    Attributes:
        answered: Requests that version answered.
        failed: Of those, the ones that failed.
        total: Every request of the window (same service, same regions).
    """

    answered: int
    failed: int
    total: int

    @property
    def percent(self) -> float:
        """``answered`` as a percentage of ``total`` (0 without requests)."""
        return 100 * self.answered / self.total if self.total else 0.0

    @property
    def failed_percent(self) -> float:
        """``failed`` as a percentage of ``total`` (0 without requests)."""
        return 100 * self.failed / self.total if self.total else 0.0


def share(
    seen: Iterable[Seen], service: str, version: str, regions: Sequence[str] | None = None
) -> Share:
    """How much of ``service``'s traffic (in ``regions``, default all) ``version`` answered."""
    here = [s for s in seen if s.service == service and (regions is None or s.region in regions)]
    mine = [s for s in here if s.version == version]
    return Share(answered=len(mine), failed=sum(s.failed for s in mine), total=len(here))


def last_answer(seen: Iterable[Seen], service: str, version: str) -> float | None:
    """When the last request that ``version`` answered was sent, if any was."""
    return max((s.at for s in seen if s.service == service and s.version == version), default=None)


def failed(seen: Iterable[Seen], versions: Iterable[str] | None = None) -> int:
    """Failed requests (of ``versions`` only, if given)."""
    wanted = None if versions is None else set(versions)
    return sum(1 for s in seen if s.failed and (wanted is None or s.version in wanted))


def served_last(seen: Sequence[Seen], region: str, service: str, tail_s: float = 2.0) -> set[str]:
    """The versions that answered ``service`` in ``region`` in the last ``tail_s`` seconds seen."""
    here = [s for s in seen if s.region == region and s.service == service]
    if not here:
        return set()
    end = max(s.at for s in here)
    return {s.version for s in here if s.at >= end - tail_s}


def epoch(iso: str) -> float:
    """Seconds since the epoch of an ISO 8601 time (``Z`` or an offset)."""
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
