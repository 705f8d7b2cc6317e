"""How a build's failures read: each node named once, with its own reason.

A step's failure already starts with its node (``hello: step 'test' exited …``,
so it reads well alone); a summary that names the node again strips it::

    failure_summary([("hello", "failed", "hello: step 'test' exited with code 1")])
    # → "hello failed: step 'test' exited with code 1"
"""

from __future__ import annotations

from collections.abc import Iterable


def own_reason(node_id: str, error: str) -> str:
    """``error`` without a leading ``<node_id>: ``, which the caller names already."""
    return error.removeprefix(f"{node_id}: ")


def node_failure(node_id: str, status: str, error: str, kind: str = "") -> str:
    """One node's outcome in one line: ``catalog failed (build): step 'x' exited …``."""
    why = f" ({kind})" if kind else ""
    reason = own_reason(node_id, error)
    return f"{node_id} {status}{why}: {reason}" if reason else f"{node_id} {status}{why}"


def failure_summary(failures: Iterable[tuple[str, str, str]]) -> str:
    """Every failed node as ``<node> <status>: <reason>``, joined by ``; ``."""
    return "; ".join(node_failure(node, status, error) for node, status, error in failures)
