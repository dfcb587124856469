"""The command line's commands and options, declared once, without typer.

typer builds the commands' options from these (params.py), the fast lane (fast.py) parses
`lp run` and `lp list` with the same declarations, and help.py prints every `--help` from
them, so none of the three can drift from the others (tests/test_fast.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

__all__ = [
    "COMMANDS",
    "GLOBAL_FLAGS",
    "LIST_FLAGS",
    "LP_HELP",
    "RUN_FLAGS",
    "Command",
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
    metavar: str | None = None  # what help shows for its value (default: from `takes`)
    hidden: bool = False  # accepted (a common option) but left out of help: it changes nothing


@dataclass(frozen=True, slots=True)
class Command:
    """One command: its help, its options by parameter name, and the task names it takes
    (`TASK` one, `[TASK]...` any number, None none)."""

    help: str
    flags: Mapping[str, Flag]
    tasks: str | None = None


ROOT = Flag(("--root", "-C"), "Project root (default: found upward from here).", Path)
VERBOSE = Flag(("--verbose", "-v"), "Show more: cached tasks, task logs, imported files.")
QUIET = Flag(("--quiet", "-q"), "Show only failures and totals.")
JSON = Flag(("--json",), "Print one JSON object on stdout.")
FORCE = Flag(("--force", "-f"), "Ignore cached results.")
JOBS = Flag(("--jobs", "-j"), "Worker processes (default: the jobs setting, 1).", int, least=1)
EXECUTOR = Flag(
    ("--executor",), "Where tasks run: local processes, or a Dask cluster.", ExecutorName
)
ADDRESS = Flag(("--address",), "The Dask scheduler, e.g. tcp://127.0.0.1:8786.", str, metavar="URL")
EXITFIRST = Flag(("--exitfirst", "-x"), "Stop at the first failure.")
DRY_RUN = Flag(("--dry-run", "-n"), "Print what would run and why; run nothing.")
NO_UPSTREAM = Flag(("--no-upstream",), "Run only the named tasks, on cached upstream results.")
VERSION = Flag(("--version",), "Show the version.")
FORMAT = Flag(("--format",), "Output format.", GraphFormat)
KEYWORD = Flag(
    ("-k",),
    "Select tasks by name or file: substrings with and/or/not, as pytest's -k.",
    str,
    metavar="EXPR",
)
MARKER = Flag(
    ("-m",),
    "Select tasks by tags: tag names with and/or/not, as pytest's -m.",
    str,
    metavar="EXPR",
)
LAST_FAILED = Flag(
    ("--lf", "--last-failed"),
    "Select the tasks that failed last time and those they held up (all, if none failed).",
)
FAILED_FIRST = Flag(("--ff", "--failed-first"), "Run the tasks that failed last time first.")
NO_CAPTURE = Flag(
    ("-s", "--no-capture"), "Let tasks print to the terminal (else it goes to their logs)."
)
SHOW_LOCALS = Flag(("--show-locals", "-l"), "Show each frame's local variables in failures.")
PDB = Flag(("--pdb",), "Stop in the debugger where a task fails (tasks run in lp's process).")
TASKS_HELP = "Task names (default: all)."
TASK_HELP = "A task name."
LP_HELP = "Run tasks_*.py pipelines with cached results: only what changed runs again."
# typer's own options of `lp` (it handles them; help shows them)
COMPLETION = {
    "install_completion": Flag(
        ("--install-completion",), "Install completion for the current shell."
    ),
    "show_completion": Flag(
        ("--show-completion",),
        "Show completion for the current shell, to copy it or customize the installation.",
    ),
}

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
    "keyword": KEYWORD,
    "marker": MARKER,
    "last_failed": LAST_FAILED,
    "failed_first": FAILED_FIRST,
    "no_capture": NO_CAPTURE,
    "show_locals": SHOW_LOCALS,
    "pdb": PDB,
    "as_json": JSON,
    "root": ROOT,
    "verbose": VERBOSE,
    "quiet": QUIET,
}
# -v and -q are accepted by every command (SPEC section 4); help offers them where they do
# something: -v names the tasks files lp had to import to read them, -q says less
IMPORTS = Flag(("--verbose", "-v"), "Also name the tasks files lp had to import, and why.")
NO_EFFECT = Flag(("--quiet", "-q"), "Accepted; changes nothing here.", hidden=True)
PLAIN_FLAGS = {"root": ROOT, "verbose": IMPORTS, "quiet": NO_EFFECT}
SELECTION = ("keyword", "marker", "last_failed")
LIST_FLAGS = {**{k: RUN_FLAGS[k] for k in SELECTION}, "as_json": JSON, **PLAIN_FLAGS}
WATCH_FLAGS = {
    k: f
    for k, f in RUN_FLAGS.items()
    if k not in ("dry_run", "no_upstream", "last_failed", "failed_first", "show_locals", "pdb")
}
CLEAN_FLAGS = {
    "outputs": Flag(("--outputs",), "Also delete the output files the tasks declare (outputs=)."),
    **PLAIN_FLAGS,
    "quiet": Flag(("--quiet", "-q"), "Print nothing when it works."),
}
SHELL_FLAGS = {
    **PLAIN_FLAGS,
    "quiet": Flag(("--quiet", "-q"), "Start in quiet mode: runs print only failures and totals."),
}

COMMANDS = {
    "run": Command(
        "Run all tasks, or the named tasks plus everything upstream of them.",
        RUN_FLAGS,
        "[TASK]...",
    ),
    "watch": Command(
        "Run, then keep watching and rerun what each save affects (Ctrl-C to stop).",
        WATCH_FLAGS,
        "[TASK]...",
    ),
    "list": Command(
        "A table of tasks: file:line, dependencies, state, expiry, last duration.", LIST_FLAGS
    ),
    "graph": Command("The task graph, with each task's state.", {"fmt": FORMAT, **PLAIN_FLAGS}),
    "why": Command(
        "Why TASK would run now (the chain back to its cause), or why it is fresh.",
        PLAIN_FLAGS,
        "TASK",
    ),
    "show": Command("The cached result of TASK, pretty-printed.", PLAIN_FLAGS, "TASK"),
    "clean": Command(
        "Drop cached results (all of them when no task is named).", CLEAN_FLAGS, "[TASK]..."
    ),
    "shell": Command(
        "An interactive shell on the project (list_tasks, execute, peek, ...).", SHELL_FLAGS
    ),
}
