"""Turn the aggregates into what people read: a summary, charts, an HTML report and a CSV."""

import csv
from datetime import date
from html import escape

import charts

import little_pipelines as lp


def task_summary(by_route, by_day):
    """Totals, each route's share, and the average weekday against the average weekend day."""
    total = sum(r["boardings"] for r in by_route)
    weekday = [d["boardings"] for d in by_day if date.fromisoformat(d["date"]).weekday() < 5]
    weekend = [d["boardings"] for d in by_day if date.fromisoformat(d["date"]).weekday() >= 5]
    return {
        "total": total,
        "days": len(by_day),
        "first_day": by_day[0]["date"],
        "last_day": by_day[-1]["date"],
        "weekday_average": round(sum(weekday) / len(weekday)),
        "weekend_average": round(sum(weekend) / len(weekend)),
        "shares": {r["route_id"]: round(100 * r["boardings"] / total, 1) for r in by_route},
    }


def task_route_chart(by_route):
    """Boardings by route, as an SVG bar chart."""
    labels = [f"{r['route_id']} {r['name']}" for r in by_route]
    return charts.bar_chart(labels, [r["boardings"] for r in by_route], "Boardings by route")


def task_day_chart(by_day):
    """Boardings by day, as an SVG column chart with the weekends lighter."""
    days = [d["date"] for d in by_day]
    weekends = {d for d in days if date.fromisoformat(d).weekday() >= 5}
    values = [d["boardings"] for d in by_day]
    return charts.column_chart(days, values, "Boardings by day", highlight=weekends)


@lp.task(expire=lp.expire.at_midnight(), outputs=["output/report.html"])
def task_report(
    summary, by_route, by_period, busiest_stops, route_chart, day_chart, data_quality, this
):
    """output/report.html: rebuilt at least once a day (it says when it was made), and
    whenever the file is deleted or edited by hand."""
    shares = summary["shares"]
    routes = "".join(
        _row([r["route_id"], r["name"], r["mode"]], [r["boardings"], f"{shares[r['route_id']]}%"])
        for r in by_route
    )
    stops = "".join(_row([s["name"]], [s["boardings"], s["routes"]]) for s in busiest_stops)
    periods = ", ".join(f"{p['period'].replace('_', ' ')} {p['boardings']:,}" for p in by_period)
    page = REPORT.format(
        today=date.today().isoformat(),
        routes=routes,
        stops=stops,
        periods=periods,
        route_chart=route_chart,
        day_chart=day_chart,
        rejected=f"{data_quality['rejected']:,}",
        checked=f"{data_quality['rows']:,}",
        **{k: f"{v:,}" if isinstance(v, int) else v for k, v in summary.items() if k != "shares"},
    )
    path = this.root / "output" / "report.html"
    path.parent.mkdir(exist_ok=True)
    path.write_text(page, encoding="utf-8")
    this.logger.info("wrote {}", path.relative_to(this.root))
    return str(path.relative_to(this.root))


def _row(texts, numbers):
    """A table row: cells of text, then cells of numbers (right-aligned)."""
    cells = [f"<td>{escape(str(text))}</td>" for text in texts]
    cells += [
        f"<td class=n>{n:,}</td>" if isinstance(n, int) else f"<td class=n>{n}</td>"
        for n in numbers
    ]
    return "<tr>" + "".join(cells) + "</tr>"


@lp.task(outputs=["output/boardings_by_day.csv"])
def task_export(by_day, this):
    """output/boardings_by_day.csv, for the spreadsheet crowd."""
    path = this.root / "output" / "boardings_by_day.csv"
    path.parent.mkdir(exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["date", "boardings"])
        writer.writeheader()
        writer.writerows(by_day)
    return str(path.relative_to(this.root))


REPORT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Boardings {first_day} to {last_day}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 52rem; color: #1f2937 }}
table {{ border-collapse: collapse; margin: 1rem 0 }}
td, th {{ padding: .25rem .75rem; border-bottom: 1px solid #e5e7eb; text-align: left }}
td.n {{ text-align: right; font-variant-numeric: tabular-nums }}
.note {{ color: #6b7280 }}
</style></head><body>
<h1>Boardings, {first_day} to {last_day}</h1>
<p>{total} boardings over {days} days: {weekday_average} on an average weekday,
{weekend_average} on an average weekend day. By time of day: {periods}.</p>
{route_chart}
<table><tr><th>Route</th><th>Name</th><th>Mode</th><th>Boardings</th><th>Share</th></tr>{routes}</table>
{day_chart}
<h2>Busiest stops</h2>
<table><tr><th>Stop</th><th>Boardings</th><th>Routes</th></tr>{stops}</table>
<p class="note">{rejected} of {checked} rows of boardings.csv failed validation and were left
out (see .little_pipelines/logs/boardings.log). Report made on {today}.</p>
</body></html>
"""
