"""A rebuild repairs a corrupt store: a stored copy that no longer matches its name is replaced."""

from __future__ import annotations

from pathlib import Path

from ferryman.build import ArtifactStore
from ferryman.build.cache import BuildCache, CacheEntry


def _flip_one_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[0] ^= 0x01
    path.chmod(0o644)
    path.write_bytes(bytes(data))


def _workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "dist").mkdir(parents=True)
    (root / "dist" / "app.py").write_text("print('hello')\n")
    (root / "dist" / "data.txt").write_text("payload\n")
    return root


def test_collecting_again_replaces_a_corrupt_blob(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "store")
    workspace = _workspace(tmp_path)
    bundle = store.collect(workspace, ["dist/**"])
    blob = store.root / "blobs" / "sha256" / bundle.files["dist/app.py"].digest[7:]
    _flip_one_byte(blob)
    assert store.verify(bundle.digest) == [
        f"dist/app.py: blob {bundle.files['dist/app.py'].digest} is corrupt"
    ]

    again = store.collect(workspace, ["dist/**"])

    assert again.digest == bundle.digest
    assert store.verify(bundle.digest) == []
    assert blob.read_text() == "print('hello')\n"


def test_collecting_again_replaces_a_corrupt_manifest(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "store")
    workspace = _workspace(tmp_path)
    bundle = store.collect(workspace, ["dist/**"])
    manifest = store.root / "bundles" / f"{bundle.digest[7:]}.json"
    _flip_one_byte(manifest)
    assert store.verify(bundle.digest) != []

    store.collect(workspace, ["dist/**"])

    assert store.verify(bundle.digest) == []


def test_a_cached_build_with_a_corrupt_blob_is_rebuilt_sound(tmp_path: Path) -> None:
    """The path of `ferryman build` after a flipped byte: miss, rebuild, and the store verifies."""
    store = ArtifactStore(tmp_path / "store")
    cache = BuildCache(store)
    workspace = _workspace(tmp_path)
    bundle = store.collect(workspace, ["dist/**"])
    entry = CacheEntry(
        key="sha256:" + "ab" * 32, node_id="app", artifact=bundle.digest, commit="c", invocation="i"
    )
    cache.record(entry)
    _flip_one_byte(store.root / "blobs" / "sha256" / bundle.files["dist/data.txt"].digest[7:])

    assert cache.lookup(entry.key) is None, "a corrupt artifact is never served from the cache"
    rebuilt = store.collect(workspace, ["dist/**"])
    cache.record(entry.model_copy(update={"artifact": rebuilt.digest}))

    assert store.verify(rebuilt.digest) == []
    assert cache.lookup(entry.key) == entry
