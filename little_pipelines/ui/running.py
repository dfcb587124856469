"""`lp run`, as a plain function: typer's command calls it, and so does the fast lane.

It imports neither typer nor rich for a run whose output is plain (off a terminal, or
`--json`); a run that has something to execute also pays for loguru (LogsOnFirstRun).
"""

from __future__ import annotations

import sys
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from little_pipelines.outcomes import ExitCode, Reporter
from little_pipelines.ui.common import (
    Context,
    LogsOnFirstRun,
    Selection,
    errors,
    failed_last_time,
    no_tasks,
    open_project,
    opt,
    print_imported,
    scheduler_address,
    usage,
)
from little_pipelines.ui.flags import ExecutorName
from little_pipelines.ui.output import JsonReporter, json_only_on_stdout
from little_pipelines.ui.text import output_console

if TYPE_CHECKING:
    from little_pipelines.engine.options import RunOptions
    from little_pipelines.outcomes import RunReport
    from little_pipelines.project.project import Project

__all__ = ["run_tasks"]


def run_tasks(
    ctx: Context,
    tasks: list[str] | None = None,
    force: bool = False,
    dry_run: bool = False,
    exitfirst: bool = False,
    jobs: int | None = None,
    executor: ExecutorName = ExecutorName.local,
    address: str | None = None,
    no_upstream: bool = False,
    as_json: bool = False,
    root: Path | None = None,
    verbose: bool = False,
    quiet: bool = False,
    keyword: str | None = None,
    marker: str | None = None,
    last_failed: bool = False,
    failed_first: bool = False,
    no_capture: bool = False,
    show_locals: bool = False,
    pdb: bool = False,
) -> None:
    """Run all tasks, or the named tasks plus everything upstream of them; SystemExit with
    the exit code (SPEC section 3). `keyword` (-k), `marker` (-m) and `last_failed` (--lf)
    keep the targets they select; `failed_first` (--ff) starts with what failed last time;
    `show_locals` (-l) and `pdb` (--pdb) are for debugging a failure."""
    from little_pipelines.engine.options import RunOptions
    from little_pipelines.ui.console import NoticeReporter, make_reporter

    if no_upstream and not tasks:
        usage("--no-upstream needs task names: lp run NAME --no-upstream")
    dask_address = scheduler_address(executor, address, jobs)
    if pdb and (as_json or dask_address or (jobs or 1) > 1):
        usage(
            "--pdb stops in the debugger in lp's own process:"
            " it does not go with --json, -j N or --executor dask"
        )
    jobs = 1 if pdb else jobs  # (over the jobs setting too: the debugger needs this process)
    console = output_console()  # plain lines off a terminal, without importing rich
    logs = (opt(ctx, "verbose", verbose), as_json or opt(ctx, "quiet", quiet))
    holder: list[Any] = []
    signals = (ctx.obj or {}).get("signals")
    with errors(as_json=as_json, project=holder):
        project = open_project(ctx, root)
        holder.append(project)
        reporter: Reporter
        if as_json:  # the JSON object goes to stdout as it is now, before tasks print to stderr
            reporter = JsonReporter(project, NoticeReporter(console), sys.stdout)
        elif not len(project.graph):
            console.print(no_tasks(project), highlight=False, soft_wrap=True)
            raise SystemExit(ExitCode.NO_TASKS)
        else:
            reporter = make_reporter(
                console,
                verbose=opt(ctx, "verbose", verbose),
                quiet=opt(ctx, "quiet", quiet),
                live=not pdb,  # the debugger's prompt needs the terminal
            )
        if opt(ctx, "verbose", verbose) and len(project.graph):
            print_imported(project)
        selection = Selection(keyword, marker, last_failed)
        if selection:
            tasks, note = selection.apply(project, tasks)
            if not tasks:
                _nothing_selected(project, selection, console, as_json)
            if note is not None and not as_json:
                console.print(note, highlight=False, soft_wrap=True)
        first = failed_last_time(project, list(project.graph.order)) if failed_first else ()
        options = RunOptions.of(
            tasks, force=force, dry_run=dry_run, exitfirst=exitfirst, no_upstream=no_upstream,
            first=first, show_locals=show_locals, pdb=pdb, capture=not no_capture,
        )  # fmt: skip
        routed = LogsOnFirstRun(reporter, *logs)
        json_out = reporter if isinstance(reporter, JsonReporter) else None
        report = _run_project(project, options, routed, jobs, dask_address, signals, json_out)
    if report.cancelled and signals is not None and signals.received:
        raise SystemExit(ExitCode.INTERRUPTED)
    if not len(project.graph):
        raise SystemExit(ExitCode.NO_TASKS)
    raise SystemExit(report.exit_code)


def _nothing_selected(project: Project, selection: Selection, console: Any, as_json: bool) -> None:
    """The selection kept no task: say so (as pytest does when it deselects every test),
    exit 5."""
    from little_pipelines.outcomes import RunReport
    from little_pipelines.ui.output import print_json, run_json

    if as_json:
        print_json(run_json(project, RunReport()))
    else:
        n = len(project.graph)
        message = f"no task matches {selection.describe()} ({n} tasks, none selected)"
        console.print(message, highlight=False, soft_wrap=True)
    raise SystemExit(ExitCode.NO_TASKS)


def _run_project(
    project: Project,
    options: RunOptions,
    reporter: Reporter,
    jobs: int | None,
    dask_address: str | None,
    signals: Any,
    json_out: JsonReporter | None,
) -> RunReport:
    """One run of the project; the reporter is closed however it ends."""
    # with --json, stdout carries one JSON object: what tasks print goes to stderr
    with json_only_on_stdout(json_out.out) if json_out is not None else nullcontext() as out:
        if json_out is not None:
            json_out.out = out
        try:
            return project.run(
                options,
                reporter=reporter,
                jobs=jobs,
                dask_address=dask_address,
                # a task that swallows the KeyboardInterrupt still stops the run
                stop=(lambda: bool(signals.received)) if signals is not None else None,
            )
        finally:
            reporter.close()
