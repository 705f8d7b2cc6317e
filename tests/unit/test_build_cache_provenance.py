"""Cache keys and entries, and signed provenance that catches tampering."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ferryman.build.artifacts import ArtifactStore
from ferryman.build.cache import BuildCache, CacheEntry, cache_key
from ferryman.build.fanin import Dependency, hand_over
from ferryman.build.provenance import (
    ProvenanceStore,
    build_statement,
    signing_key,
    verify_envelope,
)
from ferryman.errors import BuildError
from ferryman.plan.models import BuildNode, StepPlan


def _node(run: str = "make", **changes: object) -> BuildNode:
    node = BuildNode(
        id="svc:linux-amd64",
        repo="svc",
        matrix={"platform": "linux/amd64"},
        source="/src",
        steps=(StepPlan(name="build", run=run),),
        outputs=("dist/**",),
    )
    return node.model_copy(update=changes)


def test_cache_key_covers_source_steps_leg_and_dependency_outputs() -> None:
    key = cache_key("tree1", _node(), {"lib": "sha256:" + "a" * 64})
    assert key == cache_key("tree1", _node(id="other"), {"lib": "sha256:" + "a" * 64})
    assert key != cache_key("tree2", _node(), {"lib": "sha256:" + "a" * 64})
    assert key != cache_key("tree1", _node("make all"), {"lib": "sha256:" + "a" * 64})
    assert key != cache_key("tree1", _node(matrix={"platform": "linux/arm64"}), {})
    assert key != cache_key("tree1", _node(), {"lib": "sha256:" + "b" * 64})


def _stored(tmp_path: Path) -> tuple[ArtifactStore, str]:
    work = tmp_path / "work"
    (work / "dist").mkdir(parents=True)
    (work / "dist" / "app.txt").write_text("v1\n")
    store = ArtifactStore(tmp_path / "store")
    return store, store.collect(work, ["dist/**"]).digest


def test_cache_serves_intact_entries_and_drops_corrupt_ones(tmp_path: Path) -> None:
    store, digest = _stored(tmp_path)
    cache = BuildCache(store)
    entry = CacheEntry(
        key="sha256:" + "1" * 64, node_id="n", artifact=digest, commit="c", invocation="i"
    )
    assert cache.lookup(entry.key) is None
    cache.record(entry)
    assert cache.lookup(entry.key) == entry
    blob = next((store.root / "blobs" / "sha256").iterdir())
    blob.chmod(0o644)
    blob.write_text("tampered\n")
    assert cache.lookup(entry.key) is None
    assert not (store.root / "cache" / f"{'1' * 64}.json").exists()


def _statement(store: ArtifactStore, digest: str, deps: dict[str, str]) -> dict[str, object]:
    return build_statement(
        node_id="svc",
        bundle=store.bundle(digest),
        external={"repo": "svc", "ref": "HEAD", "matrix": {}},
        commit="0" * 40,
        source="/src/svc",
        dependencies=deps,
        builder_id="https://ferryman.dev/builder/test",
        invocation_id="build/s/1/run",
        started_on="2026-01-01T00:00:00Z",
        finished_on="2026-01-01T00:00:01Z",
    )


def test_signed_provenance_verifies_and_catches_tampering(tmp_path: Path) -> None:
    store, digest = _stored(tmp_path)
    provenance = ProvenanceStore(store, tmp_path / "keys")
    path = provenance.save(digest, _statement(store, digest, {}))
    assert provenance.verify(digest) == []
    assert provenance.resolve(digest[7:19]) == digest
    statement = provenance.load(digest)
    assert statement["predicate"]["runDetails"]["metadata"]["invocationId"] == "build/s/1/run"

    envelope = json.loads(path.read_text())
    forged = dict(envelope, payload=envelope["payload"][:-4] + "AAAA")
    with pytest.raises(BuildError, match="signature does not verify"):
        verify_envelope(forged, signing_key(tmp_path / "keys").public_key())

    blob = next((store.root / "blobs" / "sha256").iterdir())
    blob.chmod(0o644)
    blob.write_text("tampered\n")
    assert any("corrupt" in problem for problem in provenance.verify(digest))


def test_fan_in_materialises_dependencies_with_env_and_manifest(tmp_path: Path) -> None:
    store, digest = _stored(tmp_path)
    workspace = tmp_path / "ws" / "svc"
    workspace.mkdir(parents=True)
    env = hand_over(store, workspace, [Dependency("shop-lib", "shop-lib", {}, digest)])
    assert Path(env["FERRYMAN_DEP_SHOP_LIB_DIR"], "dist", "app.txt").read_text() == "v1\n"
    assert env["FERRYMAN_DEP_SHOP_LIB_DIGEST"] == digest
    manifest = json.loads(Path(env["FERRYMAN_DEPS_MANIFEST"]).read_text())
    assert manifest["shop-lib"]["files"] == {
        "dist/app.txt": store.bundle(digest).files["dist/app.txt"].digest
    }
