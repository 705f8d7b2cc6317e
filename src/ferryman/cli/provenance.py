"""``ferryman provenance`` and ``ferryman verify``: what an artifact was made from, and proof.

ARTIFACT is a bundle digest (``sha256:…`` or a unique hex prefix), or a build
node id (its artifact from the latest recorded build). ``--instance ID``, or
``--region R --service S [--env E]``, starts from what runs instead: the agent
says which artifact each instance was started from, and the walk checks every
signature on the way down to the source commits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer
from rich.tree import Tree

from ferryman import paths
from ferryman.build.artifacts import ArtifactStore
from ferryman.build.history import last_artifacts, load_records
from ferryman.build.provenance import ProvenanceStore, dependency_digests
from ferryman.build.trust import ArtifactRejected, VerifiedArtifact, trusted_keys, verify_artifact
from ferryman.cli.app import app, console, fail
from ferryman.cli.build import builds_dir
from ferryman.cli.sync import sync_now
from ferryman.errors import BuildError, FerrymanError

if TYPE_CHECKING:
    from ferryman.platform.models import Instance


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
    artifact: str | None = typer.Argument(
        None, help="Bundle digest or prefix, or a build node id (or use --instance/--region)."
    ),
    raw: bool = typer.Option(False, "--json", help="Print the verified in-toto statement(s)."),
    every: bool = typer.Option(
        False, "--all", help="Every build that produced the artifact, newest first."
    ),
    instance: str | None = typer.Option(
        None, "--instance", help="Start from this running instance (its id, as the agent shows)."
    ),
    region: str | None = typer.Option(
        None, "--region", help="Start from what this region runs (with --service)."
    ),
    service: str | None = typer.Option(None, "--service", help="The service, with --region."),
    env: str | None = typer.Option(
        None, "--env", help="The environment of --instance/--region (default: any)."
    ),
    agent_url: str | None = typer.Option(
        None, "--agent-url", envvar="FERRYMAN_AGENT_URL", help="The local agent's API."
    ),
) -> None:
    """Print what ARTIFACT (or what runs) was built from, down to the source commits."""
    import json

    if instance is not None or region is not None or service is not None:
        if artifact is not None or every:
            raise fail("give ARTIFACT or --instance/--region, not both (--all needs ARTIFACT)")
        _provenance_of_running(instance, region, service, env, agent_url, raw)
        return
    if artifact is None:
        raise fail("give ARTIFACT, --instance ID, or --region R --service S")
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


def running_instances(
    instances: list[Instance],
    instance: str | None,
    region: str | None,
    service: str | None,
    env: str | None,
) -> list[Instance]:
    """The instances ``--instance`` or ``--region``/``--service`` (and ``--env``) name.

    Raises:
        BuildError: They name nothing that runs, or something ambiguous (one line).
    """
    scope = f" in environment {env!r}" if env else ""
    if instance is not None:
        if region is not None or service is not None:
            raise BuildError("give --instance, or --region with --service, not both")
        found = [i for i in instances if i.id == instance and env in (None, i.environment)]
        if not found:
            raise BuildError(f"no instance {instance!r}{scope} on the agent")
        return found
    if region is None or service is None:
        raise BuildError("--region and --service go together")
    running = [i for i in instances if i.state != "stopped" and env in (None, i.environment)]
    in_region = [i for i in running if i.region == region]
    if not in_region:
        known = sorted({i.region for i in running})
        hint = f" (regions running: {', '.join(known)})" if known else ""
        raise BuildError(f"no region {region!r} runs anything{scope}{hint}")
    found = [i for i in in_region if i.service == service]
    if not found:
        known = sorted({i.service for i in in_region})
        raise BuildError(
            f"no service {service!r} runs in {region}{scope} (it runs: {', '.join(known)})"
        )
    environments = sorted({i.environment for i in found})
    if len(environments) > 1:
        raise BuildError(
            f"{service} runs in {region} of several environments "
            f"({', '.join(environments)}): pass --env"
        )
    return found


def _provenance_of_running(
    instance: str | None,
    region: str | None,
    service: str | None,
    env: str | None,
    explicit_url: str | None,
    raw: bool,
) -> None:
    import json

    from ferryman.cli.context import run
    from ferryman.cli.release_view import agent_url
    from ferryman.providers.local import LocalProvider

    url = agent_url(explicit_url)
    if url is None:
        raise fail("no local agent found: start `ferryman dev` or pass --agent-url")
    try:
        instances = run(LocalProvider(url, timeout=5).all_instances())
    except FerrymanError as exc:
        raise fail(f"{exc} (is `ferryman dev` running?)") from None
    try:
        found = running_instances(instances, instance, region, service, env)
    except BuildError as exc:
        raise fail(f"{exc} at {url}") from None
    by_digest: dict[str, list[Instance]] = {}
    for item in sorted(found, key=lambda i: (i.version, i.zone, i.id)):
        if not item.artifact_digest:
            raise fail(
                f"instance {item.id} was started from a directory, not an artifact: "
                "it has no provenance"
            )
        by_digest.setdefault(item.artifact_digest, []).append(item)
    store = ArtifactStore(paths.artifacts_dir())
    try:
        trusted = trusted_keys()
        chains = [verify_artifact(store, digest, trusted) for digest in by_digest]
    except ArtifactRejected as exc:
        raise fail(str(exc)) from None
    if raw:
        statements: dict[str, Any] = {}
        for chain in chains:
            _collect_statements(chain, statements)
        payload = {
            "instances": [i.model_dump(mode="json") for i in found],
            "artifacts": list(by_digest),
            "statements": statements,
        }
        typer.echo(json.dumps(payload, indent=2))
        return
    for chain in chains:
        items = by_digest[chain.digest]
        first = items[0]
        if len(items) == 1:
            title = (
                f"instance [bold]{first.id}[/]  {first.environment}/{first.region} "
                f"zone {first.zone}  {first.service} {first.version}  {first.state}"
            )
        else:
            zones = ", ".join(sorted({i.zone for i in items}))
            versions = ", ".join(sorted({i.version for i in items}))
            title = (
                f"{len(items)} instances of [bold]{first.service} {versions}[/] in "
                f"{first.environment}/{first.region} (zones {zones})"
            )
        tree = Tree(title)
        _walk(chain, tree, set())
        console.print(tree)


def _walk(chain: VerifiedArtifact, tree: Tree, seen: set[str]) -> None:
    statement = chain.statement
    definition = statement["predicate"]["buildDefinition"]
    params = definition["externalParameters"]
    leg = " ".join(f"{k}={v}" for k, v in (params.get("matrix") or {}).items())
    branch = tree.add(
        f"artifact {chain.digest}  [bold]{chain.node}[/] {leg}  "
        f"[green]✓[/] digests, signed by {chain.key[:19]}…"
    )
    branch.add(
        f"source {chain.source.get('uri', '')} @ {params.get('ref', 'HEAD')}  "
        f"commit [cyan]{chain.commit}[/]"
    )
    if chain.digest in seen:
        return
    seen.add(chain.digest)
    for dep in chain.dependencies:
        _walk(dep, branch, seen)


def _collect_statements(chain: VerifiedArtifact, into: dict[str, Any]) -> None:
    if chain.digest in into:
        return
    into[chain.digest] = chain.statement
    for dep in chain.dependencies:
        _collect_statements(dep, into)


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
