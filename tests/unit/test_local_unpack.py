"""unpack_once: concurrent callers all get the same complete tree."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ferryman.build.artifacts import ArtifactStore
from ferryman.providers.local.unpack import unpack_once


def test_concurrent_unpacks_publish_one_complete_tree(tmp_path: Path) -> None:
    work = tmp_path / "work"
    (work / "dist").mkdir(parents=True)
    for n in range(50):
        (work / "dist" / f"f{n}.txt").write_text(f"file {n}\n" * 100)
    store = ArtifactStore(tmp_path / "store")
    digest = store.collect(work, ["dist/**"]).digest
    root = tmp_path / "unpacked"
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: unpack_once(store, digest, root), range(16)))
    assert len(set(results)) == 1
    tree = results[0]
    assert sorted(p.name for p in (tree / "dist").iterdir()) == sorted(
        f"f{n}.txt" for n in range(50)
    )
    assert [p.name for p in root.iterdir()] == [tree.name], "no private copies left behind"
