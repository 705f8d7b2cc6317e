"""The content-addressed build cache: keys, and entries kept in the artifact store.

A node's key hashes everything that decides its outputs: the source tree
digest, the resolved steps (commands, environment, shell, working directory),
the output globs, the matrix leg and the *output* digests of its dependencies
(so a dependency rebuilt to identical bytes does not force rebuilds
downstream). Entries live in ``<store>/cache/<key>.json``; a lookup serves an
entry only if its bundle and every blob still hash to their names, so a stale
or corrupt entry is dropped and rebuilt, never served.

Example::

    cache = BuildCache(ArtifactStore(paths.artifacts_dir()))
    key = cache_key(checkout.tree_digest, node, {"lib": "sha256:…"})
    entry = cache.lookup(key)        # None on a miss
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from ferryman.build.artifacts import ArtifactStore, atomic_write_bytes
from ferryman.plan.models import BuildNode

KEY_VERSION = "ferryman-cache-v1"


def cache_key(tree_digest: str, node: BuildNode, dependency_digests: Mapping[str, str]) -> str:
    """The cache key of one build node.

    Args:
        tree_digest: The checked-out source's git tree id or content digest.
        node: The node (its steps, outputs and matrix leg are hashed; its id is not).
        dependency_digests: Dependency node id → the bundle digest it produced.

    Returns:
        ``sha256:<hex>`` of the canonical description.
    """
    description = {
        "version": KEY_VERSION,
        "source": tree_digest,
        "steps": [step.model_dump(mode="json") for step in node.steps],
        "outputs": list(node.outputs),
        "matrix": dict(sorted(node.matrix.items())),
        "dependencies": dict(sorted(dependency_digests.items())),
    }
    raw = json.dumps(description, sort_keys=True, separators=(",", ":")).encode()
    return "sha256:" + hashlib.sha256(raw).hexdigest()


class CacheEntry(BaseModel):
    """What a cached build produced.

    Attributes:
        key: The cache key.
        node_id: The node that produced it first.
        artifact: Bundle digest of its outputs.
        commit: The source commit it was built from.
        invocation: The build run (workflow id/run id) that produced it.
    """

    model_config = ConfigDict(frozen=True)

    key: str
    node_id: str
    artifact: str
    commit: str
    invocation: str


class BuildCache:
    """Cache entries in an artifact store."""

    def __init__(self, store: ArtifactStore) -> None:
        """Uses ``store`` for entries and for checking the artifacts they name."""
        self.store = store

    def _path(self, key: str) -> Path:
        return self.store.root / "cache" / f"{key.removeprefix('sha256:')}.json"

    def lookup(self, key: str) -> CacheEntry | None:
        """The entry for ``key`` if it is intact and its artifact verifies; else ``None``.

        A corrupt entry or one whose artifact is missing or damaged is removed.
        """
        path = self._path(key)
        try:
            entry = CacheEntry.model_validate_json(path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValidationError):
            path.unlink(missing_ok=True)
            return None
        if entry.key != key or self.store.verify(entry.artifact):
            path.unlink(missing_ok=True)
            return None
        return entry

    def peek(self, key: str) -> CacheEntry | None:
        """The entry for ``key`` as recorded, without checking its artifact (for reports)."""
        try:
            return CacheEntry.model_validate_json(self._path(key).read_bytes())
        except (OSError, ValidationError):
            return None

    def record(self, entry: CacheEntry) -> None:
        """Stores ``entry`` (atomically; a later record for the same key replaces it)."""
        atomic_write_bytes(self._path(entry.key), entry.model_dump_json().encode())
