"""Version labels derived from what was built."""

from __future__ import annotations


def derive_version(commit: str) -> str:
    """A version label from a source commit: 12 hex digits, ``-dirty`` kept.

    Args:
        commit: A git sha (optionally ``-dirty``) or ``sha256:<hex>`` content digest.

    Returns:
        A short label such as ``3f2a9c1b7d0e`` or ``3f2a9c1b7d0e-dirty``.
    """
    base = commit.removeprefix("sha256:")
    dirty = base.endswith("-dirty")
    short = base.removesuffix("-dirty")[:12] or "unknown"
    return f"{short}-dirty" if dirty else short
