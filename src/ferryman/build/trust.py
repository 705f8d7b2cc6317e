"""Verifying an artifact before it runs: its digests and its signed provenance, down the chain.

A deploy refuses an artifact unless its manifest and every blob still hash to
their names, its provenance envelope is signed by a trusted Ed25519 key, the
signed statement names exactly this bundle and its files, and the same holds for
every dependency artifact the statement lists (recursively). The first problem
found is the one-line reason of :class:`ArtifactRejected`.

The trusted keys are the config's ``provenance.trusted-keys`` when it lists any,
else the key this machine's builds sign with (never generated here: with no key
nothing is trusted).

Example::

    keys = trusted_keys()
    chain = verify_artifact(ArtifactStore(paths.artifacts_dir()), digest, keys)
    chain.commit, [dep.digest for dep in chain.dependencies]
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ferryman import paths
from ferryman.build.artifacts import ArtifactStore
from ferryman.build.provenance import (
    KEY_FILE,
    dependency_digests,
    key_id,
    verify_envelope,
)
from ferryman.errors import BuildError
from ferryman.identity.config import IdentityError, config_path, load_directory

Json = dict[str, Any]
TrustedKeys = Mapping[str, Ed25519PublicKey]
"""Key id (``sha256:<hex>`` of the raw public key) → the key."""


class ArtifactRejected(BuildError):
    """An artifact failed verification; the message is the one-line reason."""


@dataclass(frozen=True)
class VerifiedArtifact:
    """An artifact whose digests and signed provenance verified, with its dependencies'.

    Attributes:
        digest: The bundle digest.
        statement: The verified in-toto statement.
        key: The id of the trusted key that signed it.
        dependencies: The dependency artifacts, each verified the same way.
    """

    digest: str
    statement: Json
    key: str
    dependencies: tuple[VerifiedArtifact, ...] = field(default=())

    @property
    def node(self) -> str:
        """The build node that produced it."""
        return str(self.statement["subject"][0]["name"])

    @property
    def source(self) -> Json:
        """The source it was built from: ``uri`` and ``annotations.commit``."""
        resolved: Json = self.statement["predicate"]["buildDefinition"]["resolvedDependencies"][0]
        return resolved

    @property
    def commit(self) -> str:
        """The source commit (``<sha>``, ``<sha>-dirty`` or a content digest)."""
        return str(self.source.get("annotations", {}).get("commit", ""))


def load_public_key(path: Path) -> Ed25519PublicKey:
    """An Ed25519 public key from a PEM file holding it (or its private key).

    Raises:
        ArtifactRejected: The file is missing or holds no Ed25519 key.
    """
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise ArtifactRejected(f"trusted key {path}: {exc.strerror or exc}") from exc
    key: object
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError:
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError) as exc:
            raise ArtifactRejected(f"trusted key {path}: not a PEM key") from exc
    if isinstance(key, Ed25519PrivateKey):
        key = key.public_key()
    if not isinstance(key, Ed25519PublicKey):
        raise ArtifactRejected(f"trusted key {path}: not an Ed25519 key")
    return key


def trusted_keys(
    keys_dir: Path | None = None, config: Path | None = None
) -> dict[str, Ed25519PublicKey]:
    """The keys a deploy trusts: the config's ``provenance.trusted-keys``, else the build key.

    Args:
        keys_dir: Where this machine's build key is (default ``$FERRYMAN_HOME/keys``).
        config: The ferryman config (default ``$FERRYMAN_CONFIG`` or ``$FERRYMAN_HOME``'s).

    Raises:
        ArtifactRejected: A listed key cannot be read, or the config is invalid.
    """
    config = config or config_path()
    try:
        directory = load_directory(config)
    except IdentityError as exc:
        raise ArtifactRejected(str(exc)) from exc
    listed = directory.provenance.trusted_keys if directory is not None else ()
    if listed:
        keys = [load_public_key(config.parent / name) for name in listed]
    else:
        own = (keys_dir or paths.home() / "keys") / KEY_FILE
        keys = [load_public_key(own)] if own.exists() else []
    return {key_id(key): key for key in keys}


def verify_artifact(store: ArtifactStore, digest: str, trusted: TrustedKeys) -> VerifiedArtifact:
    """Check an artifact and its provenance chain before it runs.

    Args:
        store: The artifact store holding it (provenance in ``<store>/provenance``).
        digest: The bundle digest.
        trusted: The keys allowed to have signed its provenance.

    Returns:
        The verified artifact, dependencies included.

    Raises:
        ArtifactRejected: The first problem found, as one line.
    """
    return _verify(store, digest, trusted, {})


def _verify(
    store: ArtifactStore, digest: str, trusted: TrustedKeys, seen: dict[str, VerifiedArtifact]
) -> VerifiedArtifact:
    if digest in seen:
        return seen[digest]
    short = _short(digest)
    if not digest:
        raise ArtifactRejected("no artifact digest to verify")
    manifest = store.root / "bundles" / f"{digest.removeprefix('sha256:')}.json"
    if not manifest.is_file():
        raise ArtifactRejected(f"artifact {short} is not in the artifact store {store.root}")
    problems = store.verify(digest)
    if problems:
        raise ArtifactRejected(f"artifact {short} is tampered: {_first_line(problems[0])}")
    statement, signer = _signed_statement(store, digest, trusted)
    _check_subjects(store, digest, statement)
    dependencies = []
    for dep in dependency_digests(statement):
        if _empty(store, dep):
            continue  # a repo without outputs: no artifact to trace
        try:
            dependencies.append(_verify(store, dep, trusted, seen))
        except ArtifactRejected as exc:
            raise ArtifactRejected(f"artifact {short}: dependency {exc}") from exc
    verified = VerifiedArtifact(digest, statement, signer, tuple(dependencies))
    seen[digest] = verified
    return verified


def _signed_statement(store: ArtifactStore, digest: str, trusted: TrustedKeys) -> tuple[Json, str]:
    short = _short(digest)
    path = store.root / "provenance" / f"{digest.removeprefix('sha256:')}.json"
    try:
        envelope = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise ArtifactRejected(f"artifact {short} is unsigned: it has no provenance") from None
    except (OSError, ValueError) as exc:
        raise ArtifactRejected(f"artifact {short}: provenance is unreadable ({exc})") from exc
    try:
        signatures = envelope["signatures"]
        keyids = [str(s.get("keyid", "")) for s in signatures]
        base64.b64decode(envelope["payload"], validate=True)
    except (KeyError, TypeError, AttributeError, ValueError):
        raise ArtifactRejected(f"artifact {short}: provenance envelope is malformed") from None
    if not keyids:
        raise ArtifactRejected(f"artifact {short} is unsigned: its provenance has no signature")
    if not trusted:
        raise ArtifactRejected(
            f"artifact {short}: no trusted provenance key (no build key in "
            f"{paths.home() / 'keys'} and no provenance.trusted-keys in the config)"
        )
    known = [k for k in keyids if k in trusted]
    if not known:
        raise ArtifactRejected(
            f"artifact {short}: provenance is signed by an untrusted key {keyids[0][:19]}…"
        )
    for keyid in known:
        try:
            return verify_envelope(envelope, trusted[keyid]), keyid
        except BuildError as exc:
            reason = str(exc)
            if "signature" not in reason:
                raise ArtifactRejected(f"artifact {short}: {reason}") from exc
    raise ArtifactRejected(
        f"artifact {short}: provenance statement does not match its signature "
        "(altered after signing)"
    )


def _check_subjects(store: ArtifactStore, digest: str, statement: Json) -> None:
    short = _short(digest)
    try:
        subjects = statement["subject"]
        named = "sha256:" + subjects[0]["digest"]["sha256"]
        node = subjects[0]["name"]
        actual = {s["name"]: "sha256:" + s["digest"]["sha256"] for s in subjects[1:]}
    except (KeyError, TypeError, IndexError):
        raise ArtifactRejected(f"artifact {short}: provenance names no subject") from None
    if named != digest:
        raise ArtifactRejected(f"artifact {short}: provenance is about another artifact")
    files = store.bundle(digest).files
    expected = {f"{node}/{path}": entry.digest for path, entry in files.items()}
    if expected != actual:
        raise ArtifactRejected(f"artifact {short}: files differ from those its provenance names")


def _empty(store: ArtifactStore, digest: str) -> bool:
    try:
        return not store.bundle(digest).files
    except BuildError:
        return False


def _short(digest: str) -> str:
    return digest[:19] + "…" if len(digest) > 19 else digest


def _first_line(text: str) -> str:
    return text.splitlines()[0] if text else text
