"""What each traffic backend of the local platform can route, as a pure check.

Spec validation can call :func:`unsupported` with the backend a stack runs
(``builtin`` or ``haproxy``) to refuse, with its location, a strategy whose
tables that backend cannot serve; the agent refuses such a table too::

    unsupported("haproxy", RouteTable(service="web", weights={"v1": 100},
                                      mirror=Mirror(version="v2", percent=5)))
    # "the haproxy traffic backend cannot mirror requests (mirror to v2): use builtin"
"""

from __future__ import annotations

from ferryman.platform.models import RouteTable

BACKENDS = ("builtin", "haproxy")


def unsupported(backend: str, table: RouteTable) -> str | None:
    """Why ``backend`` cannot serve ``table`` (one line), or None when it can.

    Args:
        backend: ``builtin`` or ``haproxy``.
        table: The route table.
    """
    if backend == "haproxy" and table.mirror is not None and table.mirror.percent > 0:
        return (
            "the haproxy traffic backend cannot mirror requests"
            f" (mirror to {table.mirror.version}): use the builtin backend"
        )
    return None
