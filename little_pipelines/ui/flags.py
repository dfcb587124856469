"""The command line's options, declared once, without typer.

typer builds the commands' options from these (params.py), and the fast lane (fast.py) parses
`lp run` with the same declarations, so the two cannot drift apart (tests/test_fast.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

__all__ = [
    "GLOBAL_FLAGS",
    "LIST_FLAGS",
    "RUN_FLAGS",
    "ExecutorName",
    "Flag",
    "GraphFormat",
]


class ExecutorName(StrEnum):
    local = "local"
    dask = "dask"


class GraphFormat(StrEnum):
    text = "text"
    mermaid = "mermaid"
    dot = "dot"


@dataclass(frozen=True, slots=True)
class Flag:
    """One option: its names (long first), its help, and the type of its value (None for a
    switch). `least` is the smallest value an int option takes."""

    names: tuple[str, ...]
    help: str
    takes: type | None = None
    least: int | None = None


ROOT = Flag(("--root", "-C"), "Project root (default: found upward from here).", Path)
VERBOSE = Flag(("--verbose", "-v"), "Show more (cached tasks too).")
QUIET = Flag(("--quiet", "-q"), "Show only failures and totals.")
JSON = Flag(("--json",), "Print one JSON object on stdout.")
FORCE = Flag(("--force", "-f"), "Ignore cached results.")
JOBS = Flag(("--jobs", "-j"), "Worker processes (default: the jobs setting, 1).", int, least=1)
EXECUTOR = Flag(
    ("--executor",), "Where tasks run: local processes, or a Dask cluster.", ExecutorName
)
ADDRESS = Flag(("--address",), "The Dask scheduler, e.g. tcp://127.0.0.1:8786.", str)
EXITFIRST = Flag(("--exitfirst", "-x"), "Stop at the first failure.")
DRY_RUN = Flag(("--dry-run", "-n"), "Print what would run and why; run nothing.")
NO_UPSTREAM = Flag(("--no-upstream",), "Run only the named tasks, on cached upstream results.")
VERSION = Flag(("--version",), "Show the version.")
TASKS_HELP = "Task names (default: all)."

# the parameters of `lp` itself (before the command) and of `lp run`, by parameter name
GLOBAL_FLAGS = {"version": VERSION, "root": ROOT, "verbose": VERBOSE, "quiet": QUIET}
RUN_FLAGS = {
    "force": FORCE,
    "dry_run": DRY_RUN,
    "exitfirst": EXITFIRST,
    "jobs": JOBS,
    "executor": EXECUTOR,
    "address": ADDRESS,
    "no_upstream": NO_UPSTREAM,
    "as_json": JSON,
    "root": ROOT,
    "verbose": VERBOSE,
    "quiet": QUIET,
}
LIST_FLAGS = {"as_json": JSON, "root": ROOT, "verbose": VERBOSE, "quiet": QUIET}
