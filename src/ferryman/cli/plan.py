"""``ferryman plan``: compile a spec into the plan a release would run, without running it."""

from __future__ import annotations

from pathlib import Path

import typer

from ferryman.cli.app import app, console
from ferryman.plan.compile import compile_plan
from ferryman.plan.render import plan_json, plan_tree
from ferryman.spec.load import load_spec


@app.command()
def plan(
    file: Path = typer.Argument(..., help="The ferryman.yaml to plan."),
    env: str = typer.Option(..., "--env", "-e", help="Environment to release to."),
    version: str | None = typer.Option(None, "--version", help="Version label to deploy."),
    as_json: bool = typer.Option(False, "--json", help="Print the plan as JSON."),
) -> None:
    """Print the compiled release plan as a tree (or JSON)."""
    compiled = compile_plan(load_spec(file), file, env, version)
    if as_json:
        typer.echo(plan_json(compiled))
    else:
        console.print(plan_tree(compiled))
