"""An AES-256-GCM payload codec: what Temporal stores of ferryman's payloads is ciphertext.

Every payload (inputs, results, memos, heartbeat details, query answers) is
serialized whole and encrypted with the active key; the ciphertext's payload
says which key in its metadata (``encryption-key-id``) and is marked
``encoding: binary/encrypted``. Decoding picks the key by that id, so after a
rotation (``active`` moves from ``k1`` to ``k2``, ``k1`` stays listed) older
histories still decode. A payload that is not encrypted passes through as it is,
so histories from before encryption was turned on still read.

Search attributes are never given to a codec: visibility queries keep working.

Example::

    codec = AESGCMCodec({"k1": key}, active="k1")
    encrypted = await codec.encode(payloads)
    assert await codec.decode(encrypted) == payloads
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

ENCODING = b"binary/encrypted"
"""The ``encoding`` of an encrypted payload."""
KEY_ID = "encryption-key-id"
"""The metadata entry naming the key a payload was encrypted with."""
_NONCE = 12


class CodecError(ValueError):
    """A payload cannot be decrypted: unknown key id, or altered or truncated ciphertext."""


class AESGCMCodec(PayloadCodec):
    """Encrypts with the active key, decrypts with whichever key a payload names.

    Args:
        keys: Key id → 32-byte key.
        active: The id of the key that encrypts.

    Raises:
        ValueError: ``active`` is not among ``keys``, or a key is not 32 bytes.
    """

    def __init__(self, keys: Mapping[str, bytes], active: str) -> None:
        if active not in keys:
            raise ValueError(f"active key {active!r} is not among the keys")
        for key_id, key in keys.items():
            if len(key) != 32:
                raise ValueError(f"key {key_id!r} is {len(key)} bytes, AES-256 needs 32")
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self._active = active

    @property
    def active(self) -> str:
        """The id of the key new payloads are encrypted with."""
        return self._active

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Each payload, serialized and encrypted with the active key."""
        return [self._encrypt(payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Each encrypted payload decrypted; a plain one as it is.

        Raises:
            CodecError: A payload names a key this codec lacks, or does not decrypt.
        """
        return [self._decrypt(payload) for payload in payloads]

    def _encrypt(self, payload: Payload) -> Payload:
        key_id = self._active.encode()
        nonce = os.urandom(_NONCE)
        sealed = self._ciphers[self._active].encrypt(nonce, payload.SerializeToString(), key_id)
        return Payload(metadata={"encoding": ENCODING, KEY_ID: key_id}, data=nonce + sealed)

    def _decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        key_id = payload.metadata.get(KEY_ID, b"").decode(errors="replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            known = ", ".join(sorted(self._ciphers))
            raise CodecError(
                f"payload encrypted with key {key_id!r}, which the config's encryption.keys "
                f"does not list (known: {known})"
            )
        nonce, sealed = payload.data[:_NONCE], payload.data[_NONCE:]
        try:
            plain = cipher.decrypt(nonce, sealed, key_id.encode())
        except InvalidTag:
            raise CodecError(
                f"payload encrypted with key {key_id!r} does not decrypt (altered, or another "
                f"key under the same id)"
            ) from None
        decoded = Payload()
        decoded.ParseFromString(plain)
        return decoded
