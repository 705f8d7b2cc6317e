"""``ferryman schema``: the spec's JSON Schema or Markdown reference, and the public contracts.

- ``ferryman schema``: the JSON Schema of ``ferryman.yaml`` (for editors).
- ``ferryman schema --markdown``: the reference page (``docs/spec.md``).
- ``ferryman schema --list``: the public contracts (workflow inputs and outputs, the
  payload and result of teams' steps).
- ``ferryman schema --json-schema custom-step-input``: one contract's JSON Schema.
- ``ferryman schema --out docs/schemas``: every contract's, one file each.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ferryman.cli.app import app, fail


@app.command()
def schema(
    markdown: bool = typer.Option(
        False, "--markdown", help="Print the reference page (docs/spec.md) instead."
    ),
    contract: str | None = typer.Option(
        None,
        "--json-schema",
        metavar="NAME",
        help="Print the JSON Schema of a public contract (see --list), e.g. custom-step-input.",
    ),
    listing: bool = typer.Option(False, "--list", help="List the public contracts."),
    out: Path | None = typer.Option(
        None, "--out", help="Write every contract's JSON Schema into this directory."
    ),
) -> None:
    """Print the JSON Schema of ferryman.yaml (for editors), its reference, or the contracts."""
    if markdown:
        from ferryman.spec.reference import markdown as page

        typer.echo(page(), nl=False)
        return
    if contract is not None or listing or out is not None:
        _contracts(contract, listing, out)
        return
    from ferryman.spec.models import Spec

    typer.echo(json.dumps(Spec.model_json_schema(by_alias=True), indent=2))


def _text(schema: dict[str, object]) -> str:
    return json.dumps(schema, indent=2, sort_keys=False) + "\n"


def _contracts(name: str | None, listing: bool, out: Path | None) -> None:
    from ferryman.temporal.models.contracts import CONTRACTS, json_schema

    if listing:
        for key, entry in CONTRACTS.items():
            typer.echo(f"{key:<20} v{entry.version}  {entry.summary}")
    if name is not None:
        if name not in CONTRACTS:
            raise fail(f"unknown contract {name!r} (known: {', '.join(CONTRACTS)})", 2)
        typer.echo(_text(json_schema(name)), nl=False)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        for key, entry in CONTRACTS.items():
            (out / entry.file_name(key)).write_text(_text(json_schema(key)), encoding="utf-8")
        typer.echo(f"wrote {len(CONTRACTS)} schemas to {out}")
