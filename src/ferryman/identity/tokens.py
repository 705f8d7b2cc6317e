"""API tokens: random, high-entropy, stored only as a salted SHA-256.

A token is ``fm_`` followed by 32 random bytes (256 bits) in URL-safe base64.
Slow password hashes (scrypt, argon2) exist to make guessing *low*-entropy
secrets expensive; a 256-bit random token cannot be guessed at any speed, so a
salted SHA-256 is enough and keeps every authenticated request cheap. The salt
makes equal tokens hash differently, and the comparison is constant-time.

Example::

    token = new_token()
    stored = hash_token(token)        # "sha256$<salt>$<digest>"
    assert verify_token(token, stored)
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

PREFIX = "fm_"
SCHEME = "sha256"


def new_token() -> str:
    """A fresh random API token (``fm_`` + 256 random bits)."""
    return PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str, salt: str | None = None) -> str:
    """The stored form of ``token``: ``sha256$<salt hex>$<digest hex>``.

    Args:
        token: The plain token.
        salt: Hex salt; a fresh 16-byte one by default.
    """
    salt = salt or secrets.token_hex(16)
    digest = hashlib.sha256(bytes.fromhex(salt) + token.encode()).hexdigest()
    return f"{SCHEME}${salt}${digest}"


def verify_token(token: str, stored: str) -> bool:
    """Whether ``token`` is the one ``stored`` was made from (constant-time compare)."""
    try:
        scheme, salt, digest = stored.split("$")
        bytes.fromhex(salt)
    except ValueError:
        return False
    if scheme != SCHEME:
        return False
    expected = hash_token(token, salt).split("$")[2]
    return hmac.compare_digest(expected, digest)


def is_hashed(value: str) -> bool:
    """Whether ``value`` looks like a stored hash rather than a plain token."""
    parts = value.split("$")
    return len(parts) == 3 and parts[0] == SCHEME
