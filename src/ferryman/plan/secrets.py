"""Secrets reduced to where a worker reads them: relative files resolved, no values.

Example::

    secret_sources({"DB": SecretRef(file="db.txt")}, Path("/shop"))
    # {'DB': SecretSource(env=None, file='/shop/db.txt')}
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ferryman.platform.secrets import SecretSource
from ferryman.spec.secrets import SecretRef


def secret_sources(secrets: Mapping[str, SecretRef], spec_dir: Path) -> dict[str, SecretSource]:
    """Each secret's source, a relative file taken from the spec's directory.

    Args:
        secrets: Secret name → where the spec says its value is.
        spec_dir: The directory of the spec.
    """
    return {
        name: SecretSource(
            env=ref.env, file=None if ref.file is None else str((spec_dir / ref.file).resolve())
        )
        for name, ref in secrets.items()
    }
