"""The agent's durable state in SQLite: instances, routes, routers, answers and events.

One connection, used only from the event loop thread. Every write commits at
once, so a ``kill -9`` loses nothing already acknowledged.

Instances, route tables and routers belong to an environment. A database
written before environments existed (schema version 0) is migrated in place
when it is opened: its rows become environment ``default`` and its idempotency
keys are scoped to it, so a repeated key still finds its first answer.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ferryman.providers.local.records import InstanceRecord, Launch
from ferryman.providers.local.wire import AgentEvent

SCHEMA_VERSION = 1
DEFAULT_ENVIRONMENT = "default"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS instances (
    id TEXT PRIMARY KEY,
    region TEXT NOT NULL,
    zone TEXT NOT NULL,
    service TEXT NOT NULL,
    version TEXT NOT NULL,
    port INTEGER NOT NULL,
    pid INTEGER,
    state TEXT NOT NULL,
    desired TEXT NOT NULL,
    launch TEXT NOT NULL,
    created REAL NOT NULL,
    environment TEXT NOT NULL DEFAULT 'default'
);
CREATE TABLE IF NOT EXISTS routes (
    environment TEXT NOT NULL,
    region TEXT NOT NULL,
    service TEXT NOT NULL,
    table_json TEXT NOT NULL,
    generation INTEGER NOT NULL,
    PRIMARY KEY (environment, region, service)
);
CREATE TABLE IF NOT EXISTS routers (
    environment TEXT NOT NULL,
    region TEXT NOT NULL,
    port INTEGER NOT NULL,
    pid INTEGER,
    PRIMARY KEY (environment, region)
);
CREATE TABLE IF NOT EXISTS idempotency (
    key TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    response TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    time REAL NOT NULL,
    kind TEXT NOT NULL,
    instance TEXT,
    pid INTEGER,
    detail TEXT NOT NULL DEFAULT ''
);
"""


class AgentStore:
    """Reads and writes the agent's SQLite database.

    Args:
        path: The database file; created with its tables when missing.
    """

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._migrate()
        self._db.executescript(_SCHEMA)
        self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def _migrate(self) -> None:
        """Bring a database of schema version 0 (one implicit environment) to version 1."""
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        tables = {row[0] for row in self._db.execute("SELECT name FROM sqlite_master")}
        if version >= 1 or "instances" not in tables:
            return
        default = DEFAULT_ENVIRONMENT
        self._db.executescript(
            f"""
            BEGIN;
            ALTER TABLE instances ADD COLUMN environment TEXT NOT NULL DEFAULT '{default}';
            ALTER TABLE routes RENAME TO routes_v0;
            ALTER TABLE routers RENAME TO routers_v0;
            {_SCHEMA}
            INSERT INTO routes SELECT '{default}', region, service, table_json, generation
                FROM routes_v0;
            INSERT INTO routers SELECT '{default}', region, port, NULL FROM routers_v0;
            DROP TABLE routes_v0;
            DROP TABLE routers_v0;
            UPDATE idempotency SET key = '{default}/' || key;
            PRAGMA user_version={SCHEMA_VERSION};
            COMMIT;
            """
        )

    @property
    def connection(self) -> sqlite3.Connection:
        """The open database, for stores of their own tables (``zonal_state``)."""
        return self._db

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    def save_instance(self, record: InstanceRecord) -> None:
        """Insert or update one instance."""
        self._db.execute(
            "INSERT OR REPLACE INTO instances VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.id,
                record.region,
                record.zone,
                record.service,
                record.version,
                record.port,
                record.pid,
                record.state,
                record.desired,
                json.dumps(asdict(record.launch)),
                record.created,
                record.environment,
            ),
        )

    def instances(self) -> list[InstanceRecord]:
        """Every instance ever started, oldest first."""
        rows = self._db.execute(
            "SELECT id, region, zone, service, version, port, pid, state, desired, launch,"
            " created, environment FROM instances ORDER BY created, id"
        )
        return [
            InstanceRecord(
                id=row[0],
                region=row[1],
                zone=row[2],
                service=row[3],
                version=row[4],
                port=row[5],
                pid=row[6],
                state=row[7],
                desired=row[8],
                launch=Launch(**json.loads(row[9])),
                created=row[10],
                environment=row[11],
            )
            for row in rows
        ]

    def answer(self, key: str) -> tuple[str, Any] | None:
        """The fingerprint and response remembered for an idempotency key, if any."""
        row = self._db.execute(
            "SELECT fingerprint, response FROM idempotency WHERE key = ?", (key,)
        ).fetchone()
        return None if row is None else (row[0], json.loads(row[1]))

    def remember(self, key: str, fingerprint: str, response: Any) -> None:
        """Remember the response given to an idempotency key."""
        self._db.execute(
            "INSERT OR REPLACE INTO idempotency VALUES (?, ?, ?, ?)",
            (key, fingerprint, json.dumps(response), time.time()),
        )

    def routes(self) -> list[tuple[str, str, str, dict[str, Any], int]]:
        """Every route table as (environment, region, service, table, generation)."""
        rows = self._db.execute(
            "SELECT environment, region, service, table_json, generation FROM routes"
            " ORDER BY environment, region, service"
        )
        return [(row[0], row[1], row[2], json.loads(row[3]), row[4]) for row in rows]

    def save_routes(
        self, environment: str, region: str, service: str, table: dict[str, Any], generation: int
    ) -> None:
        """Replace one service's route table in a region of an environment."""
        self._db.execute(
            "INSERT OR REPLACE INTO routes VALUES (?, ?, ?, ?, ?)",
            (environment, region, service, json.dumps(table), generation),
        )

    def routers(self) -> dict[tuple[str, str], tuple[int, int | None]]:
        """(environment, region) → (port, pid) of every router."""
        rows = self._db.execute(
            "SELECT environment, region, port, pid FROM routers ORDER BY environment, region"
        )
        return {(row[0], row[1]): (row[2], row[3]) for row in rows}

    def save_router(self, environment: str, region: str, port: int, pid: int | None) -> None:
        """Remember the port (and process, if it has its own) of a region's router."""
        self._db.execute(
            "INSERT OR REPLACE INTO routers VALUES (?, ?, ?, ?)", (environment, region, port, pid)
        )

    def record_event(
        self, kind: str, instance: str | None = None, pid: int | None = None, detail: str = ""
    ) -> None:
        """Append one event."""
        self._db.execute(
            "INSERT INTO events (time, kind, instance, pid, detail) VALUES (?, ?, ?, ?, ?)",
            (time.time(), kind, instance, pid, detail),
        )

    def events(self, kind: str | None = None, since: int = 0) -> list[AgentEvent]:
        """Events after sequence number ``since``, optionally of one kind, oldest first."""
        query = "SELECT seq, time, kind, instance, pid, detail FROM events WHERE seq > ?"
        params: tuple[Any, ...] = (since,)
        if kind is not None:
            query += " AND kind = ?"
            params += (kind,)
        rows = self._db.execute(query + " ORDER BY seq", params)
        return [
            AgentEvent(seq=r[0], time=r[1], kind=r[2], instance=r[3], pid=r[4], detail=r[5])
            for r in rows
        ]
