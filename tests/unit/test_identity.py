"""Identity: hashed tokens, the config file, the demo users and the CLI's own identity."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from ferryman.identity.config import (
    IdentityError,
    add_user,
    cli_user,
    demo_token,
    ensure_demo_config,
    load_directory,
    rotate_token,
)
from ferryman.identity.models import Directory
from ferryman.identity.tokens import hash_token, new_token, verify_token


def test_tokens_are_random_and_stored_salted() -> None:
    token = new_token()
    assert token.startswith("fm_") and len(token) > 40 and token != new_token()
    first, second = hash_token(token), hash_token(token)
    assert first != second, "a fresh salt each time"
    assert token not in first
    assert verify_token(token, first) and verify_token(token, second)
    assert not verify_token(token + "x", first)
    assert not verify_token(token, "plain-text")


def test_a_plain_token_in_the_config_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("users:\n  alice:\n    token: fm_plain\n")
    with pytest.raises(IdentityError) as error:
        load_directory(config)
    assert str(error.value) == (
        f"{config}: users.alice.token: token must be stored hashed (sha256$salt$digest), "
        "never in plain"
    )


def test_groups_must_list_known_users(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="group 'sre' lists unknown user"):
        Directory.model_validate({"users": {}, "groups": {"sre": ["ghost"]}})


def test_demo_config_is_created_once_with_private_token_files(
    ferryman_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FERRYMAN_TOKEN", raising=False)
    created = ensure_demo_config()
    assert created.created and created.config == ferryman_home / "config.yaml"
    for path in (created.config, created.tokens, ferryman_home / "token"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    text = created.config.read_text()
    directory = load_directory()
    assert directory is not None
    assert set(directory.users) == {"alice", "bob", "demo-approver"}
    assert directory.expand(["release-managers"]) == ("alice", "demo-approver")
    for user in directory.users:
        assert demo_token(user) not in text, "only hashes in the config"
        assert directory.authenticate(demo_token(user)) == user
    assert cli_user(directory) == "alice", "the CLI acts as alice by default"
    again = ensure_demo_config()
    assert not again.created and load_directory() == directory


def test_ferryman_token_picks_the_identity_and_a_wrong_one_is_an_error(
    ferryman_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ensure_demo_config()
    directory = load_directory()
    monkeypatch.setenv("FERRYMAN_TOKEN", demo_token("bob"))
    assert cli_user(directory) == "bob"
    monkeypatch.setenv("FERRYMAN_TOKEN", "fm_nobody")
    with pytest.raises(IdentityError, match="matches no user"):
        cli_user(directory)


def test_add_and_rotate_users(ferryman_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FERRYMAN_TOKEN", raising=False)
    token = add_user("carol", groups=("sre",), slack="U0CAROL")
    directory = load_directory()
    assert directory is not None
    assert directory.authenticate(token) == "carol"
    assert directory.by_slack("U0CAROL") == "carol"
    assert directory.groups == {"sre": ("carol",)}
    with pytest.raises(IdentityError, match="already exists"):
        add_user("carol")
    with pytest.raises(IdentityError, match="invalid name"):
        add_user("Carol!")
    new = rotate_token("carol")
    rotated = load_directory()
    assert rotated is not None
    assert rotated.authenticate(new) == "carol" and rotated.authenticate(token) is None
    with pytest.raises(IdentityError, match="no user 'zed'"):
        rotate_token("zed")
