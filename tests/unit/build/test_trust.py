"""Verification before deploy: digests and signed provenance, down the dependency chain."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ferryman.build.artifacts import ArtifactStore
from ferryman.build.provenance import KEY_FILE, ProvenanceStore, key_id, sign_statement
from ferryman.build.trust import ArtifactRejected, trusted_keys, verify_artifact
from ferryman.testing.artifacts import store_signed


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(tmp_path / "store")


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    return tmp_path / "keys"


def _app(tmp_path: Path, name: str = "app", text: str = "print('v1')\n") -> Path:
    work = tmp_path / name
    (work / "dist").mkdir(parents=True, exist_ok=True)
    (work / "dist" / "server.py").write_text(text)
    return work


def _signed(
    tmp_path: Path, store: ArtifactStore, keys: Path, dependencies: dict[str, str] | None = None
) -> str:
    return store_signed(
        _app(tmp_path),
        ["dist/**"],
        store=store,
        keys_dir=keys,
        commit="c" * 40,
        dependencies=dependencies,
    )


def _envelope_path(store: ArtifactStore, digest: str) -> Path:
    return store.root / "provenance" / f"{digest.removeprefix('sha256:')}.json"


def _reject(store: ArtifactStore, digest: str, keys: Path) -> str:
    with pytest.raises(ArtifactRejected) as refused:
        verify_artifact(store, digest, trusted_keys(keys, keys / "no-config.yaml"))
    reason = str(refused.value)
    assert "\n" not in reason
    return reason


def test_a_signed_intact_artifact_verifies_down_to_its_dependencies(
    tmp_path: Path, store: ArtifactStore, keys: Path
) -> None:
    lib = store_signed(
        _app(tmp_path, "lib", "LIB = 1\n"),
        ["dist/**"],
        node_id="lib",
        commit="a" * 40,
        store=store,
        keys_dir=keys,
    )
    digest = _signed(tmp_path, store, keys, dependencies={"lib": lib})
    trusted = trusted_keys(keys, keys / "no-config.yaml")
    verified = verify_artifact(store, digest, trusted)
    assert verified.digest == digest and verified.node == "app"
    assert verified.commit == "c" * 40 and verified.key in trusted
    assert [(d.digest, d.node, d.commit) for d in verified.dependencies] == [(lib, "lib", "a" * 40)]


def test_a_tampered_blob_is_refused(tmp_path: Path, store: ArtifactStore, keys: Path) -> None:
    digest = _signed(tmp_path, store, keys)
    blob = next((store.root / "blobs" / "sha256").iterdir())
    data = bytearray(blob.read_bytes())
    data[0] ^= 1
    blob.chmod(0o644)
    blob.write_bytes(bytes(data))
    reason = _reject(store, digest, keys)
    assert reason.startswith(f"artifact {digest[:19]}… is tampered: dist/server.py")
    assert "corrupt" in reason


def test_a_tampered_statement_is_refused(tmp_path: Path, store: ArtifactStore, keys: Path) -> None:
    digest = _signed(tmp_path, store, keys)
    path = _envelope_path(store, digest)
    envelope = json.loads(path.read_bytes())
    payload = base64.b64decode(envelope["payload"]).replace(b"c" * 40, b"d" + b"c" * 39)
    envelope["payload"] = base64.b64encode(payload).decode()
    path.write_text(json.dumps(envelope))
    reason = _reject(store, digest, keys)
    assert "does not match its signature (altered after signing)" in reason


def test_an_unsigned_artifact_is_refused(tmp_path: Path, store: ArtifactStore, keys: Path) -> None:
    digest = store.collect(_app(tmp_path), ["dist/**"]).digest
    ProvenanceStore(store, keys)  # the build key exists, but nothing signed this bundle
    store_signed(_app(tmp_path, "other", "x\n"), ["dist/**"], store=store, keys_dir=keys)
    assert _reject(store, digest, keys) == (
        f"artifact {digest[:19]}… is unsigned: it has no provenance"
    )
    digest = _signed(tmp_path, store, keys)
    path = _envelope_path(store, digest)
    envelope = json.loads(path.read_bytes())
    path.write_text(json.dumps({**envelope, "signatures": []}))
    assert "is unsigned: its provenance has no signature" in _reject(store, digest, keys)


def test_a_statement_signed_by_an_unknown_key_is_refused(
    tmp_path: Path, store: ArtifactStore, keys: Path
) -> None:
    digest = _signed(tmp_path, store, keys)
    path = _envelope_path(store, digest)
    statement = ProvenanceStore(store, keys).load(digest)
    stranger = Ed25519PrivateKey.generate()
    path.write_text(json.dumps(sign_statement(statement, stranger)))
    reason = _reject(store, digest, keys)
    assert reason.endswith(f"signed by an untrusted key {key_id(stranger.public_key())[:19]}…")


def test_a_statement_about_other_files_is_refused(
    tmp_path: Path, store: ArtifactStore, keys: Path
) -> None:
    digest = _signed(tmp_path, store, keys)
    other = store_signed(_app(tmp_path, "b", "other\n"), ["dist/**"], store=store, keys_dir=keys)
    _envelope_path(store, digest).write_bytes(_envelope_path(store, other).read_bytes())
    assert _reject(store, digest, keys).endswith("provenance is about another artifact")


def test_a_tampered_dependency_refuses_the_artifact(
    tmp_path: Path, store: ArtifactStore, keys: Path
) -> None:
    lib = store_signed(
        _app(tmp_path, "lib", "LIB = 1\n"), ["dist/**"], node_id="lib", store=store, keys_dir=keys
    )
    digest = _signed(tmp_path, store, keys, dependencies={"lib": lib})
    _envelope_path(store, lib).unlink()
    reason = _reject(store, digest, keys)
    dependency = f"dependency artifact {lib[:19]}… is unsigned: it has no provenance"
    assert reason == f"artifact {digest[:19]}…: {dependency}"


def test_trusted_keys_come_from_the_config_when_it_lists_some(
    tmp_path: Path, store: ArtifactStore, keys: Path
) -> None:
    digest = _signed(tmp_path, store, keys)
    other = Ed25519PrivateKey.generate().public_key()
    (tmp_path / "ci.pub").write_bytes(
        other.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    config = tmp_path / "config.yaml"
    config.write_text("provenance:\n  trusted-keys: [ci.pub]\n")
    only_ci = trusted_keys(keys, config)
    assert list(only_ci) == [key_id(other)]
    with pytest.raises(ArtifactRejected, match="untrusted key"):
        verify_artifact(store, digest, only_ci)
    config.write_text(f"provenance:\n  trusted-keys: [ci.pub, keys/{KEY_FILE}]\n")
    assert verify_artifact(store, digest, trusted_keys(keys, config)).digest == digest
    config.write_text("provenance:\n  trusted-keys: [missing.pub]\n")
    with pytest.raises(ArtifactRejected, match=r"trusted key .*missing\.pub"):
        trusted_keys(keys, config)


def test_with_no_key_nothing_is_trusted(tmp_path: Path, store: ArtifactStore) -> None:
    digest = _signed(tmp_path, store, tmp_path / "keys")
    empty = tmp_path / "empty-keys"
    assert trusted_keys(empty, tmp_path / "no-config.yaml") == {}
    assert not empty.exists()
    with pytest.raises(ArtifactRejected, match="no trusted provenance key"):
        verify_artifact(store, digest, {})
