"""``ferryman schema``: the spec's JSON Schema, or its Markdown reference (``docs/spec.md``)."""

from __future__ import annotations

import json

import typer

from ferryman.cli.app import app


@app.command()
def schema(
    markdown: bool = typer.Option(
        False, "--markdown", help="Print the reference page (docs/spec.md) instead."
    ),
) -> None:
    """Print the JSON Schema of ferryman.yaml (for editors), or its Markdown reference."""
    if markdown:
        from ferryman.spec.reference import markdown as page

        typer.echo(page(), nl=False)
        return
    from ferryman.spec.models import Spec

    typer.echo(json.dumps(Spec.model_json_schema(by_alias=True), indent=2))
