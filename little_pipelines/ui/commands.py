"""The `lp` commands that read a project: list, graph, why, show; and clean, shell.

They are plain functions; cli.py registers them on the `lp` app, after run and watch.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from little_pipelines.ui import flags
from little_pipelines.ui.common import (
    err_console,
    errors,
    open_project,
    opt,
    print_notices,
    task_logs_to_stderr,
)
from little_pipelines.ui.flags import GraphFormat
from little_pipelines.ui.output import print_warning
from little_pipelines.ui.params import (
    Json,
    Keyword,
    LastFailed,
    Marker,
    Outputs,
    Quiet,
    Root,
    Task,
    Tasks,
    Verbose,
    option,
)
from little_pipelines.ui.text import PlainConsole, output_console

if TYPE_CHECKING:
    from little_pipelines.project.project import Project

__all__ = ["COMMANDS"]


def list_(
    ctx: typer.Context,
    keyword: Keyword = None,
    marker: Marker = None,
    last_failed: LastFailed = False,
    as_json: Json = False,
    root: Root = None,
    verbose: Verbose = False,
    quiet: Quiet = False,
) -> None:
    """`lp list` (the fast lane runs the same `list_command`)."""
    from little_pipelines.ui.views import list_command

    list_command(ctx, as_json, root, verbose, quiet, keyword, marker, last_failed)


def graph(
    ctx: typer.Context,
    fmt: Annotated[GraphFormat, option(flags.FORMAT)] = GraphFormat.text,
    root: Root = None,
    verbose: Verbose = False,
    quiet: Quiet = False,
) -> None:
    """`lp graph`: the rows of `lp list`, drawn as text, Mermaid or DOT."""
    from little_pipelines.ui.views import list_rows, render_graph

    with errors():
        project = open_project(ctx, root)
        rows = list_rows(project)
    print_notices(project, opt(ctx, "verbose", verbose))
    typer.echo(render_graph(rows, str(fmt)))


def why(
    ctx: typer.Context,
    task: Task,
    root: Root = None,
    verbose: Verbose = False,
    quiet: Quiet = False,
) -> None:
    """`lp why`: the planner's decision for one task, explained (explain.py)."""
    from little_pipelines.ui.explain import explain

    diff: dict[int, str] = {}
    with errors():
        project = open_project(ctx, root)
        name = project.graph[task].name
        lines = explain(
            project.graph, project.cache, name, session=project.session, diff_lines=diff
        )
    print_notices(project, opt(ctx, "verbose", verbose))
    console = output_console(stderr=False)  # (rich only on a terminal)
    if isinstance(console, PlainConsole):  # a pipe, a file: the text as it is
        typer.echo("\n".join(lines))
        return
    from rich.text import Text

    for i, line in enumerate(lines):
        console.print(Text(line, style=_DIFF_STYLES.get(diff.get(i, ""), "")), soft_wrap=True)


# the colours of a unified diff's lines, as git shows them
_DIFF_STYLES = {"---": "bold", "+++": "bold", "@": "cyan", "-": "red", "+": "green"}


def show(
    ctx: typer.Context,
    task: Task,
    root: Root = None,
    verbose: Verbose = False,
    quiet: Quiet = False,
) -> None:
    """`lp show`: one cached result, loaded and printed."""
    with errors():
        project = open_project(ctx, root)
        value = project.result(task)
    print_notices(project, opt(ctx, "verbose", verbose))
    print_value(value)


def print_value(value: object) -> None:
    """A result as a person reads it: text as text, a table as its table, anything else
    pretty-printed (on a terminal in colour and to its width; off one, never hard-wrapped)."""
    import sys

    if isinstance(value, str):
        text = value
    elif type(value).__module__.partition(".")[0] in ("pandas", "polars", "numpy"):
        text = _head(value)  # their own tables
    elif sys.stdout.isatty():
        from rich.console import Console
        from rich.pretty import Pretty

        Console(highlight=False).print(Pretty(value))
        return
    else:
        import pprint

        text = pprint.pformat(value, width=100, sort_dicts=False)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


_HEAD = 10  # the rows `lp show` prints of a long data frame


def _head(value: Any) -> str:
    """A data frame's first rows as its library prints them, with its size under them when
    there are more; another pandas, polars or numpy object as it prints itself."""
    shape = getattr(value, "shape", None)
    head = getattr(value, "head", None)
    if type(value).__name__ != "DataFrame" or not callable(head) or not shape:
        return str(value)
    rows, columns = shape[0], shape[1]
    if rows <= 2 * _HEAD:
        return str(value)
    return (
        f"{head(_HEAD)}\n... the first {_HEAD} of {rows:,} rows ({columns:,} columns);"
        " lp.load() gives the whole frame"
    )


def clean(
    ctx: typer.Context,
    tasks: Tasks = None,
    outputs: Outputs = False,
    root: Root = None,
    verbose: Verbose = False,
    quiet: Quiet = False,
) -> None:
    """`lp clean`: drop results under the run lock, so no run is writing meanwhile."""
    with errors():
        project = open_project(ctx, root)
        console = err_console()
        with project.cache.lock(lambda message: console.print(message, highlight=False)):
            if tasks:
                names = project.graph.check(tasks)
                dropped = sum(project.cache.drop(name) for name in names)
                message = f"dropped {dropped} cached result(s)"
            else:
                names = list(project.graph.order) if outputs else []
                project.cache.reset()
                message = f"dropped every cached result in {project.config.state_dir}"
            if outputs:
                message += f"; deleted {_delete_outputs(project, names)} output file(s)"
    print_notices(project, opt(ctx, "verbose", verbose))
    if not opt(ctx, "quiet", quiet):
        err_console().print(message, highlight=False)


def _delete_outputs(project: Project, names: list[str]) -> int:
    """Delete the output files that the named tasks declare; how many there were."""
    from little_pipelines.fingerprint.inputs import output_file

    graph, deleted = project.graph, 0
    for name in names:
        spec = graph[name]
        for output in spec.outputs:
            path = output_file(spec.input_root or project.root, output)
            try:
                path.unlink()
            except FileNotFoundError:
                continue
            except OSError as exc:  # a folder, no permission: say so, go on with the rest
                print_warning(err_console(), f"could not delete {output}: {exc.strerror or exc}")
                continue
            deleted += 1
    return deleted


def shell(
    ctx: typer.Context, root: Root = None, verbose: Verbose = False, quiet: Quiet = False
) -> None:
    """`lp shell`: the library's cmd shell, on the project's pipeline."""
    from little_pipelines.ui.shell import Shell

    task_logs_to_stderr(False, quiet=True)
    with errors():
        project = open_project(ctx, root)
        project.graph  # noqa: B018 (load now, so errors show before the prompt)
        print_notices(project, opt(ctx, "verbose", verbose))
        # at the prompt every Ctrl-C cancels the current command, not just the first one
        if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        prompt = Shell().set_pipeline(project.pipeline)
        prompt.quiet = bool(opt(ctx, "quiet", quiet))
        prompt.cmdloop()


COMMANDS: dict[str, Callable[..., None]] = {
    "list": list_,
    "graph": graph,
    "why": why,
    "show": show,
    "clean": clean,
    "shell": shell,
}
