"""The data converter every ferryman client and worker uses (pydantic models as payloads).

``DATA_CONVERTER`` writes plain JSON. :func:`configured_converter` adds the
AES-256-GCM codec (``ferryman.temporal.codec``) when ferryman's config has an
``encryption:`` section; ``connect`` uses it, so the CLI, the server and every
worker encrypt and decrypt alike.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, PayloadCodec

from ferryman.identity.encryption import EncryptionKeys, configured_keys
from ferryman.temporal.codec import AESGCMCodec

DATA_CONVERTER = pydantic_data_converter


def codec_for(keys: EncryptionKeys) -> AESGCMCodec:
    """The codec of a config's keys."""
    return AESGCMCodec(keys.keys, keys.active)


def data_converter(codec: PayloadCodec | None) -> DataConverter:
    """ferryman's converter, with ``codec`` applied to every payload (None: plain)."""
    if codec is None:
        return DATA_CONVERTER
    return dataclasses.replace(DATA_CONVERTER, payload_codec=codec)


def configured_converter(config: Path | None = None) -> DataConverter:
    """ferryman's converter, encrypting when the config (default: ferryman's) says so.

    Raises:
        IdentityError: The config is invalid or one of its keys cannot be read.
    """
    keys = configured_keys(config)
    return data_converter(None if keys is None else codec_for(keys))


__all__ = ["DATA_CONVERTER", "codec_for", "configured_converter", "data_converter"]
