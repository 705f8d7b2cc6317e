"""Unpacking a bundle once, safely, while several zones ask for it at the same time."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from ferryman.build.artifacts import ArtifactStore


def unpack_once(store: ArtifactStore, digest: str, root: Path) -> Path:
    """A complete, read-only-by-convention copy of bundle ``digest`` under ``root``.

    Each caller materialises into a private directory and publishes it with an
    atomic rename; whoever loses the race removes its copy and uses the winner's.
    A reader therefore never sees a half-written tree.

    Raises:
        BuildError: If the bundle is missing or corrupt.
    """
    final = root / digest.removeprefix("sha256:")
    if final.is_dir():
        return final
    root.mkdir(parents=True, exist_ok=True)
    private = root / f".{final.name}.{uuid.uuid4().hex}"
    try:
        store.materialize(digest, private)
        try:
            os.rename(private, final)
        except OSError:
            if not final.is_dir():
                raise
    finally:
        shutil.rmtree(private, ignore_errors=True)
    return final
