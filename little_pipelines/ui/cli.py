"""The `lp` command. The only place that turns errors and reports into exit codes."""

from __future__ import annotations

import contextlib
import signal
import sys
from contextlib import nullcontext
from typing import TYPE_CHECKING, Annotated, Any

import typer

from little_pipelines._version import __version__
from little_pipelines.outcomes import ExitCode, Reporter
from little_pipelines.ui.commands import COMMANDS
from little_pipelines.ui.common import (
    Address,
    Executor,
    ExecutorName,
    ExitFirst,
    Force,
    Jobs,
    Json,
    LogsOnFirstRun,
    Quiet,
    Root,
    Tasks,
    Verbose,
    err_console,
    errors,
    no_tasks,
    open_project,
    opt,
    scheduler_address,
    task_logs_to_stderr,
    usage,
)
from little_pipelines.ui.output import JsonReporter

if TYPE_CHECKING:
    from little_pipelines.engine.options import RunOptions
    from little_pipelines.outcomes import RunReport
    from little_pipelines.project.project import Project

__all__ = ["app", "main"]

app = typer.Typer(
    name="lp",
    help="Run tasks_*.py pipelines with cached results: only what changed runs again.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"little-pipelines {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
    root: Root = None,
    verbose: Verbose = False,
    quiet: Quiet = False,
) -> None:
    """Run tasks_*.py pipelines with cached results: only what changed runs again."""
    ctx.ensure_object(dict).update(root=root, verbose=verbose, quiet=quiet)


@app.command()
def run(
    ctx: typer.Context,
    tasks: Tasks = None,
    force: Force = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", "-n", help="Print what would run and why; run nothing.")
    ] = False,
    exitfirst: ExitFirst = False,
    jobs: Jobs = None,
    executor: Executor = ExecutorName.local,
    address: Address = None,
    no_upstream: Annotated[
        bool,
        typer.Option("--no-upstream", help="Run only the named tasks, on cached upstream results."),
    ] = False,
    as_json: Json = False,
    root: Root = None,
    verbose: Verbose = False,
    quiet: Quiet = False,
) -> None:
    """Run all tasks, or the named tasks plus everything upstream of them."""
    from little_pipelines.engine.options import RunOptions
    from little_pipelines.ui.console import NoticeReporter, make_reporter

    if no_upstream and not tasks:
        usage("--no-upstream needs task names: lp run NAME --no-upstream")
    dask_address = scheduler_address(executor, address)
    console = err_console()
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
            raise typer.Exit(ExitCode.NO_TASKS)
        else:
            reporter = make_reporter(
                console, verbose=opt(ctx, "verbose", verbose), quiet=opt(ctx, "quiet", quiet)
            )
        options = RunOptions.of(
            tasks, force=force, dry_run=dry_run, exitfirst=exitfirst, no_upstream=no_upstream
        )
        routed = LogsOnFirstRun(reporter, *logs)
        report = _run_project(project, options, routed, jobs, dask_address, signals, as_json)
    if report.cancelled and signals is not None and signals.received:
        raise typer.Exit(ExitCode.INTERRUPTED)
    if not len(project.graph):
        raise typer.Exit(ExitCode.NO_TASKS)
    raise typer.Exit(report.exit_code)


def _run_project(
    project: Project,
    options: RunOptions,
    reporter: Reporter,
    jobs: int | None,
    dask_address: str | None,
    signals: Any,
    as_json: bool,
) -> RunReport:
    """One run of the project; the reporter is closed however it ends."""
    try:
        # with --json, stdout carries one JSON object: what tasks print goes to stderr
        with contextlib.redirect_stdout(sys.stderr) if as_json else nullcontext():
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


@app.command()
def watch(
    ctx: typer.Context,
    tasks: Tasks = None,
    force: Force = False,
    exitfirst: ExitFirst = False,
    jobs: Jobs = None,
    executor: Executor = ExecutorName.local,
    address: Address = None,
    as_json: Json = False,
    root: Root = None,
    verbose: Verbose = False,
    quiet: Quiet = False,
) -> None:
    """Run, then keep watching and rerun what each save affects (Ctrl-C to stop)."""
    from little_pipelines.project.watch import Watcher
    from little_pipelines.ui.output import WatchView

    console = err_console()
    dask_address = scheduler_address(executor, address)
    verbose, quiet = opt(ctx, "verbose", verbose), opt(ctx, "quiet", quiet)
    task_logs_to_stderr(verbose, as_json or quiet)
    with errors(as_json=as_json):
        project = open_project(ctx, root)
        if tasks:
            project.graph.check(tasks)

    view = WatchView(console, project, as_json=as_json, verbose=verbose, quiet=quiet)

    watcher = Watcher(
        project,
        targets=tasks or None,
        force=force,
        exitfirst=exitfirst,
        jobs=jobs,
        dask_address=dask_address,
        reporter=view.reporter,
        on_run=view.on_run,
        on_error=view.on_error,
        on_change=view.on_change,
    )
    with errors(as_json=as_json, project=[project]):  # the watcher itself failing: exit 2
        try:
            with contextlib.redirect_stdout(sys.stderr) if as_json else nullcontext():
                watcher.run()
        except KeyboardInterrupt:
            watcher.stop_event.set()
            signals = (ctx.obj or {}).get("signals")
            if signals is not None and signals.received[:1] != [signal.SIGINT]:
                raise typer.Exit(ExitCode.INTERRUPTED) from None  # SIGTERM, SIGHUP: 143, 129
    raise typer.Exit(ExitCode.OK)


for _name, _command in COMMANDS.items():
    app.command(_name)(_command)


def main(argv: list[str] | None = None, *, signals: Any = None) -> None:
    """Run the typer app; `signals` (from little_pipelines.__main__) tells commands what
    stopped them. The `lp` command's entry point is little_pipelines.__main__.main."""
    app(args=argv, prog_name="lp", obj={"signals": signals})
