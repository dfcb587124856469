"""What the command line prints besides the live display: errors, warnings, `--json` objects,
and what `lp watch` says between runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from typing import TYPE_CHECKING, Any

from little_pipelines.errors import LittlePipelinesError
from little_pipelines.outcomes import Reporter, RunReport
from little_pipelines.ui.text import Line, PlainConsole

if TYPE_CHECKING:
    from collections.abc import Iterator

    from rich.console import Console

    from little_pipelines.project.project import Project

__all__ = [
    "JsonReporter",
    "WatchView",
    "json_head",
    "json_only_on_stdout",
    "print_error",
    "print_json",
    "print_warning",
    "run_json",
]


def print_error(console: Console | PlainConsole, message: str) -> None:
    line = Line("error:", "bold red").append(f" {message}")
    console.print(line, highlight=False, soft_wrap=True)


def print_json(data: dict[str, Any], out: Any = None) -> None:
    out = out or sys.stdout
    out.write(json.dumps(data) + "\n")
    out.flush()


def json_head(project: Project | None, *, ok: bool, error: Any = None) -> dict[str, Any]:
    return {
        "version": 1,
        "pipeline": project.config.name if project else None,
        "root": str(project.root) if project else None,
        "ok": ok,
        "trigger": [],
        "error": error,
    }


def run_json(
    project: Project, report: RunReport, trigger: list[str] | None = None
) -> dict[str, Any]:
    """The `--json` object of one run (SPEC section 4)."""
    data = json_head(project, ok=report.ok)
    data["trigger"] = trigger or []
    data["tasks"] = [t.to_json() for t in report.tasks]
    data["counts"] = report.counts()
    data["duration_s"] = round(report.duration_s, 6)
    if report.warnings:
        data["warnings"] = report.warnings
    return data


def print_warning(console: Console | PlainConsole, message: str) -> None:
    line = Line("warning:", "yellow").append(f" {message}")
    console.print(line, highlight=False, soft_wrap=True)


@contextlib.contextmanager
def json_only_on_stdout(out: Any) -> Iterator[Any]:
    """Yield the stream to write JSON to: `out`, the real stdout. While it lasts, everything
    else that would write there goes to stderr: a task's print(), a worker process, a program
    a task starts (file descriptor 1 itself points at stderr). When `out` is not the process's
    stdout (tests), Python's sys.stdout alone is moved."""
    try:
        fd = out.fileno()
    except (AttributeError, OSError, ValueError):
        fd = None
    if fd != 1:
        with contextlib.redirect_stdout(sys.stderr):
            yield out
        return
    out.flush()
    kept = os.fdopen(os.dup(1), "w", encoding=getattr(out, "encoding", None) or "utf-8")
    os.dup2(2, 1)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield kept
    finally:
        kept.flush()
        os.dup2(kept.fileno(), 1)
        kept.close()


class JsonReporter(Reporter):
    """`--json`: one JSON object for the run on `out` when it closes (SPEC section 4).

    `notices` shows waiting for the lock and warnings as they happen (on stderr), since
    `out` carries nothing but the JSON.
    """

    def __init__(
        self, project: Project, notices: Reporter, out: Any, trigger: list[str] | None = None
    ) -> None:
        self.project, self.notices, self.out, self.trigger = project, notices, out, trigger
        self.report: RunReport | None = None

    def waiting(self, message: str) -> None:
        self.notices.waiting(message)

    def warning(self, message: str) -> None:
        self.notices.warning(message)

    def run_finished(self, report: RunReport) -> None:
        self.report = report

    def close(self) -> None:
        if self.report is not None:
            print_json(run_json(self.project, self.report, self.trigger), self.out)
            self.report = None


class WatchView:
    """What `lp watch` shows: each run through a fresh reporter, then a line (or one JSON
    object per run with `--json`); a load error between runs, and what changed."""

    def __init__(
        self,
        console: Console,
        project: Project,
        *,
        as_json: bool = False,
        verbose: bool = False,
        quiet: bool = False,
    ) -> None:
        self.console = console
        self.project = project
        self.as_json, self.verbose, self.quiet = as_json, verbose, quiet
        self.stdout = sys.stdout  # with --json, stdout carries only the JSON lines

    def reporter(self, trigger: list[str]) -> Reporter:
        """The reporter of one run, which `trigger` (the changed files) started."""
        if self.as_json:
            return JsonReporter(self.project, Reporter(), self.stdout, trigger)
        from little_pipelines.ui.console import make_reporter

        reporter = make_reporter(self.console, verbose=self.verbose, quiet=self.quiet)
        reporter.brief_when_idle = bool(trigger)  # a save that changed nothing: one line
        return reporter

    def on_run(self, report: RunReport, trigger: list[str]) -> None:
        if not self.as_json and not self.quiet:
            root = self.project.root
            self.console.print(f"[dim]watching {root} — Ctrl-C to stop[/]", highlight=False)

    def on_error(self, error: Exception, trigger: list[str]) -> None:
        if not isinstance(error, LittlePipelinesError):  # a bug of ours: say so, keep watching
            if os.environ.get("LP_DEBUG"):
                import traceback

                traceback.print_exception(error, file=sys.stderr)
            error = LittlePipelinesError(
                f"internal error: {type(error).__name__}: {error} — please report it;"
                " LP_DEBUG=1 shows the traceback"
            )
        if self.as_json:
            data = json_head(self.project, ok=False, error=error.to_json())
            data["trigger"] = trigger
            print_json(data, self.stdout)
        else:
            print_error(self.console, error.message)
            self.console.print("[dim]fix it and save: watching for changes…[/]", highlight=False)

    def on_change(self, trigger: list[str]) -> None:
        if not self.as_json and trigger:
            self.console.rule(f"changed: {', '.join(trigger)}", style="dim")
