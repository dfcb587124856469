"""Load the validated tables into SQLite, and aggregate them with SQL (queries.py)."""

import hashlib
import sqlite3

import queries

DATABASE = "output/transit.sqlite"


def task_database(routes, stops, boardings, this):
    """A fresh SQLite database file holding the three tables.

    The result names the file and fingerprints what went into it, so that the queries
    below rerun when, and only when, the data they read changed.
    """
    path = this.root / DATABASE
    path.parent.mkdir(exist_ok=True)
    path.unlink(missing_ok=True)
    with sqlite3.connect(path) as db:
        db.executescript(queries.SCHEMA)
        db.executemany(
            "INSERT INTO routes VALUES (?, ?, ?)",
            [(rid, r["name"], r["mode"]) for rid, r in routes.items()],
        )
        db.executemany(
            "INSERT INTO stops VALUES (?, ?, ?, ?)",
            [(sid, s["name"], s["lat"], s["lon"]) for sid, s in stops.items()],
        )
        rows = [
            (b["date"], b["route_id"], b["stop_id"], b["period"], b["boardings"]) for b in boardings
        ]
        db.executemany("INSERT INTO boardings VALUES (?, ?, ?, ?, ?)", rows)
    db.close()
    content = hashlib.sha256(repr((sorted(routes.items()), sorted(stops.items()), rows)).encode())
    this.logger.info("loaded {} boardings rows into {}", len(rows), DATABASE)
    return {"path": DATABASE, "boardings": len(rows), "content": content.hexdigest()}


def _query(database, this, sql):
    with sqlite3.connect(this.root / database["path"]) as db:
        db.row_factory = sqlite3.Row
        found = [dict(row) for row in db.execute(sql)]
    db.close()
    return found


def task_by_route(database, this):
    """Boardings per route, busiest first."""
    return _query(database, this, queries.BY_ROUTE)


def task_by_day(database, this):
    """Boardings per day."""
    return _query(database, this, queries.BY_DAY)


def task_busiest_stops(database, this):
    """The ten busiest stops, with how many routes serve them."""
    return _query(database, this, queries.BUSIEST_STOPS)


def task_by_period(database, this):
    """Boardings per time of day."""
    return _query(database, this, queries.BY_PERIOD)
