"""Fan-in: hand a node the artifacts of the nodes it needs.

Each dependency's bundle is written under ``<workspace>.deps/<name>/`` (beside the
checkout, so output globs never collect it), where ``<name>`` is the repo, or
``<repo>-<leg>`` when the node needs several legs of one repo. Steps see, per
dependency, ``FERRYMAN_DEP_<NAME>_DIR`` and ``FERRYMAN_DEP_<NAME>_DIGEST``, and
``FERRYMAN_DEPS_MANIFEST`` pointing at ``<workspace>/.ferryman-deps.json``::

    {"lib": {"node": "lib", "digest": "sha256:…", "dir": "/…/lib",
             "files": {"lib/shop.py": "sha256:…"}, "matrix": {}}}
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ferryman.build.artifacts import ArtifactStore
from ferryman.plan.matrix import leg_slug

MANIFEST_NAME = ".ferryman-deps.json"


@dataclass(frozen=True)
class Dependency:
    """A dependency artifact: which node made it, of which repo and leg, and its digest."""

    node_id: str
    repo: str
    matrix: dict[str, str]
    digest: str


def _names(dependencies: Sequence[Dependency]) -> list[str]:
    repos = [dep.repo for dep in dependencies]
    return [
        dep.repo if repos.count(dep.repo) == 1 else f"{dep.repo}-{leg_slug(dep.matrix)}"
        for dep in dependencies
    ]


def env_name(name: str) -> str:
    """The environment-variable spelling of a dependency name: ``shop-lib`` → ``SHOP_LIB``."""
    return re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def hand_over(
    store: ArtifactStore, workspace: Path, dependencies: Sequence[Dependency]
) -> dict[str, str]:
    """Materialise dependency artifacts for a node and describe them.

    Idempotent: files are rewritten atomically with verified content.

    Args:
        store: Where the bundles are.
        workspace: The node's checkout.
        dependencies: The artifacts it needs.

    Returns:
        The environment variables naming the directories, digests and manifest.
    """
    root = workspace.parent / f"{workspace.name}.deps"
    manifest: dict[str, object] = {}
    env: dict[str, str] = {}
    for name, dep in zip(_names(dependencies), dependencies, strict=True):
        target = store.materialize(dep.digest, root / name)
        files = {path: entry.digest for path, entry in store.bundle(dep.digest).files.items()}
        manifest[name] = {
            "node": dep.node_id,
            "digest": dep.digest,
            "dir": str(target),
            "files": files,
            "matrix": dep.matrix,
        }
        env[f"FERRYMAN_DEP_{env_name(name)}_DIR"] = str(target)
        env[f"FERRYMAN_DEP_{env_name(name)}_DIGEST"] = dep.digest
    path = workspace / MANIFEST_NAME
    tmp = path.with_name(f".{MANIFEST_NAME}.tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True))
    tmp.replace(path)
    env["FERRYMAN_DEPS_MANIFEST"] = str(path)
    return env
