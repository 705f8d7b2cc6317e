"""Bearer tokens: ``Authorization: Bearer fm_…`` → a user of the ferryman config."""

from __future__ import annotations

from fastapi import Request

from ferryman.server.context import context_of
from ferryman.server.errors import ApiError


def authenticated_user(request: Request) -> str:
    """The user whose token the request carries (a FastAPI dependency).

    Raises:
        ApiError: 401 without a token, with a malformed header, or a token of nobody.
    """
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "unauthenticated", "missing bearer token (Authorization: Bearer …)")
    directory = context_of(request).directory()
    user = directory.authenticate(token.strip()) if directory is not None else None
    if user is None:
        raise ApiError(401, "unauthenticated", "unknown token")
    return user
