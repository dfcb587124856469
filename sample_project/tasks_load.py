"""Load the agency's CSV exports and validate them.

`raw` reads every CSV under data/: a change to any of them reruns it (and, through its
result, whatever the change reaches). The other tasks check each table; a boardings row that
fails a check is dropped with a warning in the task's log.
"""

import csv
import time

import little_pipelines as lp


@lp.task(inputs=["data/*.csv"])
def task_raw(this):
    """Every CSV file of data/, as rows (dicts of strings), by file name."""
    tables = {}
    for path in sorted((this.root / "data").glob("*.csv")):
        with open(path, newline="") as f:
            tables[path.stem] = list(csv.DictReader(f))
        this.logger.info("read {} rows from {}", len(tables[path.stem]), path.name)
    time.sleep(0.3)  # stands in for downloading the exports from the data portal
    return tables


def task_routes(raw):
    """The routes, by id."""
    return {row["route_id"]: {"name": row["name"], "mode": row["mode"]} for row in raw["routes"]}


def task_stops(raw):
    """The stops, by id, with their coordinates as numbers."""
    return {
        row["stop_id"]: {"name": row["name"], "lat": float(row["lat"]), "lon": float(row["lon"])}
        for row in raw["stops"]
    }


def task_boardings(raw, routes, stops, this):
    """The boardings rows that pass validation, with counts as integers."""
    valid, rejected = [], 0
    for line, row in enumerate(raw["boardings"], start=2):  # line 1 is the header
        problem = _problem(row, routes, stops)
        if problem:
            this.logger.warning("boardings.csv line {}: {}; row dropped", line, problem)
            rejected += 1
            continue
        valid.append({**row, "boardings": int(row["boardings"])})
    this.logger.info("{} rows valid, {} dropped", len(valid), rejected)
    time.sleep(0.2)  # stands in for heavier checks
    return valid


def _problem(row, routes, stops):
    """What is wrong with a boardings row, or None."""
    if row["route_id"] not in routes:
        return f"unknown route {row['route_id']!r}"
    if row["stop_id"] not in stops:
        return f"unknown stop {row['stop_id']!r}"
    count = row["boardings"]
    if not count.isdigit():
        return f"boardings is {count!r}, not a count"
    return None
