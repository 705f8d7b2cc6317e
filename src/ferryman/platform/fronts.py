"""How a zonal region's front spreads users across its zone routers (pure).

In a zonal data plane each zone has its own router, and something in front of
them (DNS, a global load balancer; locally, a small front process) sends each
client to one zone. The front hashes the user id with rendezvous hashing:
every user gets a stable order of preference over the zones, the first zone
takes them while its router answers, and a zone going away moves only its own
users (to their second choice)::

    zone_order("user-42", ("a", "b", "c"))    # e.g. ("b", "c", "a"), the same on every run

The hash is keyed apart from :func:`ferryman.platform.routes.user_bucket`, so a
canary's low buckets do not all land in one zone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

USER_HEADER = "X-User-Id"
USER_COOKIE = "ferryman_user"


def _score(user: str, zone: str) -> int:
    digest = hashlib.blake2b(
        f"{zone}\0{user}".encode(), digest_size=8, person=b"ferryman-front"
    ).digest()
    return int.from_bytes(digest, "big")


def zone_order(user: str, zones: Sequence[str]) -> tuple[str, ...]:
    """The zones in ``user``'s order of preference (highest rendezvous score first)."""
    return tuple(sorted(zones, key=lambda zone: (-_score(user, zone), zone)))
