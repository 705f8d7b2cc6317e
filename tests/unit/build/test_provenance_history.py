"""Every build that produced an artifact keeps its provenance; the newest is shown by default."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ferryman import paths
from ferryman.build import ArtifactStore
from ferryman.build.provenance import ProvenanceStore, build_statement
from ferryman.cli.app import _register, app


@pytest.fixture
def store(ferryman_home: Path) -> ProvenanceStore:
    return ProvenanceStore(ArtifactStore(paths.artifacts_dir()), paths.home() / "keys")


def _bundle(store: ProvenanceStore, tmp_path: Path) -> str:
    workspace = tmp_path / "ws"
    (workspace / "dist").mkdir(parents=True)
    (workspace / "dist" / "app.txt").write_text("same bytes from two checkouts\n")
    return store.store.collect(workspace, ["dist/**"]).digest


def _statement(
    store: ProvenanceStore, digest: str, commit: str, source: str, finished: str
) -> dict[str, object]:
    return build_statement(
        node_id="catalog:linux-amd64",
        bundle=store.store.bundle(digest),
        external={"repo": "catalog", "ref": "HEAD", "matrix": {"platform": "linux/amd64"}},
        commit=commit,
        source=source,
        dependencies={},
        builder_id="https://ferryman.dev/builder/test",
        invocation_id=f"build/shop/{finished}/run",
        started_on=finished,
        finished_on=finished,
    )


def _cli(*args: str) -> str:
    _register()
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


def test_a_newer_build_of_the_same_bytes_becomes_the_provenance(
    store: ProvenanceStore, tmp_path: Path
) -> None:
    digest = _bundle(store, tmp_path)
    old = _statement(store, digest, "a" * 40, "/old/checkout", "2026-01-01T00:00:00.000Z")
    new = _statement(store, digest, "b" * 40, "/new/checkout", "2026-02-01T00:00:00.000Z")
    store.save(digest, old)
    store.save(digest, new)

    assert store.load(digest) == new
    assert store.history(digest) == [new, old]
    assert store.verify(digest) == []

    store.save(digest, old)  # a retried older build changes neither the newest nor the count
    assert store.load(digest) == new
    assert store.history(digest) == [new, old]


def test_provenance_shows_the_newest_build_and_all_of_them_with_all(
    store: ProvenanceStore, tmp_path: Path
) -> None:
    digest = _bundle(store, tmp_path)
    store.save(digest, _statement(store, digest, "a" * 40, "/old/checkout", "2026-01-01T00:00Z"))
    store.save(digest, _statement(store, digest, "b" * 40, "/new/checkout", "2026-02-01T00:00Z"))

    newest = _cli("provenance", digest)
    assert "/new/checkout" in newest and "b" * 40 in newest
    assert "/old/checkout" not in newest
    assert "newest of 2 builds" in newest

    every = _cli("provenance", digest, "--all")
    assert every.index("/new/checkout") < every.index("/old/checkout")
    assert "build 1 of 2" in every and "build 2 of 2" in every

    by_node = _cli("provenance", "catalog:linux-amd64")
    assert "/new/checkout" in by_node
