"""Where a secret's value is read, never the value itself (pure).

A spec names a secret and its source; the plan, the workflows' inputs and
results, and the platform's records carry only this reference. The activity
that needs the value (starting an instance, running a build step, calling a
webhook) reads it from its own process environment or file system right before
it uses it (``ferryman.temporal.activities.secrets``).

Example::

    SecretSource(env="SHOP_DB_PASSWORD").where()   # 'environment variable SHOP_DB_PASSWORD'
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict


class SecretSource(BaseModel):
    """An environment variable or an (absolute) file of the worker that reads the secret.

    Attributes:
        env: The variable's name, or None.
        file: The file's absolute path, or None.
    """

    model_config = ConfigDict(frozen=True)

    env: str | None = None
    file: str | None = None

    def where(self) -> str:
        """Where the value is looked up, for an error message."""
        return f"environment variable {self.env}" if self.env is not None else f"file {self.file}"


def mask(text: str, values: Iterable[str]) -> str:
    """``text`` with every non-empty secret value among ``values`` replaced by ``***``.

    Args:
        text: A log line or an error message that may quote a secret.
        values: The secret values.
    """
    for value in sorted((v for v in values if v), key=len, reverse=True):
        text = text.replace(value, "***")
    return text
