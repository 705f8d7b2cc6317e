"""An agent database written before environments existed opens as environment ``default``."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ferryman.providers.local.state import SCHEMA_VERSION, AgentStore

OLD_SCHEMA = """
CREATE TABLE instances (
    id TEXT PRIMARY KEY, region TEXT NOT NULL, zone TEXT NOT NULL, service TEXT NOT NULL,
    version TEXT NOT NULL, port INTEGER NOT NULL, pid INTEGER, state TEXT NOT NULL,
    desired TEXT NOT NULL, launch TEXT NOT NULL, created REAL NOT NULL
);
CREATE TABLE routes (
    region TEXT NOT NULL, service TEXT NOT NULL, table_json TEXT NOT NULL,
    generation INTEGER NOT NULL, PRIMARY KEY (region, service)
);
CREATE TABLE routers (region TEXT PRIMARY KEY, port INTEGER NOT NULL);
CREATE TABLE idempotency (
    key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, response TEXT NOT NULL, created REAL NOT NULL
);
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, time REAL NOT NULL, kind TEXT NOT NULL,
    instance TEXT, pid INTEGER, detail TEXT NOT NULL DEFAULT ''
);
"""
LAUNCH = '{"command": "true", "cwd": "/", "env": {}, "health_path": "/", "health_status": 200}'


def old_database(path: Path) -> None:
    db = sqlite3.connect(path)
    db.executescript(OLD_SCHEMA)
    db.execute(
        "INSERT INTO instances VALUES ('web-v1-a-1', 'eu-west', 'a', 'web', 'v1', 4001, 77,"
        f" 'healthy', 'running', '{LAUNCH}', 1.0)"
    )
    db.execute("INSERT INTO routes VALUES ('eu-west', 'web', '{\"w\": 1}', 3)")
    db.execute("INSERT INTO routers VALUES ('eu-west', 7500)")
    db.execute("INSERT INTO idempotency VALUES ('routes:k1', 'f', '{\"generation\": 3}', 1.0)")
    db.execute("INSERT INTO events (time, kind, detail) VALUES (1.0, 'routes.set', 'eu-west')")
    db.commit()
    db.close()


def test_old_rows_belong_to_the_default_environment(tmp_path: Path) -> None:
    path = tmp_path / "agent.db"
    old_database(path)
    store = AgentStore(path)
    [record] = store.instances()
    assert (record.id, record.environment, record.region, record.pid) == (
        "web-v1-a-1",
        "default",
        "eu-west",
        77,
    )
    assert store.routes() == [("default", "eu-west", "web", {"w": 1}, 3)]
    assert store.routers() == {("default", "eu-west"): (7500, None)}
    assert store.answer("default/routes:k1") == ("f", {"generation": 3})
    assert store.answer("routes:k1") is None
    assert [e.kind for e in store.events()] == ["routes.set"]
    store.close()

    reopened = AgentStore(path)  # a second open migrates nothing again
    assert reopened.routes() == [("default", "eu-west", "web", {"w": 1}, 3)]
    reopened.save_routes("staging", "eu-west", "web", {"w": 2}, 1)
    assert len(reopened.routes()) == 2
    version = sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0]
    assert version == SCHEMA_VERSION


def test_a_new_database_starts_at_the_current_schema(tmp_path: Path) -> None:
    store = AgentStore(tmp_path / "agent.db")
    store.save_router("prod", "eu-west", 7501, None)
    store.save_router("staging", "eu-west", 7502, None)
    assert store.routers() == {
        ("prod", "eu-west"): (7501, None),
        ("staging", "eu-west"): (7502, None),
    }
