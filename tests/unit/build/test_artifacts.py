"""The content-addressed artifact store: collect, bundle, materialize, verify."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from ferryman.build import MARKER_NAME, ArtifactStore
from ferryman.errors import BuildError


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(tmp_path / "store")


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "dist" / "lib" / "deep").mkdir(parents=True)
    (root / "dist" / "app.whl").write_bytes(b"wheel")
    (root / "dist" / "lib" / "deep" / "mod.so").write_bytes(b"\x7fELF")
    (root / "bin").mkdir()
    (root / "bin" / "serve").write_text("#!/bin/sh\necho serving\n")
    (root / "bin" / "serve").chmod(0o755)
    (root / "README.md").write_text("docs\n")
    (root / MARKER_NAME).write_text("{}")
    return root


def test_put_file_is_content_addressed(store: ArtifactStore, tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"hello")
    digest = store.put_file(path)
    hexdigest = hashlib.sha256(b"hello").hexdigest()
    assert digest == f"sha256:{hexdigest}"
    blob = store.root / "blobs" / "sha256" / hexdigest
    assert blob.read_bytes() == b"hello"
    mtime = blob.stat().st_mtime_ns
    assert store.put_file(path) == digest
    assert blob.stat().st_mtime_ns == mtime
    assert [p.name for p in blob.parent.iterdir()] == [hexdigest]


def test_collect_with_double_star(store: ArtifactStore, workspace: Path) -> None:
    bundle = store.collect(workspace, ["dist/**/*.so", "bin/*"])
    assert sorted(bundle.files) == ["bin/serve", "dist/lib/deep/mod.so"]
    entry = bundle.files["dist/lib/deep/mod.so"]
    assert entry.size == 4
    assert entry.digest == "sha256:" + hashlib.sha256(b"\x7fELF").hexdigest()
    hexdigest = bundle.digest.removeprefix("sha256:")
    assert (store.root / "bundles" / f"{hexdigest}.json").exists()


def test_directory_match_takes_the_files_below(store: ArtifactStore, workspace: Path) -> None:
    assert sorted(store.collect(workspace, ["dist/**"]).files) == [
        "dist/app.whl",
        "dist/lib/deep/mod.so",
    ]
    assert sorted(store.collect(workspace, ["dist"]).files) == sorted(
        store.collect(workspace, ["dist/**"]).files
    )


def test_checkout_marker_is_never_collected(store: ArtifactStore, workspace: Path) -> None:
    assert MARKER_NAME not in store.collect(workspace, ["**/*"]).files


def test_digest_is_stable(store: ArtifactStore, workspace: Path, tmp_path: Path) -> None:
    first = store.collect(workspace, ["dist/**", "bin/serve"])
    second = store.collect(workspace, ["bin/serve", "dist/**"])
    other_store = ArtifactStore(tmp_path / "other").collect(workspace, ["dist/**", "bin/*"])
    assert first.digest == second.digest == other_store.digest
    (workspace / "dist" / "app.whl").write_bytes(b"changed")
    assert store.collect(workspace, ["dist/**", "bin/serve"]).digest != first.digest


def test_executable_bit_changes_the_digest(store: ArtifactStore, workspace: Path) -> None:
    before = store.collect(workspace, ["README.md"])
    (workspace / "README.md").chmod(0o755)
    assert store.collect(workspace, ["README.md"]).digest != before.digest


def test_glob_matching_nothing_is_named(store: ArtifactStore, workspace: Path) -> None:
    with pytest.raises(BuildError, match=r"'target/\*\.jar' matched no file"):
        store.collect(workspace, ["dist/*.whl", "target/*.jar"])


@pytest.mark.parametrize("pattern", ["../outside", "/etc/passwd", "dist/../../x", ""])
def test_glob_cannot_leave_the_workspace(
    store: ArtifactStore, workspace: Path, pattern: str
) -> None:
    with pytest.raises(BuildError, match="inside the workspace"):
        store.collect(workspace, [pattern])


def test_bundle_round_trips(store: ArtifactStore, workspace: Path) -> None:
    bundle = store.collect(workspace, ["dist/**", "bin/*"])
    assert store.bundle(bundle.digest) == bundle


@pytest.mark.parametrize("digest", ["sha256:" + "0" * 64, "sha256:../../etc", "md5:abc"])
def test_unknown_or_malformed_bundle(store: ArtifactStore, digest: str) -> None:
    with pytest.raises(BuildError):
        store.bundle(digest)


def test_materialize_preserves_modes(store: ArtifactStore, workspace: Path, tmp_path: Path) -> None:
    bundle = store.collect(workspace, ["dist/**", "bin/*", "README.md"])
    dest = tmp_path / "out"
    assert store.materialize(bundle.digest, dest) == dest
    assert (dest / "dist" / "lib" / "deep" / "mod.so").read_bytes() == b"\x7fELF"
    assert os.access(dest / "bin" / "serve", os.X_OK)
    assert (dest / "bin" / "serve").stat().st_mode & 0o777 == 0o755
    assert (dest / "README.md").stat().st_mode & 0o777 == 0o644
    (dest / "README.md").write_text("clobbered")
    store.materialize(bundle.digest, dest)
    assert (dest / "README.md").read_text() == "docs\n"
    assert store.collect(dest, ["dist/**", "bin/*", "README.md"]).digest == bundle.digest


def test_tampered_blob_is_reported_and_refused(
    store: ArtifactStore, workspace: Path, tmp_path: Path
) -> None:
    bundle = store.collect(workspace, ["dist/**", "bin/*"])
    assert store.verify(bundle.digest) == []
    blob_hex = bundle.files["bin/serve"].digest.removeprefix("sha256:")
    (store.root / "blobs" / "sha256" / blob_hex).write_text("#!/bin/sh\nrm -rf /\n")
    problems = store.verify(bundle.digest)
    assert len(problems) == 1
    assert "bin/serve" in problems[0]
    assert "corrupt" in problems[0]
    dest = tmp_path / "out"
    with pytest.raises(BuildError, match="does not match"):
        store.materialize(bundle.digest, dest)
    assert not (dest / "bin" / "serve").exists()


def test_missing_blob_is_reported(store: ArtifactStore, workspace: Path) -> None:
    bundle = store.collect(workspace, ["dist/app.whl"])
    (store.root / "blobs" / "sha256" / bundle.files["dist/app.whl"].digest[7:]).unlink()
    assert store.verify(bundle.digest) == [
        f"dist/app.whl: blob {bundle.files['dist/app.whl'].digest} is missing"
    ]


def test_tampered_manifest_is_reported(store: ArtifactStore, workspace: Path) -> None:
    bundle = store.collect(workspace, ["dist/app.whl"])
    manifest = store.root / "bundles" / f"{bundle.digest[7:]}.json"
    manifest.write_text(manifest.read_text().replace('"mode":420', '"mode":493'))
    problems = store.verify(bundle.digest)
    assert len(problems) == 1
    assert "corrupt" in problems[0]
