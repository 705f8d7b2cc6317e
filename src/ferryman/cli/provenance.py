"""``ferryman provenance`` and ``ferryman verify``: what an artifact was made from, and proof.

ARTIFACT is a bundle digest (``sha256:…`` or a unique hex prefix), or a build
node id (its artifact from the latest recorded build).
"""

from __future__ import annotations

import typer
from rich.tree import Tree

from ferryman import paths
from ferryman.build.artifacts import ArtifactStore
from ferryman.build.history import last_artifacts, load_records
from ferryman.build.provenance import ProvenanceStore, dependency_digests
from ferryman.cli.app import app, console, fail
from ferryman.cli.build import builds_dir
from ferryman.errors import BuildError


def _store() -> ProvenanceStore:
    return ProvenanceStore(ArtifactStore(paths.artifacts_dir()), paths.home() / "keys")


def resolve_artifact(store: ProvenanceStore, ref: str) -> str:
    """The bundle digest an ARTIFACT argument names.

    Raises:
        BuildError: It names no artifact, or several.
    """
    by_node = last_artifacts(load_records(builds_dir()))
    if ref in by_node:
        return by_node[ref]
    return store.resolve(ref)


def _describe(store: ProvenanceStore, digest: str, tree: Tree, seen: set[str]) -> None:
    try:
        statement = store.load(digest)
    except BuildError as exc:
        tree.add(f"[red]{digest}: {exc}[/]")
        return
    predicate = statement["predicate"]
    definition = predicate["buildDefinition"]
    params = definition["externalParameters"]
    run = predicate["runDetails"]["metadata"]
    leg = params.get("matrix") or {}
    legs = " ".join(f"{k}={v}" for k, v in leg.items())
    branch = tree.add(
        f"[bold]{statement['subject'][0]['name']}[/] {digest[:19]}…  {legs}  "
        f"[dim]{run['invocationId']}  {run['startedOn']} → {run['finishedOn']}[/]"
    )
    source = definition["resolvedDependencies"][0]
    commit = source.get("annotations", {}).get("commit", "")
    branch.add(f"source {source['uri']} @ {params.get('ref', 'HEAD')}  commit [cyan]{commit}[/]")
    if digest in seen:
        return
    seen.add(digest)
    for dep in dependency_digests(statement):
        _describe(store, dep, branch, seen)


@app.command()
def provenance(
    artifact: str = typer.Argument(..., help="Bundle digest or prefix, or a build node id."),
    raw: bool = typer.Option(False, "--json", help="Print the verified in-toto statement."),
) -> None:
    """Print what ARTIFACT was built from, down to the source commits."""
    import json

    store = _store()
    try:
        digest = resolve_artifact(store, artifact)
        if raw:
            typer.echo(json.dumps(store.load(digest), indent=2))
            return
    except BuildError as exc:
        raise fail(str(exc)) from exc
    tree = Tree(f"artifact {digest}")
    _describe(store, digest, tree, set())
    console.print(tree)


@app.command()
def verify(
    artifact: str = typer.Argument(..., help="Bundle digest or prefix, or a build node id."),
) -> None:
    """Check ARTIFACT's signature, digests and dependency chain; non-zero exit on any mismatch."""
    store = _store()
    try:
        digest = resolve_artifact(store, artifact)
    except BuildError as exc:
        raise fail(str(exc)) from exc
    problems = store.verify(digest)
    if problems:
        for problem in problems:
            console.print(f"[red]✗[/] {problem}", highlight=False)
        raise fail(f"{digest} does not verify ({len(problems)} problem(s))")
    console.print(f"[green]✓[/] {digest}: signature, digests and dependency chain verify")
