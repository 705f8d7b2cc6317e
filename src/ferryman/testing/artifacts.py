"""Artifacts for tests and benchmarks that deploy without a build: stored and signed.

A region deploy runs only an artifact whose provenance is signed by a trusted
key (``ferryman.build.trust``), so a test that stores files itself signs them
the way a build would, with the state home's build key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from ferryman import paths
from ferryman.build.artifacts import ArtifactStore
from ferryman.build.provenance import ProvenanceStore, build_statement


def store_signed(
    workspace: Path,
    globs: Sequence[str],
    *,
    node_id: str = "app",
    commit: str = "0" * 40,
    dependencies: Mapping[str, str] | None = None,
    store: ArtifactStore | None = None,
    keys_dir: Path | None = None,
) -> str:
    """Store ``workspace``'s files matching ``globs`` as a bundle with signed provenance.

    Args:
        workspace: The directory the globs are relative to.
        globs: Output patterns, as a repo's ``outputs``.
        node_id: The build node the statement names.
        commit: The source commit the statement names.
        dependencies: Dependency node id → bundle digest.
        store: The artifact store (default ``$FERRYMAN_HOME/artifacts``).
        keys_dir: Where the signing key is (default ``$FERRYMAN_HOME/keys``).

    Returns:
        The bundle digest.
    """
    store = store or ArtifactStore(paths.artifacts_dir())
    bundle = store.collect(workspace, list(globs))
    statement = build_statement(
        node_id=node_id,
        bundle=bundle,
        external={"repo": node_id, "ref": "HEAD", "matrix": {}},
        commit=commit,
        source=str(workspace),
        dependencies=dict(dependencies or {}),
        builder_id="https://ferryman.dev/builder/test",
        invocation_id="test",
        started_on="2026-01-01T00:00:00Z",
        finished_on="2026-01-01T00:00:01Z",
    )
    ProvenanceStore(store, keys_dir or paths.home() / "keys").save(bundle.digest, statement)
    return bundle.digest
