"""Signed session cookies and their CSRF tokens.

A session is a small JSON object signed with the server's secret (kept in the
server's state directory, owner-only) and stored in one cookie::

    {"u": "alice", "k": "<fingerprint of alice's stored token>", "c": "<csrf token>"}

Every visitor gets a session with a CSRF token (``u`` empty until they log
in), so even the login form is protected. The cookie is ``HttpOnly`` and
``SameSite=Strict``; a session stops working when it is older than
:data:`MAX_AGE_S`, when its user leaves the config, or when their token is
rotated (the fingerprint no longer matches).

Example::

    sessions = Sessions(secret)
    cookie = sessions.dump(Session(user="alice", key=fingerprint, csrf=new_csrf()))
    sessions.load(cookie)         # Session(...) or None when forged or expired
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass, replace
from pathlib import Path

from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE = "ferryman_session"
MAX_AGE_S = 12 * 3600
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"


@dataclass(frozen=True)
class Session:
    """Who a browser is (``user`` empty when nobody logged in) and its CSRF token.

    Attributes:
        user: The logged-in user, or "".
        key: Fingerprint of the user's stored token hash when they logged in.
        csrf: The token every mutating request of this session must carry.
        flash: A one-line message shown on the next page (then dropped).
        flash_kind: ``ok`` or ``error``.
    """

    user: str = ""
    key: str = ""
    csrf: str = ""
    flash: str = ""
    flash_kind: str = "ok"

    def with_flash(self, message: str, kind: str = "ok") -> Session:
        """This session carrying ``message`` to the next page."""
        return replace(self, flash=message, flash_kind=kind)


def new_csrf() -> str:
    """A fresh CSRF token."""
    return secrets.token_urlsafe(24)


def fingerprint(stored_token_hash: str) -> str:
    """A short fingerprint of a user's stored token hash (changes when the token is rotated)."""
    return hashlib.sha256(stored_token_hash.encode()).hexdigest()[:16]


def csrf_matches(session: Session, sent: str | None) -> bool:
    """Whether ``sent`` is the session's CSRF token (constant-time)."""
    return bool(session.csrf and sent) and hmac.compare_digest(session.csrf, sent or "")


def load_secret(path: Path) -> str:
    """The server's session secret at ``path``, created (owner-only) on first use."""
    try:
        secret = path.read_text().strip()
        if secret:
            return secret
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_hex(32)
    temporary = path.with_name(f".{path.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret + "\n")
    os.replace(temporary, path)
    return secret


class Sessions:
    """Signs and checks session cookies with one secret."""

    def __init__(self, secret: str) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="ferryman-session")

    def dump(self, session: Session) -> str:
        """The cookie value of ``session``."""
        data = {"u": session.user, "k": session.key, "c": session.csrf}
        if session.flash:
            data |= {"f": session.flash, "fk": session.flash_kind}
        return str(self._serializer.dumps(data))

    def load(self, cookie: str | None) -> Session | None:
        """The session in ``cookie``, or None when it is missing, forged, malformed or expired."""
        if not cookie:
            return None
        try:
            data = self._serializer.loads(cookie, max_age=MAX_AGE_S)
        except (BadSignature, ValueError, TypeError):
            return None
        if not isinstance(data, dict):
            return None
        fields = {name: data.get(name, "") for name in ("u", "k", "c", "f", "fk")}
        if not all(isinstance(value, str) for value in fields.values()) or not fields["c"]:
            return None
        return Session(
            user=fields["u"],
            key=fields["k"],
            csrf=fields["c"],
            flash=fields["f"],
            flash_kind=fields["fk"] or "ok",
        )
