"""``ferryman validate FILE``: check a spec and report every problem with its location."""

from __future__ import annotations

from typing import Annotated

import typer

from ferryman.cli.app import app, console, err_console
from ferryman.cli.whoami import directory
from ferryman.errors import SpecError
from ferryman.spec.load import load_spec
from ferryman.spec.models import Spec

EXIT_INVALID = 2
"""Exit status when the spec has problems (1 is left for usage errors and crashes)."""


@app.command()
def validate(
    file: Annotated[str, typer.Argument(help="Path to a ferryman.yaml.", show_default=False)],
) -> None:
    """Check a ferryman.yaml; print each problem as FILE:LINE:COLUMN: PATH: MESSAGE."""
    try:
        spec = load_spec(file, directory())
    except SpecError as exc:
        for issue in exc.issues:
            _print_err(str(issue))
        _print_err(_count(len(exc.issues), "error"))
        raise typer.Exit(EXIT_INVALID) from None
    console.print(f"{file}: ok ({summary(spec)})", markup=False, highlight=False, soft_wrap=True)


def summary(spec: Spec) -> str:
    """Describe a spec's size in words.

    Args:
        spec: A validated spec.

    Returns:
        For example ``2 repos, 1 service, 3 environments``.
    """
    parts = (
        _count(len(spec.repos), "repo"),
        _count(len(spec.services), "service"),
        _count(len(spec.environments), "environment"),
    )
    return ", ".join(parts)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _print_err(line: str) -> None:
    err_console.print(line, markup=False, highlight=False, soft_wrap=True)
