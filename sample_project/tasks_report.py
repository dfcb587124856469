"""Reports built from the sales tasks."""

import little_pipelines as lp


@lp.task(expire=lp.expire.at_midnight())
def task_report(by_region, top_products, this):
    """A small text report, rebuilt at least once a day."""
    lines = [f"{region:<6} {total:>8.2f}" for region, total in by_region.items()]
    lines.append("top products: " + ", ".join(top_products))
    text = "\n".join(lines) + "\n"
    (this.root / "reports" / "sales.txt").write_text(text)
    return text
