"""Materialising a build node's source into a plain directory.

Three kinds of source are handled:

* A git URL (``https://``, ``http://``, ``ssh://``, ``git://``, ``file://``,
  ``git@…``): a bare mirror is kept in ``cache_dir`` and refreshed on every
  checkout; the ref is exported from it with ``git archive``.
* A local directory inside a git work tree: the ref (default ``HEAD``) is
  exported from the local repository itself. A subdirectory of a repository
  exports just that subtree, so ``tree_digest`` names the subtree, and its
  ``commit`` is the newest commit that changed it (not the repository's HEAD,
  which unrelated changes move). When no ref
  is given and the directory has uncommitted changes, the working tree is
  built as it is instead: the files git would commit after ``git add -A``
  (tracked plus untracked-but-not-ignored) are copied, ``commit`` is the HEAD
  sha with ``-dirty`` appended and ``tree_digest`` is a content digest.
* Any other local directory: copied without ``.git`` and ``__pycache__``;
  ``commit`` and ``tree_digest`` are both its content digest.

Ferryman's state directory (``FERRYMAN_HOME``), ``dest`` and ``cache_dir`` are
never copied when they lie inside the source.

A checkout is recorded by writing ``dest/.ferryman-checkout.json`` last; a
later call with the same source and ref returns that record untouched, and a
destination without it is treated as half-finished and rebuilt from scratch.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import stat
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO

from pydantic import BaseModel, ConfigDict, ValidationError

from ferryman import paths
from ferryman.errors import BuildError

MARKER_NAME = ".ferryman-checkout.json"
_URL_PREFIXES = ("https://", "http://", "ssh://", "git://", "file://", "git@")
_SKIP_NAMES = frozenset({".git", "__pycache__", MARKER_NAME})


class Checkout(BaseModel):
    """A source materialised into a directory.

    Attributes:
        path: The directory holding the files.
        commit: The git commit sha; ``<sha>-dirty`` for uncommitted changes;
            ``sha256:<hex>`` for a source without git history.
        tree_digest: The git tree id, or ``sha256:<hex>`` of the copied content.
        source: The source as requested.
        ref: The ref as requested; ``None`` means HEAD or the working tree.
    """

    model_config = ConfigDict(frozen=True)

    path: Path
    commit: str
    tree_digest: str
    source: str
    ref: str | None


class _Failure(Exception):
    """Why a checkout failed, without the source and ref (added by ``checkout``)."""


def checkout(source: str, ref: str | None, dest: Path, cache_dir: Path) -> Checkout:
    """Materialises ``source`` at ``ref`` into ``dest``, or returns the recorded checkout.

    Args:
        source: An absolute local path or a git URL.
        ref: A branch, tag or commit; ``None`` for HEAD (or a dirty working tree).
        dest: The directory to fill; anything already there without a matching
            record is removed first.
        cache_dir: Where bare mirrors of git URLs are kept between checkouts.

    Returns:
        What was checked out, as recorded in ``dest``.

    Raises:
        BuildError: The source is missing, the ref unknown, or git failed.
    """
    dest = dest.resolve()
    recorded = _recorded(dest, source, ref)
    if recorded is not None:
        return recorded
    if _is_local(source) and Path(source).expanduser().resolve().is_relative_to(dest):
        raise BuildError(f"cannot check out {source} into {dest}: it would overwrite the source")
    _wipe(dest)
    dest.mkdir(parents=True)
    try:
        commit, tree_digest = _materialise(source, ref, dest, cache_dir)
    except (_Failure, OSError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise BuildError(f"cannot check out {source} at {ref or 'HEAD'}: {reason}") from exc
    result = Checkout(path=dest, commit=commit, tree_digest=tree_digest, source=source, ref=ref)
    _write_marker(dest, result)
    return result


def _materialise(source: str, ref: str | None, dest: Path, cache_dir: Path) -> tuple[str, str]:
    """Fills ``dest``; returns the commit and tree digest."""
    if ref is not None and (not ref or ref.startswith("-")):
        raise _Failure(f"invalid ref {ref!r}")
    if not _is_local(source):
        with _mirror(source, cache_dir) as mirror:
            commit, tree = _resolve(mirror, "", ref)
        _extract(mirror, tree, dest)
        return commit, tree
    root = Path(source).expanduser().resolve()
    if not root.is_dir():
        raise _Failure("no such directory")
    excluded = {p.resolve() for p in (dest, cache_dir, paths.home())}
    location = _git_location(root)
    if location is None:
        if ref is not None:
            raise _Failure("not a git repository, so no ref can be checked out")
        _copy_files(root, _walk(root, _skipper(excluded)), dest)
        digest = _content_digest(dest)
        return digest, digest
    toplevel, prefix = location
    if ref is None and _is_dirty(root, excluded):
        return _copy_working_tree(root, prefix, excluded, dest)
    commit, tree = _resolve(toplevel, prefix, ref)
    _extract(toplevel, tree, dest)
    return _last_change(toplevel, commit, prefix), tree


def _is_local(source: str) -> bool:
    return not source.startswith(_URL_PREFIXES)


def _git_env() -> dict[str, str]:
    """The worker's environment, with git never prompting and reporting in English."""
    return {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}


def _git(args: Sequence[str], cwd: Path) -> str:
    """Runs git in ``cwd`` and returns its output, or fails with git's last error line."""
    try:
        proc = subprocess.run(
            ["git", *args], cwd=cwd, env=_git_env(), capture_output=True, text=True, check=False
        )
    except FileNotFoundError as exc:
        raise _Failure("git is not installed") from exc
    if proc.returncode != 0:
        raise _Failure(_last_line(proc.stderr) or f"git {args[0]} exited {proc.returncode}")
    return proc.stdout


_GIT_DISCOVERY = ("GIT_DIR", "GIT_WORK_TREE", "GIT_CEILING_DIRECTORIES", "GIT_COMMON_DIR")


def _git_location(root: Path) -> tuple[Path, str] | None:
    """The work tree holding ``root`` and the path of ``root`` in it; ``None`` if not in one.

    git is asked only when ``root`` or a parent has a ``.git`` entry (or git's
    discovery variables are set): with neither, git finds no work tree either,
    and a plain directory is copied without starting git.
    """
    if not any(key in os.environ for key in _GIT_DISCOVERY) and not any(
        os.path.lexists(parent / ".git") for parent in (root, *root.parents)
    ):
        return None
    try:
        output = _git(["rev-parse", "--show-toplevel", "--show-prefix"], root)
    except _Failure:
        return None
    toplevel, prefix = [*output.splitlines(), ""][:2]
    return Path(toplevel), prefix.rstrip("/")


def _resolve(repo: Path, prefix: str, ref: str | None) -> tuple[str, str]:
    """The commit ``ref`` names in ``repo`` and the id of its tree at ``prefix``."""
    wanted = ref or "HEAD"
    try:
        commit = _git(["rev-parse", "--verify", "--quiet", f"{wanted}^{{commit}}"], repo).strip()
    except _Failure as exc:
        raise _Failure(f"unknown ref {wanted!r}") from exc
    try:
        tree = _git(["rev-parse", "--verify", "--quiet", f"{commit}:{prefix}"], repo).strip()
    except _Failure as exc:
        raise _Failure(f"{prefix!r} does not exist in commit {commit}") from exc
    return commit, tree


def _extract(repo: Path, tree: str, dest: Path) -> None:
    """Writes the files of ``tree`` into ``dest`` with ``git archive`` run at ``repo``'s top."""
    with tempfile.TemporaryFile() as stderr:
        with subprocess.Popen(
            ["git", "archive", "--format=tar", tree],
            cwd=repo,
            env=_git_env(),
            stdout=subprocess.PIPE,
            stderr=stderr,
        ) as proc:
            assert proc.stdout is not None
            problem = _unpack(proc.stdout, dest)
            # tarfile stops at the end-of-archive marker; git archive may still be writing the
            # padding after it, and would die of SIGPIPE if the pipe closed under it.
            proc.stdout.read()
        if proc.returncode != 0:
            stderr.seek(0)
            problem = _last_line(stderr.read().decode(errors="replace"))
            problem = problem or f"git archive exited {proc.returncode}"
    if problem:
        raise _Failure(problem)


def _unpack(stream: IO[bytes], dest: Path) -> str | None:
    """Extracts a tar stream into ``dest``; returns what went wrong, if anything."""
    try:
        with tarfile.open(fileobj=stream, mode="r|") as archive:
            archive.extractall(dest, filter="tar")
    except tarfile.TarError as exc:
        return f"cannot unpack git archive: {exc}"
    return None


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


@contextlib.contextmanager
def _mirror(url: str, cache_dir: Path) -> Iterator[Path]:
    """A fresh bare mirror of ``url``, locked against concurrent fetches while in use."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256(url.encode()).hexdigest()[:16]
    mirror = cache_dir / f"{key}.git"
    with (cache_dir / f"{key}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (mirror / "HEAD").is_file():
            _git(["fetch", "--prune", "--quiet"], mirror)
        else:
            _clone_mirror(url, mirror)
        yield mirror


def _clone_mirror(url: str, mirror: Path) -> None:
    """Clones next to ``mirror`` and renames, so an interrupted clone is never used."""
    partial = mirror.with_name(mirror.name + ".partial")
    _wipe(partial)
    _wipe(mirror)
    _git(["clone", "--mirror", "--quiet", url, str(partial)], mirror.parent)
    partial.rename(mirror)


def _is_dirty(root: Path, excluded: Iterable[Path]) -> bool:
    status = _git(["status", "--porcelain", "-z", "--", *_pathspecs(root, excluded)], root)
    return bool(status)


def _last_change(repo: Path, commit: str, prefix: str) -> str:
    """The newest commit up to ``commit`` that changed ``prefix`` (``commit`` for the root).

    A source that is a subdirectory of a larger repository (an example inside a
    project, a service in a monorepo) is versioned by its own history, not by
    unrelated commits elsewhere in the repository.
    """
    if not prefix:
        return commit
    try:
        found = _git(["rev-list", "-1", commit, "--", prefix], repo).strip()
    except _Failure:
        return commit
    return found or commit


def _copy_working_tree(root: Path, prefix: str, excluded: set[Path], dest: Path) -> tuple[str, str]:
    """Copies what git would commit from ``root``; returns the dirty commit and digest."""
    listed = ["ls-files", "-z", "--cached", "--others", "--exclude-standard"]
    listing = _git([*listed, "--", *_pathspecs(root, excluded)], root)
    files = (root / rel for rel in sorted(set(listing.split("\0"))) if rel)
    _copy_files(root, (path for path in files if os.path.lexists(path)), dest)
    digest = _content_digest(dest)
    try:
        head = _git(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"], root).strip()
    except _Failure:
        return digest, digest
    toplevel = _git(["rev-parse", "--show-toplevel"], root).strip()
    return f"{_last_change(Path(toplevel), head, prefix)}-dirty", digest


def _pathspecs(root: Path, excluded: Iterable[Path]) -> list[str]:
    """``.`` minus every excluded directory that lies inside ``root``."""
    specs = ["."]
    for path in excluded:
        if path != root and path.is_relative_to(root):
            specs.append(f":(exclude){path.relative_to(root).as_posix()}")
    return specs


def _skipper(excluded: set[Path]) -> Callable[[Path], bool]:
    return lambda path: path.name in _SKIP_NAMES or path in excluded


def _walk(root: Path, skip: Callable[[Path], bool]) -> Iterator[Path]:
    """Files below ``root`` (symlinks included, never followed) that ``skip`` keeps."""
    for dirpath, dirnames, filenames in os.walk(root):
        base = Path(dirpath)
        kept = []
        for name in dirnames:
            path = base / name
            if path.is_symlink():
                filenames.append(name)
            elif not skip(path):
                kept.append(name)
        dirnames[:] = kept
        yield from (base / name for name in filenames if not skip(base / name))


def _copy_files(root: Path, files: Iterable[Path], dest: Path) -> None:
    """Copies each file (a symlink as a symlink) to the same relative place in ``dest``."""
    for path in files:
        target = dest / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir() and not path.is_symlink():
            shutil.copytree(path, target, symlinks=True, ignore=_ignore_skipped)
        else:
            shutil.copy2(path, target, follow_symlinks=False)


def _ignore_skipped(_dir: str, names: list[str]) -> set[str]:
    return {name for name in names if name in _SKIP_NAMES}


def _content_digest(root: Path) -> str:
    """``sha256:<hex>`` over every file's path, kind, executability and content."""
    digest = hashlib.sha256()
    files = sorted(_walk(root, lambda path: path == root / MARKER_NAME))
    for path in files:
        digest.update(f"{_describe(path)} {path.relative_to(root).as_posix()}\0".encode())
    return f"sha256:{digest.hexdigest()}"


def _describe(path: Path) -> str:
    if path.is_symlink():
        return f"link {os.readlink(path)}"
    with path.open("rb") as content:
        hexdigest = hashlib.file_digest(content, "sha256").hexdigest()
    kind = "exec" if path.stat().st_mode & 0o111 else "file"
    return f"{kind} {hexdigest}"


def _recorded(dest: Path, source: str, ref: str | None) -> Checkout | None:
    """The checkout recorded in ``dest`` if it is for the same source and ref."""
    try:
        recorded = Checkout.model_validate_json((dest / MARKER_NAME).read_bytes())
    except (OSError, ValidationError):
        return None
    return recorded if (recorded.source, recorded.ref) == (source, ref) else None


def _write_marker(dest: Path, result: Checkout) -> None:
    marker = dest / MARKER_NAME
    partial = marker.with_name(marker.name + ".partial")
    partial.write_text(result.model_dump_json(indent=2) + "\n", encoding="utf-8")
    partial.replace(marker)


def _wipe(path: Path) -> None:
    """Removes ``path`` whatever it is, including read-only files inside it."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path, onerror=_make_writable_and_retry)


def _make_writable_and_retry(func: Callable[[str], object], target: str, _exc: object) -> None:
    parent = os.path.dirname(target)
    os.chmod(parent, os.stat(parent).st_mode | stat.S_IWUSR | stat.S_IXUSR)
    func(target)
