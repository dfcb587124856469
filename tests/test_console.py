"""What a person sees from a run: task lines, summary, totals and failures, live or plain."""

from __future__ import annotations

import io
import re
import time

import pytest
from rich.console import Console

from little_pipelines.outcomes import (
    PlannedTask,
    Reason,
    Reporter,
    RunReport,
    Status,
    TaskError,
    TaskReport,
)
from little_pipelines.ui.console import (
    PlainReporter,
    format_duration,
    make_console,
    make_reporter,
)
from little_pipelines.ui.live import LiveReporter, estimate_durations

ANSI = re.compile(r"\x1b\[")
ANSI_ANY = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "tasks_sales.py", line 16, in report\n'
    "    raise ValueError(totals)\n"
    "ValueError: no [red]totals[/red]\n"
)


def make_test_console(*, terminal: bool) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=terminal, width=100), out


def sample_run() -> tuple[list[PlannedTask], list[TaskReport], RunReport]:
    plan = [
        PlannedTask("load", will_run=False, last_duration_s=0.5),
        PlannedTask("clean_orders", will_run=True, reason=Reason.CODE, last_duration_s=0.01),
        PlannedTask("report", will_run=True, reason=Reason.UPSTREAM),
        PlannedTask("publish", will_run=True, reason=Reason.UPSTREAM),
    ]
    tasks = [
        TaskReport("load", Status.CACHED, file="tasks_sales.py", line=3),
        TaskReport("clean_orders", Status.EXECUTED, Reason.CODE, 0.012, "tasks_sales.py", 8),
        TaskReport(
            "report",
            Status.FAILED,
            Reason.UPSTREAM,
            0.003,
            "tasks_sales.py",
            14,
            TaskError("ValueError", "no [red]totals[/red]", TRACEBACK),
        ),
        TaskReport("publish", Status.UPSTREAM_FAILED, file="tasks_sales.py", line=20),
    ]
    return plan, tasks, RunReport(tasks=tasks, duration_s=1.234)


def drive(reporter: Reporter, plan: list[PlannedTask], report: RunReport) -> None:
    """Send the engine's events for `report` in order, as the engine would."""
    reporter.run_started(plan)
    for task in report.tasks:
        if task.status in (Status.EXECUTED, Status.FAILED):
            reporter.task_started(task.name)
        reporter.task_finished(task)
    reporter.run_finished(report)


def run_plain(**options: bool) -> str:
    console, out = make_test_console(terminal=False)
    plan, _, report = sample_run()
    drive(PlainReporter(console, **options), plan, report)
    return out.getvalue()


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "—"),
        (0.0, "0ms"),
        (0.012, "12ms"),
        (0.9996, "1.00s"),
        (1.234, "1.23s"),
        (59.999, "1m00s"),
        (123, "2m03s"),
        (3725, "1h02m"),
    ],
)
def test_format_duration(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text


def test_estimate_durations_cached_instant_unknown_median() -> None:
    plan = [
        PlannedTask("cached", will_run=False, last_duration_s=9.0),
        PlannedTask("a", will_run=True, last_duration_s=1.0),
        PlannedTask("b", will_run=True, last_duration_s=3.0),
        PlannedTask("new", will_run=True),
    ]
    assert estimate_durations(plan) == {"cached": 0.0, "a": 1.0, "b": 3.0, "new": 3.0}
    assert estimate_durations([PlannedTask("new", will_run=True)]) == {"new": 0.0}


def test_plain_prints_task_lines_without_ansi() -> None:
    text = run_plain()
    assert not ANSI.search(text)
    lines = text.splitlines()
    assert any(re.fullmatch(r"✓ clean_orders\s+executed \(code\)\s+12ms", ln) for ln in lines)
    assert any(ln.startswith("✗ report") and "failed (upstream)" in ln for ln in lines)
    assert any(ln.startswith("! publish") and "upstream_failed" in ln for ln in lines)


def test_plain_summary_has_names_statuses_reasons_and_totals() -> None:
    text = run_plain()
    header = next(ln for ln in text.splitlines() if ln.startswith("task"))
    assert header.split() == ["task", "status", "reason", "duration"]
    rows = {ln.split()[0]: ln.split()[1:] for ln in text.splitlines() if ln and ln[0].isalpha()}
    assert rows["clean_orders"] == ["executed", "code", "12ms"]
    assert rows["load"] == ["cached", "—"]
    assert rows["report"] == ["failed", "upstream", "3ms"]
    assert text.rstrip().endswith("1 executed, 1 cached, 1 failed, 1 upstream_failed in 1.23s")


def test_failure_shows_location_and_traceback_verbatim() -> None:
    text = run_plain()
    assert "report failed (tasks_sales.py:14)" in text
    # The traceback is printed as is: brackets in user text are not rich markup.
    assert TRACEBACK.rstrip() in text
    assert "publish failed" not in text  # upstream failures have no traceback of their own


def test_failure_without_traceback_shows_type_and_message() -> None:
    console, out = make_test_console(terminal=False)
    task = TaskReport("report", Status.FAILED, file="t.py", error=TaskError("KeyError", "'x'"))
    drive(PlainReporter(console), [PlannedTask("report", True)], RunReport([task], 0.1))
    assert "report failed (t.py)" in out.getvalue()
    assert "KeyError: 'x'" in out.getvalue()


def test_cached_lines_hidden_unless_verbose() -> None:
    assert "· load" not in run_plain()
    assert "· load" in run_plain(verbose=True)


def test_quiet_shows_only_failures_and_totals() -> None:
    text = run_plain(quiet=True)
    assert "clean_orders" not in text
    assert "load" not in text
    assert "status" not in text  # no summary table
    assert "report failed (tasks_sales.py:14)" in text
    assert "ValueError: no [red]totals[/red]" in text
    assert text.rstrip().splitlines()[-1].startswith("1 executed, 1 cached, 1 failed")


def large_run() -> tuple[list[PlannedTask], RunReport]:
    tasks = [TaskReport(f"cached_{i:03d}", Status.CACHED) for i in range(60)]
    tasks += [TaskReport("fresh_one", Status.EXECUTED, Reason.NEW, 0.2)]
    plan = [PlannedTask(t.name, t.status is not Status.CACHED) for t in tasks]
    return plan, RunReport(tasks, 0.5)


@pytest.mark.parametrize("terminal", [False, True])
def test_large_runs_collapse_cached_rows(terminal: bool) -> None:
    console, out = make_test_console(terminal=terminal)
    plan, report = large_run()
    drive(make_reporter(console), plan, report)
    text = out.getvalue()
    assert "... 60 cached tasks not shown" in text
    assert "cached_007" not in text
    assert "fresh_one" in text
    assert "1 executed, 60 cached, 0 failed in 500ms" in text


def test_large_runs_show_every_row_when_verbose() -> None:
    console, out = make_test_console(terminal=False)
    plan, report = large_run()
    drive(PlainReporter(console, verbose=True), plan, report)
    assert "not shown" not in out.getvalue()
    assert out.getvalue().count("cached_007") == 2  # its line and its summary row


def test_totals_for_dry_run_and_interrupted_runs() -> None:
    console, out = make_test_console(terminal=False)
    tasks = [TaskReport("a", Status.WOULD_RUN, Reason.NEW), TaskReport("b", Status.CACHED)]
    drive(PlainReporter(console), [], RunReport(tasks, 0.01, dry_run=True))
    assert "1 would run, 1 cached in 10ms" in out.getvalue()  # nothing ran: nothing failed
    assert "→ a" in out.getvalue()

    console, out = make_test_console(terminal=False)
    drive(PlainReporter(console), [], RunReport([], 2.0, interrupted=True))
    assert out.getvalue().strip() == "0 executed, 0 cached, 0 failed in 2.00s (interrupted)"


def test_make_reporter_picks_live_on_terminals_only() -> None:
    assert isinstance(make_reporter(make_test_console(terminal=True)[0]), LiveReporter)
    assert isinstance(make_reporter(make_test_console(terminal=False)[0]), PlainReporter)


def test_make_console_writes_to_stderr_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    make_console().print("to stderr")
    make_console(stderr=False).print("to stdout")
    captured = capsys.readouterr()
    assert "to stderr" in captured.err
    assert "to stdout" in captured.out


def test_make_console_honours_no_color(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("NO_COLOR", raising=False)
    make_console().print("[bold red]coloured[/]")
    assert ANSI.search(capsys.readouterr().err)  # the check below could fail

    monkeypatch.setenv("NO_COLOR", "1")
    console = make_console()
    assert console.is_terminal
    console.print("[bold red]plain[/]")
    *_, report = sample_run()
    LiveReporter(console).run_finished(report)  # the styled summary, table and panel
    err = capsys.readouterr().err
    assert "plain" in err
    assert not ANSI.search(err)
    assert make_console(no_color=False).color_system is not None


def test_live_reporter_runs_through_all_events_and_ends_with_summary() -> None:
    console, out = make_test_console(terminal=True)
    plan, _, report = sample_run()
    reporter = LiveReporter(console)
    drive(reporter, plan, report)
    text = out.getvalue()
    assert ANSI.search(text)  # coloured, with a live display
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)
    assert "✓ clean_orders" in plain
    assert "· load" not in plain
    for word in ("task", "status", "reason", "duration", "upstream_failed"):
        assert word in plain
    assert "✗ report (tasks_sales.py:14)" in plain
    assert "ValueError: no [red]totals[/red]" in plain
    assert plain.rstrip().endswith("1 executed, 1 cached, 1 failed, 1 upstream_failed in 1.23s")
    assert reporter._live is None  # display stopped


def test_live_reporter_can_be_reused_and_closed_twice() -> None:
    console, out = make_test_console(terminal=True)
    plan, _, report = sample_run()
    reporter = LiveReporter(console, verbose=True)
    drive(reporter, plan, report)
    drive(reporter, plan, report)
    reporter.run_started(plan)
    reporter.close()
    reporter.close()
    assert out.getvalue().count("1 upstream_failed in 1.23s") == 2


def test_live_reporter_quiet_has_no_display() -> None:
    console, out = make_test_console(terminal=True)
    plan, _, report = sample_run()
    reporter = LiveReporter(console, quiet=True)
    reporter.run_started(plan)
    assert reporter._live is None
    for task in report.tasks:
        reporter.task_finished(task)
    reporter.run_finished(report)
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.getvalue())
    assert "clean_orders" not in plain
    assert "tasks_sales.py:14" in plain


def test_live_eta_counts_tasks_still_to_run() -> None:
    console, _ = make_test_console(terminal=True)
    plan, tasks, _ = sample_run()
    reporter = LiveReporter(console)
    reporter.run_started(plan)
    try:
        overall = reporter._overall_view
        assert overall is not None

        def eta_in() -> float:
            return overall.tasks[0].fields["eta_at"] - time.monotonic()

        # clean_orders 0.01s; report and publish unknown: median(0.5, 0.01) each; load cached.
        assert eta_in() == pytest.approx(0.52, abs=0.05)
        reporter.task_finished(tasks[0])
        reporter.task_started("clean_orders")
        reporter.task_finished(tasks[1])
        assert eta_in() == pytest.approx(0.51, abs=0.05)
    finally:
        reporter.close()


@pytest.mark.parametrize("terminal", [False, True])
def test_warnings_of_the_run_show_once_after_the_display(terminal: bool) -> None:
    console, out = make_test_console(terminal=terminal)
    reporter = make_reporter(console)
    plan, _, report = sample_run()
    report.warnings = ["shown during the run", "found by the planner"]
    reporter.run_started(plan)
    reporter.warning("shown during the run")
    reporter.run_finished(report)
    reporter.close()
    reporter.close()
    text = ANSI_ANY.sub("", out.getvalue())
    assert text.count("warning: shown during the run") == 1
    assert text.count("warning: found by the planner") == 1
    assert text.rindex("warning: found by the planner") > text.index("task")


@pytest.mark.parametrize("terminal", [False, True])
def test_a_watch_run_that_executes_nothing_is_one_line(terminal: bool) -> None:
    """A comment-only save under `lp watch`: no table of every cached task again."""
    console, out = make_test_console(terminal=terminal)
    reporter = make_reporter(console)
    reporter.brief_when_idle = True
    idle = RunReport([TaskReport("a", Status.CACHED), TaskReport("b", Status.CACHED)], 0.002)
    drive(reporter, [], idle)
    shown = out.getvalue()
    assert "nothing to run: 2 cached, in 2ms" in shown
    assert "duration" not in shown and "0 failed" not in shown  # no table, no totals line
    console, out = make_test_console(terminal=terminal)
    reporter = make_reporter(console)
    reporter.brief_when_idle = True
    busy = RunReport([TaskReport("a", Status.EXECUTED, Reason.CODE, 0.01)], 0.02)
    drive(reporter, [PlannedTask("a", will_run=True, reason=Reason.CODE)], busy)
    assert "1 executed" in out.getvalue() and "nothing to run" not in out.getvalue()


def test_a_plan_dropped_for_a_newer_save_says_so() -> None:
    console, out = make_test_console(terminal=False)
    report = RunReport([TaskReport("a", Status.EXECUTED, Reason.CODE, 0.01)], 0.02, cancelled=True)
    drive(PlainReporter(console), [PlannedTask("a", will_run=True, reason=Reason.CODE)], report)
    assert "(a file changed: the rest of this plan was dropped)" in out.getvalue()
