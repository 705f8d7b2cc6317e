"""SLSA provenance v1 for build artifacts, as in-toto Statements signed in DSSE envelopes.

Every build that stores a bundle signs one envelope, kept in
``<store>/provenance/<hex>/`` (the bundle's history); the newest build's is also
``<store>/provenance/<hex>.json``, the bundle's provenance. A statement's
subjects are the bundle (named by its node id) and every file in it;
its predicate names the source (repo, ref, commit, matrix leg) and the digest of
every dependency artifact, so the chain down to source commits can be walked.
Envelopes are signed with an Ed25519 key kept under ``keys_dir`` and generated on
first use.

Example::

    key = signing_key(paths.home() / "keys")
    envelope = sign_statement(statement, key)
    verify_envelope(envelope, key.public_key())   # → the statement, or BuildError
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ferryman.build.artifacts import ArtifactStore, Bundle, atomic_write_bytes
from ferryman.errors import BuildError

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
BUILD_TYPE = "https://ferryman.dev/build/v1"
KEY_FILE = "provenance-ed25519.pem"

Json = dict[str, Any]


def signing_key(keys_dir: Path) -> Ed25519PrivateKey:
    """The provenance signing key, generated (mode 0600) on first use.

    Concurrent first uses agree on one key: the file is created exclusively.
    """
    path = keys_dir / KEY_FILE
    if not path.exists():
        keys_dir.mkdir(parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        tmp = keys_dir / f".{KEY_FILE}.{os.getpid()}.tmp"
        tmp.write_bytes(pem)
        tmp.chmod(0o600)
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
        tmp.unlink(missing_ok=True)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise BuildError(f"{path} is not an Ed25519 private key")
    return key


def key_id(public: Ed25519PublicKey) -> str:
    """A short stable name for a public key: sha256 of its raw bytes."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def _pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE pre-authentication encoding."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def sign_statement(statement: Json, key: Ed25519PrivateKey) -> Json:
    """Wrap a statement in a DSSE envelope signed with ``key``."""
    payload = json.dumps(statement, sort_keys=True, separators=(",", ":")).encode()
    signature = key.sign(_pae(PAYLOAD_TYPE, payload))
    return {
        "payloadType": PAYLOAD_TYPE,
        "payload": base64.b64encode(payload).decode(),
        "signatures": [
            {"keyid": key_id(key.public_key()), "sig": base64.b64encode(signature).decode()}
        ],
    }


def verify_envelope(envelope: Json, public: Ed25519PublicKey) -> Json:
    """Check an envelope's signature and return its statement.

    Raises:
        BuildError: The envelope is malformed, unsigned by ``public``, or not a statement.
    """
    try:
        payload = base64.b64decode(envelope["payload"], validate=True)
        kind = str(envelope["payloadType"])
        signatures = [base64.b64decode(s["sig"]) for s in envelope["signatures"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise BuildError(f"malformed provenance envelope: {exc}") from exc
    for signature in signatures:
        try:
            public.verify(signature, _pae(kind, payload))
            break
        except InvalidSignature:
            continue
    else:
        raise BuildError("provenance signature does not verify with this key")
    statement: Json = json.loads(payload)
    if statement.get("_type") != STATEMENT_TYPE or statement.get("predicateType") != (
        PREDICATE_TYPE
    ):
        raise BuildError("provenance payload is not an in-toto SLSA v1 statement")
    return statement


def _sha(digest: str) -> dict[str, str]:
    return {"sha256": digest.removeprefix("sha256:")}


def build_statement(
    *,
    node_id: str,
    bundle: Bundle,
    external: Json,
    commit: str,
    source: str,
    dependencies: Mapping[str, str],
    builder_id: str,
    invocation_id: str,
    started_on: str,
    finished_on: str,
    internal: Json | None = None,
) -> Json:
    """An in-toto Statement v1 with a SLSA provenance v1 predicate for one bundle.

    Args:
        node_id: The build node; names the bundle subject.
        bundle: The stored outputs.
        external: ``externalParameters`` (repo, ref, matrix leg, …).
        commit: The source commit (``<sha>``, ``<sha>-dirty`` or a content digest).
        source: The source location.
        dependencies: Dependency node id → bundle digest.
        builder_id: ``runDetails.builder.id``.
        invocation_id: Workflow id/run id of the build.
        started_on: RFC 3339 start time.
        finished_on: RFC 3339 end time.
        internal: ``internalParameters`` (e.g. the cache key).

    Returns:
        The statement as JSON-ready data.
    """
    commit_digest = (
        _sha(commit) if commit.startswith("sha256:") else {"gitCommit": commit.split("-")[0]}
    )
    resolved: list[Json] = [
        {"uri": source, "digest": commit_digest, "annotations": {"commit": commit}}
    ]
    resolved += [
        {"name": dep, "uri": f"ferryman:artifact/{dep}", "digest": _sha(digest)}
        for dep, digest in sorted(dependencies.items())
    ]
    subjects: list[Json] = [{"name": node_id, "digest": _sha(bundle.digest)}]
    subjects += [
        {"name": f"{node_id}/{path}", "digest": _sha(entry.digest)}
        for path, entry in sorted(bundle.files.items())
    ]
    return {
        "_type": STATEMENT_TYPE,
        "subject": subjects,
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": external,
                "internalParameters": internal or {},
                "resolvedDependencies": resolved,
            },
            "runDetails": {
                "builder": {"id": builder_id},
                "metadata": {
                    "invocationId": invocation_id,
                    "startedOn": started_on,
                    "finishedOn": finished_on,
                },
            },
        },
    }


class ProvenanceStore:
    """Signed provenance envelopes beside an artifact store, one per bundle."""

    def __init__(self, store: ArtifactStore, keys_dir: Path) -> None:
        """Keeps envelopes in ``<store>/provenance`` and the key in ``keys_dir``."""
        self.store = store
        self.keys_dir = keys_dir
        self.root = store.root / "provenance"

    def path(self, digest: str) -> Path:
        """Where the envelope of the newest build of bundle ``digest`` is kept."""
        return self.root / f"{digest.removeprefix('sha256:')}.json"

    def history_dir(self, digest: str) -> Path:
        """Where the envelope of every build that produced bundle ``digest`` is kept."""
        return self.root / digest.removeprefix("sha256:")

    def save(self, digest: str, statement: Json) -> Path:
        """Sign ``statement`` and store it for bundle ``digest``; returns the envelope's path.

        Every build that produces the bundle adds its envelope to the bundle's
        history (a retried build replaces its own), and the newest build by
        ``finishedOn`` becomes the bundle's provenance. A repo without outputs
        stores the empty bundle, which no provenance describes: there is no
        artifact to trace, and every such repo shares its digest.
        """
        if len(statement.get("subject", ())) <= 1 and not self.store.bundle(digest).files:
            return self.path(digest)
        envelope = sign_statement(statement, signing_key(self.keys_dir))
        raw = json.dumps(envelope, indent=2).encode()
        atomic_write_bytes(self.history_dir(digest) / _history_name(statement), raw)
        path = self.path(digest)
        if _finished(statement) >= self._newest_finished(digest):
            atomic_write_bytes(path, raw)
        return path

    def _newest_finished(self, digest: str) -> str:
        try:
            return _finished(_payload(json.loads(self.path(digest).read_bytes())))
        except (OSError, ValueError, KeyError, TypeError):
            return ""

    def load(self, digest: str) -> Json:
        """The verified statement of the newest build of bundle ``digest``.

        Raises:
            BuildError: No provenance, or its signature does not verify.
        """
        return self._load_envelope(self.path(digest), digest)

    def history(self, digest: str) -> list[Json]:
        """The verified statement of every build that produced ``digest``, newest first.

        Raises:
            BuildError: No provenance, or a signature does not verify.
        """
        files = sorted(self.history_dir(digest).glob("*.json"), reverse=True)
        if not files:
            return [self.load(digest)]
        statements = [self._load_envelope(file, digest) for file in files]
        return sorted(statements, key=_finished, reverse=True)

    def _load_envelope(self, path: Path, digest: str) -> Json:
        try:
            envelope = json.loads(path.read_bytes())
        except FileNotFoundError as exc:
            raise BuildError(f"no provenance for {digest}") from exc
        except (OSError, ValueError) as exc:
            raise BuildError(f"provenance for {digest} is unreadable: {exc}") from exc
        return verify_envelope(envelope, signing_key(self.keys_dir).public_key())

    def newest_for_node(self, node_id: str) -> str | None:
        """The bundle digest most recently built by node ``node_id``, if any has provenance."""
        best: tuple[str, str] | None = None
        for path in self.root.glob("*.json"):
            try:
                statement = _payload(json.loads(path.read_bytes()))
                name = statement["subject"][0]["name"]
            except (OSError, ValueError, KeyError, TypeError, IndexError):
                continue
            if name == node_id and (best is None or _finished(statement) > best[0]):
                best = (_finished(statement), "sha256:" + path.stem)
        return None if best is None else best[1]

    def resolve(self, ref: str) -> str:
        """The full bundle digest for a digest or unique hex prefix with provenance.

        Raises:
            BuildError: Nothing or more than one artifact matches.
        """
        prefix = ref.removeprefix("sha256:").lower()
        matches = sorted(p.stem for p in self.root.glob(f"{prefix}*.json")) if prefix else []
        if len(matches) != 1:
            why = "no artifact" if not matches else f"{len(matches)} artifacts"
            raise BuildError(f"{why} with provenance match {ref!r}")
        return "sha256:" + matches[0]

    def verify(self, digest: str) -> list[str]:
        """Every problem with an artifact and its provenance chain; empty when all is sound."""
        return self._verify(digest, set())

    def _verify(self, digest: str, seen: set[str]) -> list[str]:
        if digest in seen:
            return []
        seen.add(digest)
        try:
            statement = self.load(digest)
        except BuildError as exc:
            return [str(exc)]
        problems = [f"{digest}: {p}" for p in self.store.verify(digest)]
        problems += _subject_problems(statement, digest, self.store)
        for dep in dependency_digests(statement):
            problems += self._verify(dep, seen)
        return problems


def _payload(envelope: Json) -> Json:
    """An envelope's statement, unverified: only to order and find envelopes."""
    statement: Json = json.loads(base64.b64decode(envelope["payload"]))
    return statement


def _finished(statement: Json) -> str:
    """When the build a statement describes finished (RFC 3339, so it sorts by time)."""
    try:
        return str(statement["predicate"]["runDetails"]["metadata"]["finishedOn"])
    except (KeyError, TypeError):
        return ""


def _history_name(statement: Json) -> str:
    """A file name that sorts by finishing time and is the same for a retried build."""
    metadata = statement["predicate"]["runDetails"]["metadata"]
    run = f"{metadata.get('invocationId', '')} {statement['subject'][0]['name']}"
    stamp = re.sub(r"[^0-9A-Za-z]", "", _finished(statement)) or "0"
    return f"{stamp}-{hashlib.sha256(run.encode()).hexdigest()[:12]}.json"


def dependency_digests(statement: Json) -> list[str]:
    """The bundle digests of a statement's dependency artifacts."""
    resolved: Sequence[Json] = statement["predicate"]["buildDefinition"]["resolvedDependencies"]
    return [
        "sha256:" + dep["digest"]["sha256"]
        for dep in resolved
        if str(dep.get("uri", "")).startswith("ferryman:artifact/")
    ]


def _subject_problems(statement: Json, digest: str, store: ArtifactStore) -> list[str]:
    subjects = statement.get("subject", [])
    if not subjects or "sha256:" + subjects[0]["digest"]["sha256"] != digest:
        return [f"{digest}: provenance is about another artifact"]
    try:
        files = store.bundle(digest).files
    except BuildError as exc:
        return [str(exc)]
    node = subjects[0]["name"]
    expected = {f"{node}/{path}": entry.digest for path, entry in files.items()}
    actual = {s["name"]: "sha256:" + s["digest"]["sha256"] for s in subjects[1:]}
    if expected != actual:
        return [f"{digest}: files differ from those the provenance names"]
    return []
