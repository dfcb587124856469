"""Human output of a run: a live rich display on terminals, plain lines everywhere else.

The engine never prints; it emits events to a `Reporter` (SPEC section 8). The reporters here
are what a person sees. Human output goes to stderr so that `lp run --json` owns stdout.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from little_pipelines.ui.output import print_warning
from little_pipelines.ui.text import Line, PlainConsole

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

    AnyConsole = Console | PlainConsole

from little_pipelines.outcomes import (
    PlannedTask,
    Reporter,
    RunReport,
    Status,
    TaskReport,
)

__all__ = [
    "MARKS",
    "SUMMARY_HEADER",
    "ConsoleReporter",
    "NoticeReporter",
    "PlainReporter",
    "format_duration",
    "location",
    "make_console",
    "make_reporter",
    "summary_cells",
]

# Above this many tasks, the summary table leaves out cached rows unless verbose.
_SUMMARY_ROW_LIMIT = 50
# Long task names stop pushing the status column further right beyond this width.
_MAX_NAME_WIDTH = 40

MARKS: dict[Status, tuple[str, str]] = {
    Status.EXECUTED: ("✓", "green"),
    Status.CACHED: ("·", "dim"),
    Status.FAILED: ("✗", "bold red"),
    Status.SKIPPED: ("-", "yellow"),
    Status.UPSTREAM_FAILED: ("!", "red"),
    Status.WOULD_RUN: ("→", "cyan"),
}
SUMMARY_HEADER = ("task", "status", "reason", "duration")


def make_console(*, stderr: bool = True, no_color: bool | None = None) -> Console:
    """A console for human output, on stderr by default; NO_COLOR turns off every style."""
    if no_color is None:
        no_color = os.environ.get("NO_COLOR", "") != ""
    from rich.console import Console

    # rich's no_color only strips colours and still emits bold/dim codes; drop styles entirely.
    # The stream is fixed now: while a task runs, sys.stdout and sys.stderr are its capture,
    # which the live display's refreshes must not write into.
    return Console(
        file=sys.stderr if stderr else sys.stdout,
        no_color=no_color,
        color_system=None if no_color else "auto",
        highlight=False,
    )


def make_reporter(
    console: AnyConsole, *, verbose: bool = False, quiet: bool = False, live: bool = True
) -> ConsoleReporter:
    """The live reporter on a real terminal (unless not `live`), the plain one on pipes, CI
    and dumb terminals."""
    if (
        live
        and not isinstance(console, PlainConsole)
        and console.is_terminal
        and not console.is_dumb_terminal
    ):
        from little_pipelines.ui.live import LiveReporter

        return LiveReporter(console, verbose=verbose, quiet=quiet)
    return PlainReporter(console, verbose=verbose, quiet=quiet)


_IMPORT_SHOWN_S = 0.05  # importing tasks files took long enough to say so


def format_duration(seconds: float | None) -> str:
    """A short human duration: "12ms", "1.23s", "2m03s", "1h02m", or "—" when unknown."""
    if seconds is None:
        return "—"
    seconds = max(seconds, 0.0)
    if round(seconds * 1000) < 1000:
        return f"{round(seconds * 1000)}ms"
    if round(seconds, 2) < 60:
        return f"{seconds:.2f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def was_stopped(task: TaskReport) -> bool:
    """Whether the task failed only because Ctrl-C (or SIGTERM) stopped it while it ran.

    Its JSON status is `failed` (SPEC section 4); people see `interrupted`, without a box.
    """
    error = task.error
    return task.status is Status.FAILED and error is not None and error.type == "KeyboardInterrupt"


def status_word(task: TaskReport) -> str:
    return "interrupted" if was_stopped(task) else str(task.status)


def summary_cells(task: TaskReport) -> tuple[str, str, str, str]:
    """One summary row as text: task, status, reason (blank when cached), duration."""
    reason = "" if task.reason is None else str(task.reason)
    return task.name, status_word(task), reason, format_duration(task.duration_s)


def location(task: TaskReport) -> str:
    """Where a task is defined, as a " (file:line)" suffix; empty when unknown."""
    if task.file is None:
        return ""
    return f" ({task.file}:{task.line})" if task.line is not None else f" ({task.file})"


class NoticeReporter(Reporter):
    """Shows only the notices of a run, on the console: waiting for the lock, and warnings
    (the output of `lp run --json` on stderr; the other reporters show them too)."""

    def __init__(self, console: AnyConsole) -> None:
        self.console = console
        self.warned: list[str] = []  # shown already: the summary does not repeat them
        self.report: RunReport | None = None  # the run's report, once it finished

    def waiting(self, message: str) -> None:
        self.console.print(Line(message), highlight=False, soft_wrap=True)

    def warning(self, message: str) -> None:
        self.warned.append(message)
        print_warning(self.console, message)

    def run_finished(self, report: RunReport) -> None:
        self.report = report

    def close(self) -> None:
        """After the display ends: the run's warnings not shown yet, once each."""
        if self.report is not None:
            for message in self.report.warnings:
                if message not in self.warned:
                    self.warning(message)


class ConsoleReporter(NoticeReporter):
    """What both reporters share: which lines to show, and the end-of-run summary."""

    styled = False
    brief_when_idle = False  # a run that executed nothing says so in one line (watch)

    def __init__(self, console: AnyConsole, *, verbose: bool = False, quiet: bool = False) -> None:
        super().__init__(console)
        self.verbose = verbose
        self.quiet = quiet
        self._name_width = 0

    def run_started(self, plan: list[PlannedTask]) -> None:
        self._name_width = min(max((len(p.name) for p in plan), default=0), _MAX_NAME_WIDTH)

    def task_finished(self, report: TaskReport) -> None:
        if self.quiet or (report.status is Status.CACHED and not self.verbose):
            return
        self._print(self._task_line(report))

    def run_finished(self, report: RunReport) -> None:
        super().run_finished(report)
        if self.brief_when_idle and all(t.status is Status.CACHED for t in report.tasks):
            took = format_duration(report.duration_s)
            self._print(Line(f"nothing to run: {len(report.tasks)} cached, in {took}"))
            return
        if not self.quiet:
            self._print_summary(report)
        for task in report.tasks:
            if task.status is Status.FAILED and not was_stopped(task):
                self._print_failure(task)
        self._print(self._totals_line(report))

    def _style(self, style: str) -> str:
        return style if self.styled else ""

    def _print(self, renderable: RenderableType | Line) -> None:
        # soft_wrap keeps long lines whole (copyable tracebacks, greppable CI logs).
        self.console.print(renderable, soft_wrap=True, markup=False, highlight=False)

    def _task_line(self, report: TaskReport) -> Line:
        symbol, style = MARKS[report.status]
        line = Line()
        line.append(symbol, style=self._style(style))
        line.append(f" {report.name.ljust(self._name_width)}  ")
        line.append(status_word(report), style=self._style(style))
        if report.reason is not None:
            line.append(f" ({report.reason})")
        if report.duration_s is not None:
            line.append(f"  {format_duration(report.duration_s)}", style=self._style("dim"))
        if report.detail:
            line.append(f"  {report.detail}", style=self._style("dim"))
        return line

    def _summary_rows(self, report: RunReport) -> tuple[list[TaskReport], int]:
        """The rows to show and how many cached rows were left out to keep big runs short."""
        if self.verbose or len(report.tasks) <= _SUMMARY_ROW_LIMIT:
            return report.tasks, 0
        shown = [t for t in report.tasks if t.status is not Status.CACHED]
        return shown, len(report.tasks) - len(shown)

    def _print_summary(self, report: RunReport) -> None:
        rows, hidden = self._summary_rows(report)
        if rows:
            self._print(self._summary_table(rows))
        if hidden:
            self._print(Line(f"... {hidden} cached tasks not shown", style=self._style("dim")))

    def _summary_table(self, rows: list[TaskReport]) -> RenderableType | Line:
        cells = [SUMMARY_HEADER, *(summary_cells(t) for t in rows)]
        widths = [max(len(c[i]) for c in cells) for i in range(4)]
        lines = []
        for name, status, reason, duration in cells:
            left = [v.ljust(w) for v, w in zip((name, status, reason), widths, strict=False)]
            lines.append("  ".join([*left, duration.rjust(widths[3])]))
        return Line("\n".join(lines))

    def _failure_body(self, task: TaskReport) -> str:
        error = task.error
        if error is None:
            return task.detail or "failed (no error was recorded)"
        body = error.traceback.rstrip() or f"{error.type}: {error.message}"
        return f"{body}\n{error.captured}" if error.captured else body

    def _print_failure(self, task: TaskReport) -> None:
        self._print(Line(f"✗ {task.name} failed{location(task)}"))
        self._print(Line(self._failure_body(task)))
        self._print(Line(""))

    def _totals_line(self, report: RunReport) -> Line:
        counts = report.counts()
        if report.dry_run:  # nothing ran, so nothing failed
            parts = [f"{counts['executed']} would run", f"{counts['cached']} cached"]
        else:
            stopped = sum(was_stopped(t) for t in report.tasks)
            parts = [f"{counts['executed']} executed", f"{counts['cached']} cached"]
            parts.append(f"{counts['failed'] - stopped} failed")
            if stopped:
                parts.append(f"{stopped} interrupted")
        parts += [f"{counts[k]} {k}" for k in ("skipped", "upstream_failed") if counts[k]]
        warned = sum(t.warnings for t in report.tasks)
        if warned:
            parts.append(f"{warned} warning{'s' if warned > 1 else ''}")
        text = f"{', '.join(parts)} in {format_duration(report.duration_s)}"
        if report.import_s >= _IMPORT_SHOWN_S:  # e.g. pandas, imported by a tasks file
            text += f" (and {format_duration(report.import_s)} importing tasks files)"
        if report.interrupted and "interrupted" not in text:
            text += " (interrupted)"
        elif report.cancelled:  # watch: a save came in while this plan ran
            text += " (a file changed: the rest of this plan was dropped)"
        return Line(text, style=self._style("bold green" if report.ok else "bold red"))


class PlainReporter(ConsoleReporter):
    """For CI logs and pipes: one plain line per finished task, no colour, no live display."""
