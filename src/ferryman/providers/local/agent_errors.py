"""What the agent answers when it cannot honour a request: each error carries its HTTP status."""

from __future__ import annotations


class AgentError(Exception):
    """A request the agent cannot honour; ``status`` is the HTTP status it answers."""

    status = 500


class BadRequest(AgentError):
    """The request is malformed or asks for something impossible."""

    status = 400


class NotFound(AgentError):
    """The request names something that does not exist."""

    status = 404


class Conflict(AgentError):
    """The request contradicts the agent's state."""

    status = 409


class Unavailable(AgentError):
    """The request is under way but not done (a zone missed a commit): repeat it to finish."""

    status = 503


class AgentStartError(Exception):
    """The agent cannot start (state dir locked, router port taken…)."""
