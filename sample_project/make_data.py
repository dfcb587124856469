"""Write the sample's data: a small transit network and four weeks of boardings, as CSV.

The numbers are made up but shaped like real ones (busy trunk routes, quiet weekends, morning
and evening peaks), and the same every time (a fixed seed). A few rows are broken on purpose,
as exports from the field often are: the pipeline's validation drops them with a warning.

    python make_data.py          # rewrites data/routes.csv, data/stops.csv, data/boardings.csv
"""

from __future__ import annotations

import csv
import random
from datetime import date, timedelta
from pathlib import Path

DATA = Path(__file__).parent / "data"
FIRST_DAY = date(2026, 11, 2)  # a Monday
DAYS = 28
PERIODS = {"am_peak": 1.0, "midday": 0.55, "pm_peak": 0.9, "evening": 0.3}

ROUTES = [
    ("1", "Harbour Line", "tram", 2.4),
    ("2", "University Loop", "bus", 1.8),
    ("4", "Airport Express", "bus", 1.1),
    ("7", "Old Town Circular", "tram", 1.5),
    ("12", "Riverside", "bus", 0.9),
    ("15", "Hospital Link", "bus", 0.8),
    ("21", "Industrial Park", "bus", 0.5),
    ("33", "Night Owl", "bus", 0.25),
]
STOP_NAMES = [
    "Central Station", "Harbour Front", "Market Square", "University", "Library", "Old Town",
    "Cathedral", "Riverside Park", "City Hospital", "Airport Terminal", "Exhibition Centre",
    "North Gate", "South Gate", "Museum Quarter", "Stadium", "Botanic Garden", "Ferry Pier",
    "Tech Park", "Industrial Estate", "Westfield", "Eastbrook", "Hillcrest", "Lakeside",
    "Mill Lane", "Station Road", "Clock Tower", "Canal Street", "Fire Station", "Town Hall",
    "Bus Depot",
]  # fmt: skip


def _stops(rng: random.Random) -> list[dict[str, str]]:
    return [
        {
            "stop_id": f"S{i:03d}",
            "name": name,
            "lat": f"{59.90 + rng.uniform(-0.05, 0.05):.5f}",
            "lon": f"{10.75 + rng.uniform(-0.08, 0.08):.5f}",
        }
        for i, name in enumerate(STOP_NAMES, start=1)
    ]


def _boardings(rng: random.Random, stops: list[dict[str, str]]) -> list[dict[str, str]]:
    rows = []
    served = {route: rng.sample(stops, 8) for route, *_ in ROUTES}
    for offset in range(DAYS):
        day = FIRST_DAY + timedelta(days=offset)
        weekday = day.weekday() < 5
        for route, _, _, weight in ROUTES:
            for stop in served[route]:
                for period, share in PERIODS.items():
                    level = 60 * weight * share * (1.0 if weekday else 0.45)
                    count = max(0, round(rng.gauss(level, level * 0.15)))
                    rows.append(
                        {
                            "date": day.isoformat(),
                            "route_id": route,
                            "stop_id": stop["stop_id"],
                            "period": period,
                            "boardings": str(count),
                        }
                    )
    # what a real export brings along: a counter glitch, a stop that does not exist, a blank
    for at, change in [
        (137, {"boardings": "-4"}),
        (902, {"stop_id": "S999"}),
        (1764, {"boardings": ""}),
        (2411, {"route_id": "99"}),
        (3306, {"boardings": "many"}),
    ]:
        rows[at] = {**rows[at], **change}
    return rows


def _write(name: str, rows: list[dict[str, str]]) -> None:
    with open(DATA / name, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def main() -> None:
    rng = random.Random(2026)
    DATA.mkdir(exist_ok=True)
    stops = _stops(rng)
    routes = [{"route_id": r, "name": n, "mode": m} for r, n, m, _ in ROUTES]
    _write("routes.csv", routes)
    _write("stops.csv", stops)
    _write("boardings.csv", _boardings(rng, stops))


if __name__ == "__main__":
    main()
