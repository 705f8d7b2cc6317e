"""The durable state of zonal regions: their zones, what each zone serves, their switches.

Kept in the agent's SQLite database beside :mod:`ferryman.providers.local.state`,
in tables of its own, so a restarted agent knows which regions are zonal, brings
each zone router back with the generation it served, and finishes (or has
already aborted) a two-phase switch that was under way.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from ferryman.platform.models import RouteTable
from ferryman.platform.twophase import Switch

_SCHEMA = """
CREATE TABLE IF NOT EXISTS zonal_zones (
    environment TEXT NOT NULL,
    region TEXT NOT NULL,
    zone TEXT NOT NULL,
    position INTEGER NOT NULL,
    generation INTEGER NOT NULL,
    tables_json TEXT NOT NULL,
    PRIMARY KEY (environment, region, zone)
);
CREATE TABLE IF NOT EXISTS zonal_switches (
    environment TEXT NOT NULL,
    region TEXT NOT NULL,
    generation INTEGER NOT NULL,
    switch_json TEXT NOT NULL,
    tables_json TEXT NOT NULL,
    PRIMARY KEY (environment, region, generation)
);
"""

Tables = dict[str, RouteTable]


def tables_json(tables: Tables) -> str:
    """Tables as stored."""
    return json.dumps({s: t.model_dump(mode="json") for s, t in sorted(tables.items())})


def _tables(text: str) -> Tables:
    data: dict[str, Any] = json.loads(text)
    return {s: RouteTable.model_validate(t) for s, t in data.items()}


@dataclass
class ZoneServes:
    """What one zone router serves: a generation and its tables."""

    generation: int = 0
    tables: Tables = field(default_factory=dict)


@dataclass
class ZonalRegion:
    """One zonal region: its zones in order, what each serves, and its latest switch."""

    zones: dict[str, ZoneServes] = field(default_factory=dict)
    switch: Switch | None = None
    switch_tables: Tables = field(default_factory=dict)


class ZonalStore:
    """Reads and writes the zonal tables.

    Args:
        db: The agent's open database.
    """

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self._db.executescript(_SCHEMA)

    def load(self) -> dict[tuple[str, str], ZonalRegion]:
        """Every zonal region, with its latest switch."""
        regions: dict[tuple[str, str], ZonalRegion] = {}
        rows = self._db.execute(
            "SELECT environment, region, zone, generation, tables_json FROM zonal_zones"
            " ORDER BY environment, region, position"
        )
        for environment, region, zone, generation, text in rows:
            found = regions.setdefault((environment, region), ZonalRegion())
            found.zones[zone] = ZoneServes(generation, _tables(text))
        for (environment, region), found in regions.items():
            row = self._db.execute(
                "SELECT switch_json, tables_json FROM zonal_switches WHERE environment = ?"
                " AND region = ? ORDER BY generation DESC LIMIT 1",
                (environment, region),
            ).fetchone()
            if row is not None:
                found.switch = Switch.model_validate_json(row[0])
                found.switch_tables = _tables(row[1])
        return regions

    def save_zone(
        self, environment: str, region: str, zone: str, position: int, serves: ZoneServes
    ) -> None:
        """Record what a zone router serves."""
        self._db.execute(
            "INSERT OR REPLACE INTO zonal_zones VALUES (?, ?, ?, ?, ?, ?)",
            (environment, region, zone, position, serves.generation, tables_json(serves.tables)),
        )

    def save_switch(self, environment: str, region: str, switch: Switch, tables: Tables) -> None:
        """Record a switch as it stands now."""
        self._db.execute(
            "INSERT OR REPLACE INTO zonal_switches VALUES (?, ?, ?, ?, ?)",
            (environment, region, switch.generation, switch.model_dump_json(), tables_json(tables)),
        )

    def switch(self, environment: str, region: str, generation: int) -> Switch | None:
        """The switch to ``generation`` of a region, if there was one."""
        row = self._db.execute(
            "SELECT switch_json FROM zonal_switches WHERE environment = ? AND region = ?"
            " AND generation = ?",
            (environment, region, generation),
        ).fetchone()
        return None if row is None else Switch.model_validate_json(row[0])
