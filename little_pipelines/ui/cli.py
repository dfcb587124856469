"""The `lp` command. The only place that turns errors and reports into exit codes."""

from __future__ import annotations

import signal
from contextlib import nullcontext
from typing import TYPE_CHECKING, Annotated, Any

import typer
import typer.core
from typer._click.exceptions import UsageError  # typer vendors click: its own classes

from little_pipelines._version import __version__
from little_pipelines.errors import LittlePipelinesError
from little_pipelines.outcomes import ExitCode
from little_pipelines.ui import flags
from little_pipelines.ui.commands import COMMANDS
from little_pipelines.ui.common import (
    Selection,
    errors,
    open_project,
    opt,
    scheduler_address,
    task_logs_to_stderr,
)
from little_pipelines.ui.flags import ExecutorName
from little_pipelines.ui.params import (
    Address,
    DryRun,
    Executor,
    ExitFirst,
    FailedFirst,
    Force,
    Jobs,
    Json,
    Keyword,
    LastFailed,
    Marker,
    NoCapture,
    NoUpstream,
    Pdb,
    Quiet,
    Root,
    ShowLocals,
    Tasks,
    Verbose,
)
from little_pipelines.ui.running import run_tasks

if TYPE_CHECKING:
    from little_pipelines.project.project import Project

__all__ = ["app", "main"]


class _Group(typer.core.TyperGroup):
    """`lp`, with the help the fast lane prints (ui/help.py) instead of typer's."""

    def format_help(self, ctx: Any, formatter: Any) -> None:  # click's, as typer vendors it
        from little_pipelines.ui.help import help_text

        formatter.write(help_text(None))


class _Command(typer.core.TyperCommand):
    """A command of `lp`, with the help the fast lane prints (ui/help.py), its usage line
    as declared (`[TASK]...`, not `[tasks]...`), and parse errors in plain words."""

    def format_help(self, ctx: Any, formatter: Any) -> None:  # click's, as typer vendors it
        from little_pipelines.ui.help import help_text

        formatter.write(help_text(self.name))

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        tasks = flags.COMMANDS[self.name or ""].tasks
        return ["[OPTIONS]", tasks] if tasks else ["[OPTIONS]"]

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().make_context(*args, **kwargs)
        except UsageError as exc:
            exc.message = _plain(exc.message)
            raise


def _plain(message: str) -> str:
    """A parse error without the wording of the validation library under typer."""
    import re

    message = re.sub(
        r"Input should be greater than or equal to (\d+)", r"must be \1 or more", message
    )
    return re.sub(r"Value error, (.*?)\.?$", r"\1", message)


app = typer.Typer(
    cls=_Group,
    name="lp",
    help=flags.LP_HELP,
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # usage errors as plain lines, like lp's own (help is ui/help.py)
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
        typer.Option(
            *flags.VERSION.names, callback=_version, is_eager=True, help=flags.VERSION.help
        ),
    ] = False,
    root: Root = None,
    verbose: Verbose = False,
    quiet: Quiet = False,
) -> None:
    """lp's own options, kept for the command (`lp -C dir run`)."""
    ctx.ensure_object(dict).update(root=root, verbose=verbose, quiet=quiet)


@app.command(help=flags.COMMANDS["run"].help, cls=_Command)
def run(
    ctx: typer.Context,
    tasks: Tasks = None,
    force: Force = False,
    dry_run: DryRun = False,
    exitfirst: ExitFirst = False,
    jobs: Jobs = None,
    executor: Executor = ExecutorName.local,
    address: Address = None,
    no_upstream: NoUpstream = False,
    keyword: Keyword = None,
    marker: Marker = None,
    last_failed: LastFailed = False,
    failed_first: FailedFirst = False,
    no_capture: NoCapture = False,
    show_locals: ShowLocals = False,
    pdb: Pdb = False,
    as_json: Json = False,
    root: Root = None,
    verbose: Verbose = False,
    quiet: Quiet = False,
) -> None:
    """`lp run`: the fast lane runs the same `run_tasks` (see fast.py)."""
    run_tasks(
        ctx, tasks, force, dry_run, exitfirst, jobs, executor, address, no_upstream, as_json,
        root, verbose, quiet, keyword=keyword, marker=marker, last_failed=last_failed,
        failed_first=failed_first, no_capture=no_capture, show_locals=show_locals, pdb=pdb,
    )  # fmt: skip


@app.command(help=flags.COMMANDS["watch"].help, cls=_Command)
def watch(
    ctx: typer.Context,
    tasks: Tasks = None,
    force: Force = False,
    exitfirst: ExitFirst = False,
    jobs: Jobs = None,
    executor: Executor = ExecutorName.local,
    address: Address = None,
    keyword: Keyword = None,
    marker: Marker = None,
    no_capture: NoCapture = False,
    as_json: Json = False,
    root: Root = None,
    verbose: Verbose = False,
    quiet: Quiet = False,
) -> None:
    """`lp watch`: a Watcher on the project, shown by a WatchView."""
    from little_pipelines.project.watch import Watcher
    from little_pipelines.ui.console import make_console
    from little_pipelines.ui.output import WatchView, json_only_on_stdout

    console = make_console()
    dask_address = scheduler_address(executor, address, jobs)
    verbose, quiet = opt(ctx, "verbose", verbose), opt(ctx, "quiet", quiet)
    task_logs_to_stderr(verbose, as_json or quiet)
    with errors(as_json=as_json):
        project = open_project(ctx, root)
        if tasks:
            project.graph.check(tasks)
        selection = Selection(keyword, marker)
        if selection:
            selection.apply(project, tasks)  # a broken expression ends here, exit 2

    def select(project: Project) -> list[str]:
        names = selection.apply(project, tasks)[0]
        if not names:
            raise LittlePipelinesError(f"no task matches {selection.describe()}: nothing to run")
        return names

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
        select=select if selection else None,
        capture=not no_capture,
    )
    with errors(as_json=as_json, project=[project]):  # the watcher itself failing: exit 2
        try:
            with json_only_on_stdout(view.stdout) if as_json else nullcontext(view.stdout) as out:
                view.stdout = out
                watcher.run()
        except KeyboardInterrupt:
            watcher.stop_event.set()
            signals = (ctx.obj or {}).get("signals")
            if signals is not None and signals.received[:1] != [signal.SIGINT]:
                raise SystemExit(ExitCode.INTERRUPTED) from None  # SIGTERM, SIGHUP: 143, 129
    raise SystemExit(ExitCode.OK)


for _name, _command in COMMANDS.items():
    app.command(_name, help=flags.COMMANDS[_name].help, cls=_Command)(_command)


def main(argv: list[str] | None = None, *, signals: Any = None) -> None:
    """Run the typer app; `signals` (from little_pipelines.__main__) tells commands what
    stopped them. The `lp` command's entry point is little_pipelines.__main__.main."""
    app(args=argv, prog_name="lp", obj={"signals": signals})
