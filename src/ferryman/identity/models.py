"""Users and groups (pure): who exists, who belongs where, who holds a token.

Example::

    directory = Directory.model_validate({
        "users": {"alice": {"token": hash_token(token)}, "bob": {"token": "...", "slack": "U02"}},
        "groups": {"release-managers": ["alice"]},
    })
    directory.expand(["release-managers", "bob"])   # ("alice", "bob")
    directory.authenticate(token)                   # "alice"
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ferryman.identity.tokens import is_hashed, verify_token

NAME = re.compile(r"^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$")


def check_principal(name: str) -> str:
    """Validate a user or group name (lower-case letters, digits, ``.``, ``_``, ``-``).

    Raises:
        ValueError: With a one-line reason.
    """
    if not NAME.match(name):
        raise ValueError(
            f"invalid name {name!r}: use lower-case letters, digits, '.', '_' and '-' (at most 63)"
        )
    return name


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class User(_Frozen):
    """One person (or bot) who may start releases and decide gates.

    Attributes:
        token: The API token's salted hash (never the token itself).
        slack: The person's Slack user id (``U…``), to map Slack buttons to them.
        description: Free text, e.g. the person's role.
    """

    token: str
    slack: str | None = None
    description: str = ""

    @field_validator("token")
    @classmethod
    def _hashed(cls, value: str) -> str:
        if not is_hashed(value):
            raise ValueError("token must be stored hashed (sha256$salt$digest), never in plain")
        return value


class SlackSettings(_Frozen):
    """The Slack app ferryman posts gates with (secrets may come from the environment).

    Attributes:
        bot_token: The bot's ``xoxb-`` token (``FERRYMAN_SLACK_BOT_TOKEN`` wins).
        signing_secret: Verifies interactivity requests (``FERRYMAN_SLACK_SIGNING_SECRET``).
        api_url: Slack's Web API base URL (``FERRYMAN_SLACK_API_URL``; tests point it at a
            stand-in).
        channel: Channel for gates that name none (``FERRYMAN_SLACK_CHANNEL``).
    """

    bot_token: str | None = Field(default=None, alias="bot-token")
    signing_secret: str | None = Field(default=None, alias="signing-secret")
    api_url: str | None = Field(default=None, alias="api-url")
    channel: str | None = None


class DashboardSettings(_Frozen):
    """How the dashboard (``ferryman server``) treats people who have not logged in.

    Attributes:
        anonymous_read: Let anyone who reaches the server read its pages (releases,
            gates, audit trails); deciding and steering still need a login.
    """

    anonymous_read: bool = Field(default=False, alias="anonymous-read")


class ProvenanceSettings(_Frozen):
    """Which keys a deploy trusts to have signed an artifact's provenance.

    Attributes:
        trusted_keys: Ed25519 keys as PEM files (public keys, or a build's private key),
            relative to the config's directory. Empty: trust the key this machine's
            builds sign with (``$FERRYMAN_HOME/keys``); listed keys replace it.
    """

    trusted_keys: tuple[str, ...] = Field(default=(), alias="trusted-keys")


class KeySource(_Frozen):
    """Where an encryption key's material is: a file or an environment variable.

    The material is 32 random bytes, base64-encoded (``openssl rand -base64 32``).

    Attributes:
        file: A file holding the key, relative to the config's directory.
        env: An environment variable holding the key.
    """

    file: str | None = None
    env: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> KeySource:
        if (self.file is None) == (self.env is None):
            raise ValueError("a key needs exactly one of 'file' or 'env'")
        return self


class EncryptionSettings(_Frozen):
    """The AES-256-GCM payload codec: every payload in Temporal's history is ciphertext.

    Attributes:
        active: The id of the key new payloads are encrypted with.
        keys: Every key a payload may have been encrypted with, by id: keep an old
            key listed after ``active`` moves on, so older histories still decode.
        web_ui_origin: The Temporal Web UI's origin (``http://localhost:8233``), allowed
            to call ``ferryman server``'s codec endpoint from the browser.
    """

    active: str
    keys: dict[str, KeySource] = Field(min_length=1)
    web_ui_origin: str | None = Field(default=None, alias="web-ui-origin")

    @field_validator("keys")
    @classmethod
    def _key_ids(cls, value: dict[str, KeySource]) -> dict[str, KeySource]:
        for key_id in value:
            check_principal(key_id)
        return value

    @model_validator(mode="after")
    def _active_listed(self) -> EncryptionSettings:
        if self.active not in self.keys:
            raise ValueError(
                f"active key {self.active!r} is not among keys ({', '.join(sorted(self.keys))})"
            )
        return self


class Directory(_Frozen):
    """A ferryman config: users, groups, this CLI's token file, the Slack app, the dashboard."""

    users: dict[str, User] = Field(default_factory=dict)
    groups: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    token_file: str | None = Field(
        default=None, alias="token-file", description="This CLI's token, relative to the config."
    )
    slack: SlackSettings = Field(default_factory=SlackSettings)
    dashboard: DashboardSettings = Field(default_factory=DashboardSettings)
    provenance: ProvenanceSettings = Field(default_factory=ProvenanceSettings)
    encryption: EncryptionSettings | None = Field(
        default=None, description="Encrypt every payload (docs/secrets.md); none: plain JSON."
    )

    @field_validator("users", "groups")
    @classmethod
    def _names(cls, value: dict[str, object]) -> dict[str, object]:
        for name in value:
            check_principal(name)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Directory:
        for group, members in self.groups.items():
            if group in self.users:
                raise ValueError(f"{group!r} is both a user and a group")
            unknown = [m for m in members if m not in self.users]
            if unknown:
                raise ValueError(f"group {group!r} lists unknown user(s) {', '.join(unknown)}")
        slack_ids = [u.slack for u in self.users.values() if u.slack]
        if len(slack_ids) != len(set(slack_ids)):
            raise ValueError("two users share a Slack id")
        return self

    def kind(self, name: str) -> str | None:
        """``"user"``, ``"group"``, or None for a name this directory does not know."""
        if name in self.users:
            return "user"
        return "group" if name in self.groups else None

    def unknown(self, names: Iterable[str]) -> list[str]:
        """The names that are neither a user nor a group."""
        return [name for name in names if self.kind(name) is None]

    def expand(self, names: Iterable[str]) -> tuple[str, ...]:
        """Users named directly or through a group, sorted, each once (unknown names dropped)."""
        users: set[str] = set()
        for name in names:
            if name in self.users:
                users.add(name)
            users.update(self.groups.get(name, ()))
        return tuple(sorted(users))

    def authenticate(self, token: str) -> str | None:
        """The user holding ``token``, or None; every user is checked (constant-time each)."""
        found = None
        for name, user in self.users.items():
            if verify_token(token, user.token) and found is None:
                found = name
        return found

    def by_slack(self, slack_id: str) -> str | None:
        """The user whose Slack id is ``slack_id``, or None."""
        return next((n for n, u in self.users.items() if u.slack and u.slack == slack_id), None)

    def groups_of(self, user: str) -> tuple[str, ...]:
        """The groups ``user`` belongs to."""
        return tuple(sorted(g for g, members in self.groups.items() if user in members))
