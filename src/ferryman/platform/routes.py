"""Route tables as pure logic: validate one, and pick a version for a request.

Every provider and the fake one check tables with :func:`check_table`, so a bad
table gets the same one-line message everywhere, and the router's choice is a
pure function of the request's headers and cookies (plus a cursor for the
weighted split) that is unit-tested without a socket::

    table = RouteTable(service="web", weights={"v1": 95, "v2": 5})
    check_table(table, running={"v1", "v2"})
    chooser = Chooser(table)
    chooser.choose(headers={}, cookies={})  # "v1" 19 times in 20
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Mapping, Set

from ferryman.platform.models import RouteRule, RouteTable

BUCKETS = 10_000


class RouteError(ValueError):
    """A route table that cannot be installed; the message is one line."""


def user_bucket(user_id: str) -> int:
    """The stable bucket 0-9999 of a user id (the same on every router, every run)."""
    digest = hashlib.blake2b(user_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % BUCKETS


def schedule(weights: Mapping[str, int]) -> tuple[str, ...]:
    """One cycle of smooth weighted round-robin over versions.

    The cycle is as short as the weights allow (50/50 gives two slots, 95/5
    twenty) and interleaves versions evenly, so any whole number of cycles
    splits traffic exactly by weight.

    Args:
        weights: Version → positive or zero weight; at least one is positive.
    """
    live = {version: w for version, w in sorted(weights.items()) if w > 0}
    divisor = math.gcd(*live.values())
    reduced = {version: w // divisor for version, w in live.items()}
    total = sum(reduced.values())
    current = dict.fromkeys(reduced, 0)
    slots = []
    for _ in range(total):
        for version, weight in reduced.items():
            current[version] += weight
        chosen = max(current, key=lambda v: current[v])
        current[chosen] -= total
        slots.append(chosen)
    return tuple(slots)


def _check_weights(weights: Mapping[str, int]) -> None:
    split = ", ".join(f"{v}={w}" for v, w in sorted(weights.items())) or "no versions"
    bad = ", ".join(f"{v}={w}" for v, w in sorted(weights.items()) if not 0 <= w <= 100)
    if bad:
        raise RouteError(f"weights are percents 0..100, got {bad}")
    total = sum(weights.values())
    if total != 100:
        raise RouteError(f"weights must sum to 100, got {total} ({split})")


def _check_rule(index: int, rule: RouteRule) -> None:
    where = f"rules[{index}]"
    kinds = [k for k in ("header", "cookie", "buckets") if getattr(rule, k) is not None]
    if len(kinds) != 1:
        got = ", ".join(kinds) or "none"
        raise RouteError(f"{where}: set exactly one of header, cookie or buckets, got {got}")
    if kinds[0] in ("header", "cookie"):
        name = getattr(rule, kinds[0])
        if not name or rule.equals is None:
            raise RouteError(f"{where}: a {kinds[0]} rule needs a name and 'equals'")
    elif rule.equals is not None:
        raise RouteError(f"{where}: 'equals' applies to header and cookie rules only")
    elif rule.buckets is not None and not 0 <= rule.buckets <= BUCKETS:
        raise RouteError(f"{where}: buckets is 0..{BUCKETS}, got {rule.buckets}")


def check_table(table: RouteTable, running: Set[str] | None = None, region: str = "") -> None:
    """Raise :class:`RouteError` unless ``table`` can be installed.

    Args:
        table: The table to check.
        running: Versions with running instances; when given, every version the
            table names must be one of them.
        region: Named in the message about versions that do not run.
    """
    _check_weights(table.weights)
    for index, rule in enumerate(table.rules):
        _check_rule(index, rule)
    if table.mirror is not None and not 0 <= table.mirror.percent <= 100:
        raise RouteError(f"mirror.percent is 0..100, got {table.mirror.percent:g}")
    if not table.user_header.strip():
        raise RouteError("user_header must name a header")
    if running is not None:
        unknown = sorted(table.versions() - set(running))
        if unknown:
            have = ", ".join(sorted(running)) or "none"
            raise RouteError(
                f"cannot route {table.service}{' in ' + region if region else ''}"
                f" to {', '.join(unknown)}:"
                f" no running instance (running versions: {have})"
            )


class Chooser:
    """A compiled table: ``choose`` gives the version of one request.

    Args:
        table: A table that passed :func:`check_table`.
    """

    def __init__(self, table: RouteTable) -> None:
        self.table = table
        self.slots = schedule(table.weights)
        self.needs_cookies = any(rule.cookie is not None for rule in table.rules)
        self._cursor = itertools.count()
        self._mirror_cursor = itertools.count()
        mirror = table.mirror
        self._mirror_every = 0.0 if mirror is None or mirror.percent <= 0 else 100 / mirror.percent

    def choose(self, headers: Mapping[str, str], cookies: Mapping[str, str]) -> str:
        """The version a request with these headers and cookies goes to.

        Args:
            headers: Request headers (a case-insensitive mapping).
            cookies: Request cookies by name.
        """
        bucket: int | None = None
        for rule in self.table.rules:
            if rule.header is not None:
                if headers.get(rule.header) == rule.equals:
                    return rule.version
            elif rule.cookie is not None:
                if cookies.get(rule.cookie) == rule.equals:
                    return rule.version
            elif rule.buckets is not None:
                user = headers.get(self.table.user_header)
                if user is None:
                    continue
                if bucket is None:
                    bucket = user_bucket(user)
                if bucket < rule.buckets:
                    return rule.version
        return self.slots[next(self._cursor) % len(self.slots)]

    def mirror_to(self) -> str | None:
        """The version the current request is also copied to, if it is one of the mirrored."""
        if not self._mirror_every or self.table.mirror is None:
            return None
        turn = next(self._mirror_cursor)
        # Evenly spread: request n is mirrored when it crosses a multiple of 100/percent.
        if math.floor((turn + 1) / self._mirror_every) > math.floor(turn / self._mirror_every):
            return self.table.mirror.version
        return None
