"""The SQL the pipeline runs against its SQLite database.

Each query is a constant: editing one reruns exactly the task that runs it, and whatever
depends on that task's result (try it under `lp watch`).
"""

SCHEMA = """
CREATE TABLE routes (route_id TEXT PRIMARY KEY, name TEXT NOT NULL, mode TEXT NOT NULL);
CREATE TABLE stops (stop_id TEXT PRIMARY KEY, name TEXT NOT NULL, lat REAL, lon REAL);
CREATE TABLE boardings (
    date TEXT NOT NULL,
    route_id TEXT NOT NULL REFERENCES routes,
    stop_id TEXT NOT NULL REFERENCES stops,
    period TEXT NOT NULL,
    boardings INTEGER NOT NULL
);
CREATE INDEX boardings_by_route ON boardings (route_id, date);
"""

BY_ROUTE = """
SELECT r.route_id, r.name, r.mode, SUM(b.boardings) AS boardings
FROM boardings b JOIN routes r USING (route_id)
GROUP BY r.route_id
ORDER BY boardings DESC
"""

BY_DAY = """
SELECT date, SUM(boardings) AS boardings
FROM boardings
GROUP BY date
ORDER BY date
"""

BUSIEST_STOPS = """
SELECT s.name, SUM(b.boardings) AS boardings, COUNT(DISTINCT b.route_id) AS routes
FROM boardings b JOIN stops s USING (stop_id)
GROUP BY s.stop_id
ORDER BY boardings DESC
LIMIT 10
"""

BY_PERIOD = """
SELECT period, SUM(boardings) AS boardings
FROM boardings
GROUP BY period
ORDER BY boardings DESC
"""
