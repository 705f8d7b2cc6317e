"""Read secrets' values on this worker, right before an activity uses them.

The workflow hands an activity only where a secret is (``SecretSource``); the
value is read here, from this worker's environment or file system, and goes
straight into a process's environment or a request header. A missing secret
fails the activity at once with one line naming the secret and where it was
looked up: no retry can make it appear.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from temporalio.exceptions import ApplicationError

from ferryman.platform.secrets import SecretSource

MISSING = "SecretMissing"
"""The error type of a secret that cannot be read (non-retryable)."""


def read_secret(name: str, ref: SecretSource, kind: str = MISSING) -> str:
    """A secret's value, read now from this worker's environment or file system.

    Args:
        name: The secret's name in the spec, for the error.
        ref: Where to read it.
        kind: The error's type.

    Raises:
        ApplicationError: Non-retryable: the variable is unset or the file unreadable.
    """
    if ref.env is not None:
        value = os.environ.get(ref.env)
        if value is None:
            raise ApplicationError(
                f"secret {name!r}: environment variable {ref.env} is not set on this worker",
                type=kind,
                non_retryable=True,
            )
        return value
    assert ref.file is not None
    try:
        return Path(ref.file).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ApplicationError(
            f"secret {name!r}: cannot read {ref.file} on this worker ({exc.strerror})",
            type=kind,
            non_retryable=True,
        ) from None


def read_secrets(secrets: Mapping[str, SecretSource]) -> dict[str, str]:
    """Every secret's value by name (see :func:`read_secret`)."""
    return {name: read_secret(name, ref) for name, ref in secrets.items()}
