"""What the routes share: the Temporal client, the ferryman config, the Slack replay guard."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import Request
from temporalio.client import Client

from ferryman import paths
from ferryman.identity.config import config_path, load_directory
from ferryman.identity.models import Directory
from ferryman.server.replay import ReplayGuard
from ferryman.server.web.session import Sessions, load_secret
from ferryman.temporal.client.connection import Connection, connect


@dataclass
class ServerSettings:
    """How the server reaches Temporal and where its state is.

    Attributes:
        connection: The Temporal cluster.
        config: The ferryman config (default: ``$FERRYMAN_CONFIG`` or ``$FERRYMAN_HOME``'s).
        state_dir: Where the Slack replay guard keeps what it saw.
        client: An already connected client (tests pass one).
        temporal_ui: The Temporal Web UI's base URL, for links to raw histories.
        session_secret: Signs dashboard sessions (default: kept in ``state_dir``).
    """

    connection: Connection = field(default_factory=Connection.from_env)
    config: Path | None = None
    state_dir: Path | None = None
    client: Client | None = None
    temporal_ui: str | None = None
    session_secret: str | None = None


class ServerContext:
    """Shared by every request; the config is re-read when its file changes."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self._client = settings.client
        self._lock = asyncio.Lock()
        self._config = settings.config or config_path()
        self._directory: Directory | None = None
        self._mtime: float | None = None
        state = settings.state_dir or paths.home() / "server"
        self.replays = ReplayGuard(state / "slack-seen.sqlite")
        self._sessions = Sessions(settings.session_secret or load_secret(state / "session-key"))

    @property
    def config_path(self) -> Path:
        """Where the ferryman config is read from."""
        return self._config

    def sessions(self) -> Sessions:
        """Signs and checks the dashboard's session cookies."""
        return self._sessions

    async def client(self) -> Client:
        """The Temporal client, connected on first use."""
        async with self._lock:
            if self._client is None:
                self._client = await connect(self.settings.connection, wait_s=5)
            return self._client

    def directory(self) -> Directory | None:
        """The ferryman config as it is on disk now (None without one)."""
        try:
            mtime = self._config.stat().st_mtime
        except OSError:
            self._directory, self._mtime = None, None
            return None
        if mtime != self._mtime:
            self._directory, self._mtime = load_directory(self._config), mtime
        return self._directory


def context_of(request: Request) -> ServerContext:
    """The server context of the app serving ``request``."""
    context: ServerContext = request.app.state.context
    return context
