"""Reading and writing the ferryman config (``$FERRYMAN_HOME/config.yaml``) and this CLI's token.

The config holds users (with their tokens' salted hashes), groups, the Slack app
and ``token-file``: where this CLI's own token lives, beside the config. The
CLI's identity is ``FERRYMAN_TOKEN`` if set, else that file's token.

``ferryman dev`` calls :func:`ensure_demo_config` on first start: demo users
``alice`` (release manager), ``bob`` (SRE) and ``demo-approver``, their plain
tokens in ``demo-tokens.yaml`` (readable by the owner only), and alice's token as
this CLI's identity.

Example::

    directory = load_directory()            # None when there is no config yet
    user = cli_user(directory)              # "alice", or None without a token
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from ferryman import paths
from ferryman.errors import FerrymanError
from ferryman.identity.models import Directory, SlackSettings, User, check_principal
from ferryman.identity.tokens import hash_token, new_token

TOKEN_FILE = "token"
DEMO_TOKENS = "demo-tokens.yaml"
DEMO_USERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "alice": ("release manager", ("release-managers",)),
    "bob": ("site reliability engineer", ("sre",)),
    "demo-approver": ("approves gates in `make demo`", ("release-managers",)),
}
"""Demo user → (description, groups)."""


class IdentityError(FerrymanError):
    """The config is unreadable or invalid, or a token matches no user."""


def config_path() -> Path:
    """``$FERRYMAN_CONFIG``, else ``$FERRYMAN_HOME/config.yaml``."""
    explicit = os.environ.get("FERRYMAN_CONFIG")
    return Path(explicit).resolve() if explicit else paths.home() / "config.yaml"


def load_directory(path: Path | None = None) -> Directory | None:
    """The config at ``path`` (default :func:`config_path`), or None if there is none.

    Raises:
        IdentityError: The file exists but is not a valid config (one line, with the file).
    """
    path = path or config_path()
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise IdentityError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        data = YAML(typ="safe").load(text) or {}
        return Directory.model_validate(data)
    except YAMLError as exc:
        raise IdentityError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        raise IdentityError(f"{path}: {where + ': ' if where else ''}{message}") from None


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable and writable by the owner only (atomically)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)


def _dump(data: Any) -> str:
    yaml = YAML(typ="safe")
    yaml.default_flow_style = False
    buffer = io.StringIO()
    yaml.dump(data, buffer)
    return buffer.getvalue()


HEADER = (
    "# ferryman config: users (tokens stored as salted SHA-256, never in plain), groups,\n"
    "# this CLI's token file and the Slack app. Manage users with `ferryman users`.\n"
)


def save_directory(directory: Directory, path: Path | None = None) -> Path:
    """Write ``directory`` to ``path`` (default :func:`config_path`), owner-only."""
    path = path or config_path()
    data = directory.model_dump(by_alias=True, exclude_none=True, exclude_defaults=True)
    _write_private(path, HEADER + _dump(_plain(data)))
    return path


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def slack_settings(directory: Directory | None) -> SlackSettings:
    """The Slack app's settings: ``FERRYMAN_SLACK_*`` variables over the config's ``slack``."""
    base = directory.slack if directory is not None else SlackSettings()
    env = os.environ.get
    return SlackSettings(
        bot_token=env("FERRYMAN_SLACK_BOT_TOKEN") or base.bot_token,
        signing_secret=env("FERRYMAN_SLACK_SIGNING_SECRET") or base.signing_secret,
        api_url=env("FERRYMAN_SLACK_API_URL") or base.api_url,
        channel=env("FERRYMAN_SLACK_CHANNEL") or base.channel,
    )


def cli_token(directory: Directory | None, path: Path | None = None) -> str | None:
    """This CLI's token: ``FERRYMAN_TOKEN``, else the config's ``token-file``, else None."""
    token = os.environ.get("FERRYMAN_TOKEN", "").strip()
    if token:
        return token
    path = path or config_path()
    name = directory.token_file if directory is not None else None
    if not name:
        return None
    try:
        return (path.parent / name).read_text().strip() or None
    except OSError:
        return None


def cli_user(directory: Directory | None, path: Path | None = None) -> str | None:
    """The user this CLI acts as, or None when it has no token.

    Raises:
        IdentityError: A token is set but matches no user of the config.
    """
    token = cli_token(directory, path)
    if token is None:
        return None
    if directory is None:
        raise IdentityError(f"FERRYMAN_TOKEN is set but there is no config at {config_path()}")
    user = directory.authenticate(token)
    if user is None:
        raise IdentityError(
            f"the token matches no user of {path or config_path()} (rotated? see `ferryman users`)"
        )
    return user


@dataclass(frozen=True)
class DemoConfig:
    """Where the demo config and its users' tokens are.

    Attributes:
        config: The config file.
        tokens: The owner-only file with every demo user's plain token.
        created: Whether this call created them (False: they existed already).
    """

    config: Path
    tokens: Path
    created: bool


def ensure_demo_config(path: Path | None = None) -> DemoConfig:
    """Create a config with the demo users unless one exists; say where it and the tokens are."""
    path = path or config_path()
    tokens_path = path.parent / DEMO_TOKENS
    if path.exists():
        return DemoConfig(path, tokens_path, created=False)
    tokens = {name: new_token() for name in DEMO_USERS}
    groups: dict[str, list[str]] = {}
    for name, (_, member_of) in DEMO_USERS.items():
        for group in member_of:
            groups.setdefault(group, []).append(name)
    directory = Directory.model_validate(
        {
            "users": {
                name: {"token": hash_token(tokens[name]), "description": description}
                for name, (description, _) in DEMO_USERS.items()
            },
            "groups": groups,
            "token-file": TOKEN_FILE,
        }
    )
    _write_private(tokens_path, "# demo users' API tokens (plain): keep private\n" + _dump(tokens))
    _write_private(path.parent / TOKEN_FILE, tokens["alice"] + "\n")
    save_directory(directory, path)
    return DemoConfig(path, tokens_path, created=True)


def demo_token(user: str, path: Path | None = None) -> str:
    """A demo user's plain token from ``demo-tokens.yaml`` beside the config.

    Raises:
        IdentityError: There is no such file or no such user in it.
    """
    tokens_path = (path or config_path()).parent / DEMO_TOKENS
    try:
        tokens = YAML(typ="safe").load(tokens_path.read_text()) or {}
    except (OSError, YAMLError) as exc:
        raise IdentityError(f"{tokens_path}: cannot read the demo tokens: {exc}") from None
    if user not in tokens:
        raise IdentityError(f"{tokens_path} has no token for {user!r}")
    return str(tokens[user])


def add_user(
    name: str,
    groups: tuple[str, ...] = (),
    slack: str | None = None,
    description: str = "",
    path: Path | None = None,
) -> str:
    """Add a user (creating the config if needed); returns the new plain token, shown once.

    Raises:
        IdentityError: The name is invalid or taken.
    """
    path = path or config_path()
    directory = load_directory(path) or Directory()
    try:
        check_principal(name)
        for group in groups:
            check_principal(group)
    except ValueError as exc:
        raise IdentityError(str(exc)) from None
    if directory.kind(name) is not None:
        raise IdentityError(f"{name!r} already exists in {path}")
    token = new_token()
    users = {
        **directory.users,
        name: User(token=hash_token(token), slack=slack, description=description),
    }
    members = {g: list(m) for g, m in directory.groups.items()}
    for group in groups:
        members.setdefault(group, []).append(name)
    _save(directory, path, users=users, groups=members)
    return token


def rotate_token(name: str, path: Path | None = None) -> str:
    """Give ``name`` a new token (the old one stops working); returns it, shown once.

    Raises:
        IdentityError: No config, or no such user.
    """
    path = path or config_path()
    directory = load_directory(path)
    if directory is None or name not in directory.users:
        raise IdentityError(f"no user {name!r} in {path}")
    token = new_token()
    user = directory.users[name].model_copy(update={"token": hash_token(token)})
    _save(directory, path, users={**directory.users, name: user})
    return token


def _save(directory: Directory, path: Path, **changes: Any) -> None:
    data = directory.model_dump(by_alias=True, exclude_none=True)
    data.update({k: _plain(v) if k == "groups" else v for k, v in changes.items()})
    data["users"] = {
        n: (u.model_dump(by_alias=True, exclude_none=True) if isinstance(u, User) else u)
        for n, u in data["users"].items()
    }
    try:
        save_directory(Directory.model_validate(data), path)
    except ValidationError as exc:
        raise IdentityError(f"{path}: {exc.errors()[0]['msg']}") from None
