"""The `lp` command. The only place that turns errors and reports into exit codes."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from little_pipelines._version import __version__
from little_pipelines.errors import LittlePipelinesError
from little_pipelines.outcomes import ExitCode, TaskState
from little_pipelines.ui.output import json_head, print_error, print_json, print_warning, run_json

if TYPE_CHECKING:
    from rich.console import Console

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

Root = Annotated[
    Optional[Path],  # noqa: UP045 (typer reads the annotation at runtime)
    typer.Option("--root", "-C", help="Project root (default: found upward from here)."),
]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Show more (cached tasks too).")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Show only failures and totals.")]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
Force = Annotated[bool, typer.Option("--force", "-f", help="Ignore cached results.")]
Jobs = Annotated[
    Optional[int],  # noqa: UP045
    typer.Option("--jobs", "-j", min=1, help="Worker processes (default: the jobs setting, 1)."),
]


class ExecutorName(StrEnum):
    local = "local"
    dask = "dask"


Executor = Annotated[
    ExecutorName,
    typer.Option("--executor", help="Where tasks run: local processes, or a Dask cluster."),
]
Address = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option("--address", help="The Dask scheduler, e.g. tcp://127.0.0.1:8786."),
]
ExitFirst = Annotated[bool, typer.Option("--exitfirst", "-x", help="Stop at the first failure.")]
Tasks = Annotated[Optional[list[str]], typer.Argument(help="Task names (default: all).")]  # noqa: UP045


class GraphFormat(StrEnum):
    text = "text"
    mermaid = "mermaid"
    dot = "dot"


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


def _opt(ctx: typer.Context, key: str, value: Any) -> Any:
    """A command's own option, else the one given before the command (`lp -C dir run`)."""
    return value or (ctx.obj or {}).get(key)


def _console() -> Console:
    from little_pipelines.ui.console import make_console

    return make_console()


def _task_logs_to_stderr(verbose: bool, quiet: bool = False) -> None:
    """Task logs always reach their files; on stderr warnings show, everything with -v."""
    from loguru import logger

    logger.remove()
    if quiet:
        return

    def line(record: Any) -> str:
        task = record["extra"].get("lp_task")
        return ("{extra[lp_task]} | " if task else "") + "{level} | {message}\n{exception}"

    logger.add(sys.stderr, level="INFO" if verbose else "WARNING", format=line)


def _project(ctx: typer.Context, root: Path | None) -> Project:
    """The project at `--root`; its cache is closed when the command ends (in-process callers
    such as tests and `main(argv)` must not keep the database open across commands)."""
    from little_pipelines.project.project import Project

    project = Project(_opt(ctx, "root", root))
    ctx.call_on_close(project.cache.close)
    return project


@contextmanager
def _errors(*, as_json: bool = False, project: list[Any] | None = None) -> Iterator[None]:
    """Turn our errors into a message (or a JSON error object) and exit code 2."""
    try:
        yield
    except LittlePipelinesError as exc:
        if as_json:
            print_json(json_head(project[0] if project else None, ok=False, error=exc.to_json()))
        else:
            print_error(_console(), exc.message)
        raise typer.Exit(ExitCode.USAGE) from None
    except KeyboardInterrupt:  # the entry point prints the one line that says so
        raise typer.Exit(ExitCode.INTERRUPTED) from None
    except (typer.Exit, typer.Abort):
        raise
    except Exception as exc:  # a bug of ours, or the machine (disk full): one clear line
        if os.environ.get("LP_DEBUG"):
            raise
        print_error(
            _console(),
            f"internal error: {type(exc).__name__}: {exc} — please report it;"
            " LP_DEBUG=1 shows the traceback",
        )
        raise typer.Exit(ExitCode.USAGE) from None


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
        _usage("--no-upstream needs task names: lp run NAME --no-upstream")
    dask_address = _dask_address(executor, address)
    console = _console()
    _task_logs_to_stderr(_opt(ctx, "verbose", verbose), as_json or _opt(ctx, "quiet", quiet))
    holder: list[Any] = []
    reporter = NoticeReporter(console)
    signals = (ctx.obj or {}).get("signals")
    with _errors(as_json=as_json, project=holder):
        project = _project(ctx, root)
        holder.append(project)
        if not len(project.graph) and not as_json:
            console.print(_no_tasks(project), highlight=False, soft_wrap=True)
            raise typer.Exit(ExitCode.NO_TASKS)
        if not as_json:
            reporter = make_reporter(
                console, verbose=_opt(ctx, "verbose", verbose), quiet=_opt(ctx, "quiet", quiet)
            )
        try:
            # with --json, stdout carries one JSON object: what tasks print goes to stderr
            quiet_stdout = contextlib.redirect_stdout(sys.stderr) if as_json else nullcontext()
            with quiet_stdout:
                options = RunOptions.of(
                    tasks,
                    force=force,
                    dry_run=dry_run,
                    exitfirst=exitfirst,
                    no_upstream=no_upstream,
                )
                report = project.run(
                    options,
                    reporter=reporter,
                    jobs=jobs,
                    dask_address=dask_address,
                    # a task that swallows the KeyboardInterrupt still stops the run
                    stop=(lambda: bool(signals.received)) if signals is not None else None,
                )
        finally:
            reporter.close()
    if as_json:
        print_json(run_json(project, report))
    else:
        for warning in report.warnings:
            if warning not in reporter.warned:
                print_warning(console, warning)
    if report.cancelled and signals is not None and signals.received:
        raise typer.Exit(ExitCode.INTERRUPTED)
    if not len(project.graph):
        raise typer.Exit(ExitCode.NO_TASKS)
    raise typer.Exit(report.exit_code)


def _print_notices(project: Project) -> None:
    """What reading the project warned about, on stderr (stdout stays the command's output)."""
    if project.notices:
        console = _console()
        for notice in project.notices:
            print_warning(console, notice)


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

    console = _console()
    dask_address = _dask_address(executor, address)
    verbose, quiet = _opt(ctx, "verbose", verbose), _opt(ctx, "quiet", quiet)
    _task_logs_to_stderr(verbose, as_json or quiet)
    with _errors(as_json=as_json):
        project = _project(ctx, root)
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
    with _errors(as_json=as_json, project=[project]):  # the watcher itself failing: exit 2
        try:
            with contextlib.redirect_stdout(sys.stderr) if as_json else nullcontext():
                watcher.run()
        except KeyboardInterrupt:
            watcher.stop_event.set()
            signals = (ctx.obj or {}).get("signals")
            if signals is not None and signals.received[:1] != [signal.SIGINT]:
                raise typer.Exit(ExitCode.INTERRUPTED) from None  # SIGTERM, SIGHUP: 143, 129
    raise typer.Exit(ExitCode.OK)


def _dask_address(executor: ExecutorName, address: str | None) -> str | None:
    """The scheduler to use, checking the two options agree."""
    if executor is ExecutorName.dask and not address:
        _usage("--executor dask needs --address tcp://HOST:PORT (the Dask scheduler)")
    if executor is not ExecutorName.dask and address:
        _usage("--address goes with --executor dask")
    return address if executor is ExecutorName.dask else None


def _no_tasks(project: Project) -> str:
    return (
        f"no tasks found under {project.root} — a task is a function named task_<name> in a"
        " file named tasks_*.py"
    )


def _usage(message: str) -> None:
    print_error(_console(), message)
    raise typer.Exit(ExitCode.USAGE)


@app.command("list")
def list_(
    ctx: typer.Context,
    as_json: Json = False,
    root: Root = None,
    verbose: Verbose = False,
    quiet: Quiet = False,
) -> None:
    """A table of tasks: file:line, dependencies, state, expiry, last duration."""
    from little_pipelines.ui.views import list_rows, render_list

    with _errors(as_json=as_json):
        project = _project(ctx, root)
        rows = list_rows(project)
        _mark_ended_runs(project, rows)
    _print_notices(project)
    if as_json:
        print_json({"version": 1, "pipeline": project.config.name, "tasks": rows})
    else:
        from little_pipelines.ui.console import make_console

        render_list(make_console(stderr=False), rows)


def _mark_ended_runs(project: Project, rows: list[dict[str, Any]]) -> None:
    """A task during which the last run's process ended (os._exit, a crash) shows as failed."""
    from little_pipelines.engine.guard import InProcess

    name = InProcess(project.config.state_dir).leftover(unless_alive=True)
    for row in rows:
        if row["name"] == name:
            row["state"] = TaskState.FAILED


@app.command()
def graph(
    ctx: typer.Context,
    fmt: Annotated[GraphFormat, typer.Option("--format", help="Output format.")] = GraphFormat.text,
    root: Root = None,
    verbose: Verbose = False,
    quiet: Quiet = False,
) -> None:
    """The task graph, with each task's state."""
    from little_pipelines.ui.views import list_rows, render_graph

    with _errors():
        project = _project(ctx, root)
        rows = list_rows(project)
    _print_notices(project)
    typer.echo(render_graph(rows, str(fmt)))


@app.command()
def why(
    ctx: typer.Context, task: str, root: Root = None, verbose: Verbose = False, quiet: Quiet = False
) -> None:
    """Why TASK would run now (the chain back to its cause), or why it is fresh."""
    from little_pipelines.ui.explain import explain

    with _errors():
        project = _project(ctx, root)
        lines = explain(project.graph, project.cache, project.graph[task].name)
    _print_notices(project)
    typer.echo("\n".join(lines))


@app.command()
def show(
    ctx: typer.Context, task: str, root: Root = None, verbose: Verbose = False, quiet: Quiet = False
) -> None:
    """The cached result of TASK, pretty-printed."""
    from rich.console import Console
    from rich.pretty import Pretty

    with _errors():
        value = _project(ctx, root).result(task)
    Console(highlight=False).print(Pretty(value))


@app.command()
def clean(
    ctx: typer.Context,
    tasks: Tasks = None,
    root: Root = None,
    verbose: Verbose = False,
    quiet: Quiet = False,
) -> None:
    """Drop cached results (all of them when no task is named)."""
    with _errors():
        project = _project(ctx, root)
        console = _console()
        with project.cache.lock(lambda message: console.print(message, highlight=False)):
            if tasks:
                names = project.graph.check(tasks)
                dropped = sum(project.cache.drop(name) for name in names)
                message = f"dropped {dropped} cached result(s)"
            else:
                project.cache.reset()
                message = f"dropped every cached result in {project.config.state_dir}"
    if not _opt(ctx, "quiet", quiet):
        _console().print(message, highlight=False)


@app.command()
def shell(
    ctx: typer.Context, root: Root = None, verbose: Verbose = False, quiet: Quiet = False
) -> None:
    """An interactive shell on the project (list_tasks, execute, peek, ...)."""
    from little_pipelines.ui.shell import Shell

    _task_logs_to_stderr(False, quiet=True)
    with _errors():
        project = _project(ctx, root)
        project.graph  # noqa: B018 (load now, so errors show before the prompt)
        # at the prompt every Ctrl-C cancels the current command, not just the first one
        if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        Shell().set_pipeline(project.pipeline).cmdloop()


def main(argv: list[str] | None = None, *, signals: Any = None) -> None:
    """Run the typer app; `signals` (from little_pipelines.__main__) tells commands what
    stopped them. The `lp` command's entry point is little_pipelines.__main__.main."""
    app(args=argv, prog_name="lp", obj={"signals": signals})
