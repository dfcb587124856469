"""Sales: load the orders, clean them, and total them per region."""

import csv
import time

import little_pipelines as lp
from helpers import with_tax


@lp.task(inputs=["data/orders.csv"])
def task_orders(this):
    """Read the raw orders file."""
    with open(this.root / "data" / "orders.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    this.logger.info("read {} orders", len(rows))
    time.sleep(0.3)  # stands in for a slow extract
    return rows


def task_clean_orders(orders, this):
    """Drop orders without a quantity and compute each order's total."""
    clean = []
    for row in orders:
        if not row["quantity"]:
            this.logger.warning("dropping order {}: no quantity", row["order_id"])
            continue
        total = int(row["quantity"]) * float(row["unit_price"])
        clean.append({**row, "total": with_tax(total)})
    time.sleep(0.2)
    return clean


def task_by_region(clean_orders):
    """Revenue per region."""
    totals: dict[str, float] = {}
    for row in clean_orders:
        totals[row["region"]] = round(totals.get(row["region"], 0) + row["total"], 2)
    return dict(sorted(totals.items()))


def task_top_products(clean_orders, limit=2):
    """The best-selling products by revenue."""
    totals: dict[str, float] = {}
    for row in clean_orders:
        totals[row["product"]] = totals.get(row["product"], 0) + row["total"]
    return sorted(totals, key=totals.get, reverse=True)[:limit]
