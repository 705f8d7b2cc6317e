"""Secrets in the spec: a name and where a worker reads its value, never the value.

Services and build steps receive secrets as environment variables::

    services:
      catalog:
        artifact: catalog
        run: python3 server.py
        secrets:
          DB_PASSWORD: {env: SHOP_DB_PASSWORD}      # the worker's variable
          API_KEY: {file: /run/secrets/api-key}     # a file on the worker
    repos:
      lib:
        build:
          secrets: {PYPI_TOKEN: {env: PYPI_TOKEN}}  # every step
          steps:
            - run: ./publish.sh
              secrets: {SIGNING_KEY: {file: keys/signing.pem}}   # this step

The value is read by the activity that starts the instance or runs the step,
right before it does; the plan, the workflows' inputs and results and their
history hold only the name and the source.
"""

from __future__ import annotations

import re

from pydantic import Field, model_validator

from ferryman.spec.base import _Frozen

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
"""What a secret given to a process as an environment variable may be called."""
RESERVED = ("PORT", "FERRYMAN_")
"""Variables ferryman sets itself: ``PORT`` and every ``FERRYMAN_*``."""


class SecretRef(_Frozen):
    """Where a worker reads a secret when it is used: an environment variable or a file.

    The value never enters the plan, the workflow's input or its history.
    """

    env: str | None = Field(default=None, description="An environment variable of the worker.")
    file: str | None = Field(
        default=None, description="A file on the worker (relative: to the spec's directory)."
    )

    @model_validator(mode="after")
    def _one_source(self) -> SecretRef:
        if (self.env is None) == (self.file is None):
            raise ValueError("a secret needs exactly one of 'env' or 'file'")
        if self.env is not None and not ENV_NAME.match(self.env):
            raise ValueError(f"invalid environment variable name {self.env!r}")
        if self.file is not None and not self.file.strip():
            raise ValueError("a secret's file must not be empty")
        return self


def check_secret_names(secrets: dict[str, SecretRef]) -> dict[str, SecretRef]:
    """Check that every secret's name is a variable name ferryman does not set itself.

    Raises:
        ValueError: A name is not a variable name, or is ferryman's.
    """
    for name in secrets:
        if not ENV_NAME.match(name):
            raise ValueError(
                f"invalid secret name {name!r}: it becomes an environment variable "
                "(letters, digits and '_', not starting with a digit)"
            )
        if name == RESERVED[0] or name.startswith(RESERVED[1]):
            raise ValueError(f"secret {name!r}: ferryman sets {name} itself")
    return secrets


def check_env_secrets(secrets: dict[str, SecretRef], env: dict[str, str]) -> dict[str, SecretRef]:
    """Check secrets given to a process as variables: valid names, none set twice.

    Args:
        secrets: Secret name → source.
        env: The plain variables of the same process.

    Returns:
        ``secrets``, unchanged.

    Raises:
        ValueError: A name is not a variable name, is ferryman's, or is also in ``env``.
    """
    check_secret_names(secrets)
    for name in secrets:
        if name in env:
            raise ValueError(f"secret {name!r} is also in env: give it once")
    return secrets
