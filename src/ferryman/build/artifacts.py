"""A content-addressed artifact store.

Layout under ``root``::

    blobs/sha256/<hex>      file contents, named by their sha256
    bundles/<hex>.json      canonical JSON manifests, named by their sha256

Every write goes to a temporary file that is renamed into place, so a crash
never leaves a partial blob or manifest under its final name. Writing something
already present is a no-op only if the stored copy still hashes to its name; a
corrupt copy is replaced, so a rebuild repairs the store. Writes are not fsynced: every
read checks content against its digest, so a file torn by a power loss is
detected (and rebuilt by the cache) rather than served, and builds stay fast.
File modes are normalised like git does (``0o755`` if any execute bit is set,
else ``0o644``) so that a bundle's digest depends on content and executability
only.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import IO

from pydantic import BaseModel, ConfigDict, ValidationError

from ferryman.build.checkout import MARKER_NAME
from ferryman.errors import BuildError

_CHUNK = 1 << 20
_HEX = re.compile(r"[0-9a-f]{64}")
_PREFIX = "sha256:"


class FileEntry(BaseModel):
    """One file of a bundle.

    Attributes:
        digest: ``sha256:<hex>`` of the content, naming its blob.
        size: Size in bytes.
        mode: Normalised permission bits, ``0o755`` or ``0o644``.
    """

    model_config = ConfigDict(frozen=True)

    digest: str
    size: int
    mode: int


class Bundle(BaseModel):
    """A set of files stored together, e.g. the outputs of one build node.

    Attributes:
        digest: ``sha256:<hex>`` of the canonical JSON manifest.
        files: Entries by POSIX path relative to the collected workspace.
    """

    model_config = ConfigDict(frozen=True)

    digest: str
    files: dict[str, FileEntry]


class ArtifactStore:
    """Blobs and bundle manifests under one directory."""

    def __init__(self, root: Path) -> None:
        """Opens (without creating) the store at ``root``."""
        self.root = root

    def put_file(self, path: Path) -> str:
        """Stores a file's content as a blob.

        Args:
            path: The file to store; symlinks are followed.

        Returns:
            The blob's digest, ``sha256:<hex>``.

        Raises:
            BuildError: The file cannot be read or changed while being stored.
        """
        try:
            hexdigest = _hash_file(path)
            blob = self._blob_path(hexdigest)
            if not _holds(blob, hexdigest):
                with path.open("rb") as src:
                    _write_verified(src, blob, hexdigest, 0o644)
        except OSError as exc:
            raise BuildError(f"cannot store {path}: {exc.strerror or exc}") from exc
        return _PREFIX + hexdigest

    def collect(self, workspace: Path, globs: Sequence[str]) -> Bundle:
        """Stores every file matching any glob and records them as one bundle.

        A glob that matches a directory takes every file below it, so ``dist``
        and ``dist/**`` both collect the whole tree. The checkout marker is
        never collected.

        Args:
            workspace: The directory the globs are relative to.
            globs: Patterns in ``pathlib`` syntax, ``**`` included.

        Returns:
            The bundle, whose manifest is saved in the store.

        Raises:
            BuildError: A glob is absolute, leaves the workspace, or matches no file.
        """
        files: dict[str, FileEntry] = {}
        for pattern in globs:
            matched = list(_expand(workspace, pattern))
            if not matched:
                raise BuildError(f"output {pattern!r} matched no file in {workspace}")
            for path in matched:
                relpath = path.relative_to(workspace).as_posix()
                files[relpath] = self._entry(path)
        return self._save_bundle(files)

    def bundle(self, digest: str) -> Bundle:
        """Loads a bundle's manifest, checking that it still hashes to ``digest``.

        Raises:
            BuildError: The digest is malformed, unknown, or its manifest is corrupt.
        """
        hexdigest = _parse_digest(digest)
        path = self.root / "bundles" / f"{hexdigest}.json"
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise BuildError(f"unknown bundle {digest}: {exc.strerror or exc}") from exc
        if hashlib.sha256(raw).hexdigest() != hexdigest:
            raise BuildError(f"bundle {digest} is corrupt: manifest does not match its digest")
        try:
            files = json.loads(raw)["files"]
            return Bundle(digest=_PREFIX + hexdigest, files=files)
        except (ValueError, KeyError, TypeError, ValidationError) as exc:
            raise BuildError(f"bundle {digest} has an unreadable manifest: {exc}") from exc

    def materialize(self, digest: str, dest: Path) -> Path:
        """Writes a bundle's files under ``dest`` with their modes.

        Each file is replaced atomically, so running this again repairs rather
        than duplicates; files in ``dest`` that are not in the bundle are left alone.

        Args:
            digest: The bundle to write out.
            dest: The directory to write into; created if missing.

        Returns:
            ``dest``.

        Raises:
            BuildError: The bundle is unknown, or a blob is missing or corrupt.
        """
        bundle = self.bundle(digest)
        for relpath, entry in sorted(bundle.files.items()):
            target = dest / _safe_relpath(relpath)
            blob = self._blob_path(_parse_digest(entry.digest))
            try:
                with blob.open("rb") as src:
                    _write_verified(src, target, blob.name, entry.mode)
            except OSError as exc:
                raise BuildError(
                    f"bundle {digest}: cannot write {relpath} from {entry.digest}: "
                    f"{exc.strerror or exc}"
                ) from exc
        return dest

    def verify(self, digest: str) -> list[str]:
        """Checks that a bundle and all its blobs are present and intact.

        Returns:
            One line per problem found; empty when the bundle is sound.
        """
        try:
            bundle = self.bundle(digest)
        except BuildError as exc:
            return [str(exc)]
        problems = []
        for relpath, entry in sorted(bundle.files.items()):
            problem = self._check_blob(entry.digest)
            if problem:
                problems.append(f"{relpath}: {problem}")
        return problems

    def _check_blob(self, digest: str) -> str | None:
        try:
            blob = self._blob_path(_parse_digest(digest))
            actual = _hash_file(blob)
        except BuildError as exc:
            return str(exc)
        except OSError:
            return f"blob {digest} is missing"
        return None if actual == blob.name else f"blob {digest} is corrupt"

    def _entry(self, path: Path) -> FileEntry:
        stat = path.stat()
        mode = 0o755 if stat.st_mode & 0o111 else 0o644
        return FileEntry(digest=self.put_file(path), size=stat.st_size, mode=mode)

    def _save_bundle(self, files: dict[str, FileEntry]) -> Bundle:
        manifest = {"files": {rel: entry.model_dump() for rel, entry in sorted(files.items())}}
        raw = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
        hexdigest = hashlib.sha256(raw).hexdigest()
        path = self.root / "bundles" / f"{hexdigest}.json"
        if not _holds(path, hexdigest):
            _atomic_write(path, raw)
        return Bundle(digest=_PREFIX + hexdigest, files=files)

    def _blob_path(self, hexdigest: str) -> Path:
        return self.root / "blobs" / "sha256" / hexdigest


def _parse_digest(digest: str) -> str:
    """The hex part of ``sha256:<hex>`` (a bare hex digest is accepted too)."""
    hexdigest = digest.removeprefix(_PREFIX)
    if not _HEX.fullmatch(hexdigest):
        raise BuildError(f"malformed digest {digest!r}: expected sha256:<64 hex digits>")
    return hexdigest


def _safe_relpath(relpath: str) -> str:
    parts = PurePosixPath(relpath).parts
    if not parts or relpath.startswith("/") or ".." in parts:
        raise BuildError(f"refusing path {relpath!r} that leaves the destination")
    return relpath


def _expand(workspace: Path, pattern: str) -> Iterator[Path]:
    """Files matched by ``pattern``, directories expanded to the files below them."""
    if not pattern or pattern.startswith("/") or ".." in PurePosixPath(pattern).parts:
        raise BuildError(f"output {pattern!r} must be a relative path inside the workspace")
    for match in workspace.glob(pattern):
        candidates = match.rglob("*") if match.is_dir() else [match]
        for path in candidates:
            if path.is_file() and path.name != MARKER_NAME:
                yield path


def _holds(path: Path, hexdigest: str) -> bool:
    """Whether ``path`` exists with content hashing to ``hexdigest``.

    A stored file whose content no longer matches its name (a flipped byte, a torn
    write) is never trusted: the caller writes the good content over it.
    """
    try:
        return _hash_file(path) == hexdigest
    except OSError:
        return False


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as src:
        while chunk := src.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _write_verified(src: IO[bytes], target: Path, hexdigest: str, mode: int) -> None:
    """Copies ``src`` to ``target`` atomically, refusing content that is not ``hexdigest``."""
    digest = hashlib.sha256()
    with _temp_beside(target) as (out, tmp):
        while chunk := src.read(_CHUNK):
            digest.update(chunk)
            out.write(chunk)
        if digest.hexdigest() != hexdigest:
            raise BuildError(
                f"content for {target} does not match sha256:{hexdigest} "
                f"(got sha256:{digest.hexdigest()})"
            )
        os.chmod(tmp, mode)


def atomic_write_bytes(target: Path, data: bytes) -> None:
    """Writes ``data`` to ``target`` through a temporary file renamed into place.

    Args:
        target: The file to write; its directory is created if missing.
        data: The whole content.
    """
    _atomic_write(target, data)


def _atomic_write(target: Path, data: bytes) -> None:
    with _temp_beside(target) as (out, tmp):
        out.write(data)
        os.chmod(tmp, 0o644)


@contextlib.contextmanager
def _temp_beside(target: Path) -> Iterator[tuple[IO[bytes], Path]]:
    """A temporary file next to ``target``, renamed onto it on success, removed on error."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            yield out, tmp
            out.flush()
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
