"""``ferryman plan``: compile a spec into the plan a release would run, without running it."""

from __future__ import annotations

from pathlib import Path

import typer

from ferryman import paths
from ferryman.build.history import last_durations, load_records
from ferryman.cli.app import app, console
from ferryman.cli.plan_view import dag_tree, plan_json, plan_tree
from ferryman.cli.whoami import directory
from ferryman.plan.compile import compile_build, compile_plan
from ferryman.spec.load import load_spec, spec_file


@app.command()
def plan(
    file: Path = typer.Argument(
        ..., help="The ferryman.yaml to plan (or a directory holding one)."
    ),
    env: str | None = typer.Option(
        None, "--env", "-e", help="Environment to release to (default: the build DAG only)."
    ),
    version: str | None = typer.Option(None, "--version", help="Version label to deploy."),
    as_json: bool = typer.Option(False, "--json", help="Print the plan as JSON."),
) -> None:
    """Print the build DAG (levels, critical path, expected duration) and the release plan."""
    file = spec_file(file)
    config = directory()
    spec = load_spec(file, config)
    durations = last_durations(load_records(paths.home() / "builds", spec.system))
    if env is None:
        build = compile_build(spec, file, durations=durations)
        if as_json:
            typer.echo(build.model_dump_json(indent=2))
        else:
            console.print(dag_tree(build))
        return
    compiled = compile_plan(
        spec, file, env, version, durations=durations, directory=config, preview=True
    )
    if as_json:
        typer.echo(plan_json(compiled))
    else:
        console.print(dag_tree(compiled.build))
        console.print(plan_tree(compiled))
