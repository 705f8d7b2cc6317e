"""The ``ferryman`` command line: one module per noun, registered here."""

from __future__ import annotations

import os
import sys

import typer
from rich.console import Console

from ferryman.errors import FerrymanError

app = typer.Typer(
    name="ferryman",
    help="Carry a change from many repos to every region of production, durably, on Temporal.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


@app.callback()
def _root() -> None:
    """Carry a change from many repos to every region of production, durably, on Temporal."""


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print a one-line error to stderr and return the ``typer.Exit`` to raise."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _register() -> None:
    # Imported for their side effect of adding commands to ``app``.
    from ferryman.cli import commands  # noqa: F401


def main() -> None:
    """Console-script entry point: run the app, turning FerrymanError into one line.

    The process leaves through ``os._exit`` once its output is flushed: the
    Temporal SDK's native runtime can crash while the interpreter tears its
    threads down, which would turn a clean exit code into a signal.
    """
    _register()
    code = 0
    try:
        app()
    except FerrymanError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        code = 2
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt:
        code = 130
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
