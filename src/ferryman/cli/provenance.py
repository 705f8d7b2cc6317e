"""``ferryman provenance`` and ``ferryman verify``: what an artifact was made from, and proof.

ARTIFACT is a bundle digest (``sha256:…`` or a unique hex prefix), or a build
node id (its artifact from the latest recorded build).
"""

from __future__ import annotations

from typing import Any

import typer
from rich.tree import Tree

from ferryman import paths
from ferryman.build.artifacts import ArtifactStore
from ferryman.build.history import last_artifacts, load_records
from ferryman.build.provenance import ProvenanceStore, dependency_digests
from ferryman.cli.app import app, console, fail
from ferryman.cli.build import builds_dir
from ferryman.cli.sync import sync_now
from ferryman.errors import BuildError


def _store() -> ProvenanceStore:
    return ProvenanceStore(ArtifactStore(paths.artifacts_dir()), paths.home() / "keys")


def resolve_artifact(store: ProvenanceStore, ref: str) -> str:
    """The bundle digest an ARTIFACT argument names.

    A node id names the artifact of its latest recorded build (releases' builds
    included), else the newest artifact it built.

    Raises:
        BuildError: It names no artifact, or several.
    """

    sync_now()
    by_node = last_artifacts(load_records(builds_dir()))
    if ref in by_node:
        if _empty(store, by_node[ref]):
            raise BuildError(f"{ref} has no outputs: its build makes no artifact to trace")
        return by_node[ref]
    newest = store.newest_for_node(ref)
    if newest is not None:
        return newest
    return store.resolve(ref)


def _empty(store: ProvenanceStore, digest: str) -> bool:
    try:
        return not store.store.bundle(digest).files
    except BuildError:
        return False


def _describe(
    store: ProvenanceStore,
    digest: str,
    tree: Tree,
    seen: set[str],
    statement: dict[str, Any] | None = None,
) -> None:
    if statement is None:
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
    raw: bool = typer.Option(False, "--json", help="Print the verified in-toto statement(s)."),
    every: bool = typer.Option(
        False, "--all", help="Every build that produced the artifact, newest first."
    ),
) -> None:
    """Print what ARTIFACT was built from, down to the source commits (its newest build)."""
    import json

    store = _store()
    try:
        digest = resolve_artifact(store, artifact)
        statements = store.history(digest) if every else [store.load(digest)]
    except BuildError as exc:
        raise fail(str(exc)) from exc
    if raw:
        typer.echo(json.dumps(statements if every else statements[0], indent=2))
        return
    for index, statement in enumerate(statements):
        title = f"artifact {digest}"
        if every:
            title += f"  build {index + 1} of {len(statements)}"
        tree = Tree(title)
        _describe(store, digest, tree, set(), statement)
        console.print(tree)
    if not every:
        builds = len(list(store.history_dir(digest).glob("*.json")))
        if builds > 1:
            console.print(
                f"[dim]the newest of {builds} builds that produced it; --all shows each[/]"
            )


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
