"""The payload encryption keys named by the config's ``encryption:`` section, read.

Example (``config.yaml``)::

    encryption:
      active: k2
      keys:
        k1: {file: keys/k1.key}          # relative to the config's directory
        k2: {env: FERRYMAN_KEY_K2}
      web-ui-origin: http://localhost:8233

Each key is 32 random bytes, base64-encoded (``openssl rand -base64 32``).
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ferryman.identity.config import IdentityError, config_path, load_directory
from ferryman.identity.models import Directory, KeySource

KEY_BYTES = 32
"""AES-256: a key is 32 bytes."""


@dataclass(frozen=True)
class EncryptionKeys:
    """Every key by id, the one that encrypts, and the Web UI allowed to ask to decode.

    Attributes:
        active: The id of the key new payloads are encrypted with.
        keys: Key id → 32 bytes.
        web_ui_origin: The Temporal Web UI's origin, or None.
    """

    active: str
    keys: Mapping[str, bytes] = field(repr=False)
    web_ui_origin: str | None = None


def _material(key_id: str, source: KeySource, base: Path) -> bytes:
    if source.env is not None:
        text = os.environ.get(source.env)
        if text is None:
            raise IdentityError(
                f"encryption key {key_id!r}: environment variable {source.env} is not set"
            )
        where = f"environment variable {source.env}"
    else:
        assert source.file is not None
        path = base / source.file
        try:
            text = path.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not base64 text"
            message = f"encryption key {key_id!r}: cannot read {path}: {reason}"
            raise IdentityError(message) from None
        where = str(path)
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise IdentityError(
            f"encryption key {key_id!r} in {where}: expected {KEY_BYTES} bytes in base64 "
            "(openssl rand -base64 32)"
        )
    return key


def encryption_keys(directory: Directory | None, base: Path) -> EncryptionKeys | None:
    """The keys of ``directory``'s ``encryption:`` section, or None without one.

    Args:
        directory: The config.
        base: The config's directory (relative key files are read from there).

    Raises:
        IdentityError: A key cannot be read or is not 32 bytes of base64.
    """
    settings = directory.encryption if directory is not None else None
    if settings is None:
        return None
    keys = {key_id: _material(key_id, source, base) for key_id, source in settings.keys.items()}
    return EncryptionKeys(settings.active, keys, settings.web_ui_origin)


def configured_keys(path: Path | None = None) -> EncryptionKeys | None:
    """The keys of the config at ``path`` (default: ferryman's config), or None.

    Raises:
        IdentityError: The config is invalid or a key cannot be read.
    """
    path = path or config_path()
    return encryption_keys(load_directory(path), path.parent)
