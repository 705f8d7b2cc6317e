"""Refusing replayed Slack requests: every signature seen in the last 10 minutes is kept.

Slack signs each request with its timestamp, and the server refuses a
timestamp older than 5 minutes; a signature seen within the window is a replay.
The signatures are kept in SQLite, so a restarted server still refuses them.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

KEEP_S = 600.0


class ReplayGuard:
    """Remembers request signatures; :meth:`first_time` is False for one seen before."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS seen (id TEXT PRIMARY KEY, at REAL NOT NULL)")
        self._lock = threading.Lock()

    def first_time(self, request_id: str, now: float | None = None) -> bool:
        """Record ``request_id``; False if it was recorded within the window already."""
        now = time.time() if now is None else now
        with self._lock:
            self._db.execute("DELETE FROM seen WHERE at < ?", (now - KEEP_S,))
            try:
                self._db.execute("INSERT INTO seen (id, at) VALUES (?, ?)", (request_id, now))
            except sqlite3.IntegrityError:
                return False
            return True
