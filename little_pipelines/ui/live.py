"""The live display of a run on a terminal: a progress bar, the running tasks, an estimate.

It reports the same events as the plain lines (console.py) and ends with the same summary,
drawn as a table, and each failure in a panel.
"""

from __future__ import annotations

import statistics
import time

from rich import box
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from little_pipelines.outcomes import PlannedTask, RunReport, TaskReport
from little_pipelines.ui.console import (
    MARKS,
    SUMMARY_HEADER,
    ConsoleReporter,
    format_duration,
    location,
    summary_cells,
)

__all__ = ["LiveReporter", "estimate_durations"]


def estimate_durations(plan: list[PlannedTask]) -> dict[str, float]:
    """Expected seconds per planned task, for the ETA: cached ones are instant, unknown ones
    count as the median of the known durations (or 0 when none is known)."""
    known = [p.last_duration_s for p in plan if p.last_duration_s is not None]
    fallback = statistics.median(known) if known else 0.0

    def expect(p: PlannedTask) -> float:
        if not p.will_run:
            return 0.0
        return fallback if p.last_duration_s is None else p.last_duration_s

    return {p.name: expect(p) for p in plan}


class _EtaColumn(ProgressColumn):
    """Time left, counting down towards the estimate the reporter last stored on the task."""

    def render(self, task: Task) -> Text:
        eta_at = task.fields.get("eta_at")
        if eta_at is None or task.finished:
            return Text("")
        return Text(f"ETA {format_duration(max(0.0, eta_at - time.monotonic()))}", style="cyan")


class LiveReporter(ConsoleReporter):
    """For terminals: a transient display of running tasks and overall progress with an ETA
    from earlier runs' durations, task lines printed above it, then a coloured summary."""

    styled = True

    def __init__(self, console: Console, *, verbose: bool = False, quiet: bool = False) -> None:
        super().__init__(console, verbose=verbose, quiet=quiet)
        self.console: Console = console  # a rich one: the live display draws on it
        self._live: Live | None = None
        self._running_view: Progress | None = None
        self._overall_view: Progress | None = None
        self._overall_id = TaskID(0)
        self._expected: dict[str, float] = {}
        self._pending_s = 0.0  # expected seconds of tasks neither started nor finished
        self._eta_known = False
        self._running: dict[str, tuple[TaskID, float]] = {}

    def run_started(self, plan: list[PlannedTask]) -> None:
        super().run_started(plan)
        self.close()
        self._expected = estimate_durations(plan)
        self._pending_s = sum(self._expected.values())
        # No earlier durations for what will run: an ETA of 0 would mislead, so show none.
        self._eta_known = any(p.last_duration_s is not None for p in plan if p.will_run)
        self._running = {}
        if self.quiet:
            return
        self._running_view = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}", markup=False),
            TimeElapsedColumn(),
            console=self.console,
        )
        self._overall_view = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            _EtaColumn(),
            TimeElapsedColumn(),
            console=self.console,
        )
        self._overall_id = self._overall_view.add_task("run", total=len(plan))
        self._update_eta()
        self._live = Live(
            Group(self._running_view, self._overall_view),
            console=self.console,
            transient=True,
            refresh_per_second=10,
        )
        self._live.start()

    def task_started(self, name: str) -> None:
        self._pending_s -= self._expected.get(name, 0.0)
        task_id = TaskID(-1)
        if self._running_view is not None:
            task_id = self._running_view.add_task(name, total=None)
        self._running[name] = (task_id, time.monotonic())
        self._update_eta()

    def task_finished(self, report: TaskReport) -> None:
        started = self._running.pop(report.name, None)
        if started is None:
            self._pending_s -= self._expected.get(report.name, 0.0)
        elif self._running_view is not None:
            self._running_view.remove_task(started[0])
        if self._overall_view is not None:
            self._overall_view.advance(self._overall_id)
        self._update_eta()
        super().task_finished(report)

    def run_finished(self, report: RunReport) -> None:
        self.close()
        super().run_finished(report)

    def close(self) -> None:
        """Stop the live display; safe to call twice, e.g. from a `finally` after a crash."""
        if self._live is not None:
            self._live.stop()
        self._live = self._running_view = self._overall_view = None
        super().close()

    def _update_eta(self) -> None:
        if self._overall_view is None:
            return
        now = time.monotonic()
        # Only running tasks are summed here, so an event costs O(jobs), not O(tasks).
        running_s = sum(
            max(0.0, self._expected.get(name, 0.0) - (now - started))
            for name, (_, started) in self._running.items()
        )
        eta_at = now + max(0.0, self._pending_s) + running_s
        self._overall_view.update(self._overall_id, eta_at=eta_at if self._eta_known else None)

    def _summary_table(self, rows: list[TaskReport]) -> RenderableType:
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        for column in SUMMARY_HEADER:
            table.add_column(column, justify="right" if column == "duration" else "left")
        for t in rows:
            name, status, reason, duration = summary_cells(t)
            # Text, not str: a task name like "load[raw]" must not be read as rich markup.
            status_text = Text(status, style=MARKS[t.status][1])
            table.add_row(Text(name), status_text, Text(reason), Text(duration, style="dim"))
        return table

    def _print_failure(self, task: TaskReport) -> None:
        title = Text(f"✗ {task.name}{location(task)}", style="bold red")
        panel = Panel(
            Text(self._failure_body(task)), title=title, title_align="left", border_style="red"
        )
        self.console.print(panel, markup=False, highlight=False)
