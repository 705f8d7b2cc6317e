"""``ferryman whoami``, and the CLI's identity for every command that needs one.

The CLI authenticates: ``FERRYMAN_TOKEN``, else the config's ``token-file``, is
matched against the hashed tokens of ``$FERRYMAN_HOME/config.yaml`` (or
``$FERRYMAN_CONFIG``). Workflows trust the user name they are sent.
"""

from __future__ import annotations

import typer

from ferryman.cli.app import app, console, fail
from ferryman.identity.config import IdentityError, cli_user, config_path, load_directory
from ferryman.identity.models import Directory

EXIT_UNAUTHENTICATED = 3


def directory() -> Directory | None:
    """The ferryman config, or None when there is none (a broken one is a one-line error)."""
    try:
        return load_directory()
    except IdentityError as exc:
        raise fail(str(exc), 2) from None


def current_user(required: bool = True) -> str | None:
    """The authenticated user; exits 3 when one is required and there is none."""
    try:
        user = cli_user(directory())
    except IdentityError as exc:
        raise fail(str(exc), EXIT_UNAUTHENTICATED) from None
    if user is None and required:
        raise fail(
            f"no identity: set FERRYMAN_TOKEN (or a token-file in {config_path()}); "
            "`ferryman dev` creates demo users",
            EXIT_UNAUTHENTICATED,
        )
    return user


@app.command()
def whoami() -> None:
    """Print the user this CLI acts as (from FERRYMAN_TOKEN or the config's token-file)."""
    user = current_user(required=False)
    if user is None:
        console.print(f"nobody (no token; config {config_path()})")
        raise typer.Exit(EXIT_UNAUTHENTICATED)
    found = directory()
    groups = found.groups_of(user) if found else ()
    console.print(f"{user}" + (f" (groups: {', '.join(groups)})" if groups else ""))
