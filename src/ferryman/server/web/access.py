"""Who is asking: the session behind a request, login for pages, CSRF for changes.

- :func:`visitor` reads (or starts) the browser's session and checks that its
  user still exists with the same token.
- :func:`reader` is the dependency of every read-only page: a logged-in user,
  or anyone when the config sets ``dashboard: {anonymous-read: true}``.
- :func:`actor` is the dependency of every change (POST): a logged-in user,
  the session's CSRF token in the form (``csrf``) or the ``X-CSRF-Token``
  header, and no foreign ``Origin``.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import Response

from ferryman.server.context import context_of
from ferryman.server.errors import ApiError
from ferryman.server.web.session import (
    COOKIE,
    CSRF_FIELD,
    CSRF_HEADER,
    MAX_AGE_S,
    Session,
    csrf_matches,
    fingerprint,
    new_csrf,
)


class PageError(ApiError):
    """An error answered as a page to browsers and as JSON to everything else."""


class LoginRequired(PageError):
    """A page that needs a login: browsers are sent to the login form."""

    def __init__(self, next_url: str) -> None:
        super().__init__(401, "unauthenticated", "log in first")
        self.next_url = next_url


@dataclass
class Visitor:
    """The session of a request and whether the browser must be sent a new cookie."""

    session: Session
    changed: bool = False

    @property
    def user(self) -> str:
        """The logged-in user, or ""."""
        return self.session.user

    def update(self, session: Session) -> None:
        """Replace the session (sent back with the response)."""
        self.session, self.changed = session, True

    def take_flash(self) -> tuple[str, str]:
        """The message for this page (and forget it)."""
        message, kind = self.session.flash, self.session.flash_kind
        if message:
            self.update(Session(self.session.user, self.session.key, self.session.csrf))
        return message, kind


def wants_html(request: Request) -> bool:
    """Whether the client is a browser asking for a page."""
    return "text/html" in request.headers.get("accept", "")


def visitor(request: Request) -> Visitor:
    """The request's session (an anonymous one with a fresh CSRF token if it has none)."""
    cached = getattr(request.state, "visitor", None)
    if isinstance(cached, Visitor):
        return cached
    context = context_of(request)
    session = context.sessions().load(request.cookies.get(COOKIE))
    found = Visitor(session) if session else Visitor(Session(csrf=new_csrf()), changed=True)
    if found.user:
        directory = context.directory()
        user = directory.users.get(found.user) if directory else None
        if user is None or fingerprint(user.token) != found.session.key:
            found.update(Session(csrf=found.session.csrf))  # removed or rotated: logged out
    request.state.visitor = found
    return found


def anonymous_reads(request: Request) -> bool:
    """Whether the config lets people read pages without logging in."""
    directory = context_of(request).directory()
    return bool(directory and directory.dashboard.anonymous_read)


def reader(request: Request) -> Visitor:
    """A visitor allowed to read (a FastAPI dependency).

    Raises:
        LoginRequired: Nobody is logged in and the config does not allow anonymous reads.
    """
    found = visitor(request)
    if not found.user and not anonymous_reads(request):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)
    return found


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None:
        return True  # not a browser's cross-site form, or an old browser; CSRF still applies
    return urlsplit(origin).netloc == request.headers.get("host", "")


async def actor(request: Request) -> Visitor:
    """A logged-in visitor whose request carries the session's CSRF token (a dependency).

    Raises:
        PageError: 401 without a login; 403 without the CSRF token or from another origin.
    """
    found = visitor(request)
    if not found.user:
        raise PageError(401, "unauthenticated", "log in first (no session)")
    if not _same_origin(request):
        raise PageError(403, "forbidden", "cross-origin request refused")
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and "form" in request.headers.get("content-type", ""):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not csrf_matches(found.session, sent):
        raise PageError(403, "forbidden", "missing or wrong CSRF token (reload the page)")
    return found


def keep_session(request: Request, response: Response) -> Response:
    """Send the session cookie with ``response`` if the session changed."""
    found = getattr(request.state, "visitor", None)
    if isinstance(found, Visitor) and found.changed:
        response.set_cookie(
            COOKIE,
            context_of(request).sessions().dump(found.session),
            max_age=MAX_AGE_S,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )
    return response
