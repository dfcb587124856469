"""The comparison's results: each tool's column of samples, as a markdown table or JSON.

A cell is the median wall time with the min-max spread and, for runs, how many tasks the tool
said it executed (`?` where it cannot tell); a tool that could not run or stopped says why in
its first empty cell, and in full below the table.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
from dataclasses import dataclass, field
from typing import Any

from bench_cli import Sample

from peers.dag import Dag
from peers.tools import Tool

__all__ = ["LP_ONLY", "RUNS", "Column", "machine", "table", "to_json"]

# Whole runs of the DAG, in the order each repetition runs them.
RUNS = ("cold", "first", "noop", "edit")
LP_ONLY = {"version": ["--version"], "list": ["list"]}
HELP_NOTES = {
    "plain": "`python -c pass`",
    "hamilton": "`import hamilton.driver`",
    "pytask": "`python -m pytask --help`",
}


@dataclass
class Column:
    """One tool's measurements: per scenario, the samples and the executed counts."""

    key: str
    title: str
    tool: Tool | None = None
    error: str = ""
    samples: dict[str, list[Sample]] = field(default_factory=dict)
    ran: dict[str, list[int | None]] = field(default_factory=dict)

    def add(self, scenario: str, sample: Sample, ran: int | None = None) -> None:
        self.samples.setdefault(scenario, []).append(sample)
        self.ran.setdefault(scenario, []).append(ran)


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    return {
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }


def _seconds(samples: list[Sample]) -> str:
    walls = [sample.wall_s for sample in samples]
    text = f"{statistics.median(walls):.3f} s"
    return text + (f" ({min(walls):.3f}-{max(walls):.3f})" if len(walls) > 1 else "")


def cell(column: Column, scenario: str, why: bool) -> str:
    """One table cell: median time and spread, tasks executed, or (`why`) why there is none."""
    samples = column.samples.get(scenario)
    if not samples:
        return column.error.replace("|", "/").replace("\n", " ")[:160] if why else "—"
    if scenario == "rss":
        return f"{max(sample.maxrss_kb for sample in samples) / 1024:.0f} MB"
    text = _seconds(samples)
    if scenario in RUNS:
        counts = sorted({"?" if ran is None else str(ran) for ran in column.ran[scenario]})
        text += f", ran {'/'.join(counts)}"
    if scenario == "help" and column.key in HELP_NOTES:
        text += f" ({HELP_NOTES[column.key]})"
    return text


def table(columns: list[Column], dag: Dag) -> str:
    """The markdown table: one row per scenario, one column per tool."""
    must_run = len(dag.closure(dag.edit_target))
    rows = [
        ("no-op rerun", "noop"),
        (f"edit one task ({must_run} must run)", "edit"),
        ("cold run", "cold"),
        ("first rerun after a cold run", "first"),
        ("`--help`", "help"),
        ("`lp --version`", "version"),
        ("`lp list`", "list"),
        ("peak RSS, no-op rerun", "rss"),
    ]
    for column in columns:
        column.samples["rss"] = column.samples.get("noop", [])
    lines = [
        "| " + " | ".join([f"scenario, N = {len(dag):,}", *(c.title for c in columns)]) + " |",
        "|" + "---|" * (len(columns) + 1),
    ]
    explained: set[str] = set()  # the error goes in a column's first empty cell
    for label, scenario in rows:
        cells = []
        for column in columns:
            why = (
                bool(column.error)
                and column.key not in explained
                and not (
                    column.samples.get(scenario) or (scenario in LP_ONLY and column.key != "lp")
                )
            )
            if why:
                explained.add(column.key)
            cells.append(cell(column, scenario, why))
        lines.append("| " + " | ".join([label, *cells]) + " |")
    return "\n".join(lines)


def to_json(columns: list[Column], dag: Dag, reps: int) -> dict[str, Any]:
    """Every raw sample, for later comparison."""
    return {
        "machine": machine(),
        "n": len(dag),
        "reps": reps,
        "edit_task": dag.edit_target,
        "must_run": len(dag.closure(dag.edit_target)),
        "tools": {c.key: {"title": c.title, "error": c.error} for c in columns},
        "samples": [
            {"tool": c.key, "scenario": scenario, "rep": rep, "wall_s": s.wall_s}
            | {"maxrss_kb": s.maxrss_kb, "ran": c.ran[scenario][rep]}
            for c in columns
            for scenario, samples in c.samples.items()
            if scenario != "rss"
            for rep, s in enumerate(samples)
        ],
    }
