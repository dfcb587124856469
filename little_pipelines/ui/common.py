"""What every `lp` command shares: the project it opens and its error exits (no typer here).

A command's context is typer's, or the fast lane's stand-in (fast.py): an `obj` dict, given
to `main(argv)` and filled by the options before the command, and `call_on_close`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from little_pipelines.errors import LittlePipelinesError
from little_pipelines.outcomes import ExitCode, PlannedTask, Reporter, RunReport, TaskReport
from little_pipelines.ui.flags import ExecutorName
from little_pipelines.ui.output import json_head, print_error, print_json, print_warning

if TYPE_CHECKING:
    from rich.console import Console

    from little_pipelines.project.project import Project
    from little_pipelines.ui.text import PlainConsole


class Context(Protocol):
    """What a command asks of its context (typer's, or the fast lane's)."""

    @property
    def obj(self) -> Any: ...

    def call_on_close(self, f: Any) -> Any: ...


def opt(ctx: Context, key: str, value: Any) -> Any:
    """A command's own option, else the one given before the command (`lp -C dir run`)."""
    return value or (ctx.obj or {}).get(key)


def err_console() -> Console | PlainConsole:
    """Where errors and notices go: stderr, plain off a terminal."""
    from little_pipelines.ui.text import output_console

    return output_console()


def task_logs_to_stderr(verbose: bool, quiet: bool = False) -> None:
    """Task logs always reach their files; on stderr warnings show, everything with -v."""
    from loguru import logger

    logger.remove()
    if quiet:
        return

    from little_pipelines.engine.supervise import real_stream

    def line(record: Any) -> str:
        task = record["extra"].get("lp_task")
        return ("{extra[lp_task]} | " if task else "") + "{level} | {message}\n{exception}"

    def write(message: str) -> None:  # stderr as it is now, past a task's capture
        real_stream(sys.stderr).write(message)

    stream = real_stream(sys.stderr)
    colour = stream.isatty() and not os.environ.get("NO_COLOR")
    logger.add(write, level="INFO" if verbose else "WARNING", format=line, colorize=colour)


class LogsOnFirstRun(Reporter):
    """`inner`'s events, and task logs on stderr once a task is about to log.

    loguru costs its import; a run whose tasks never log never pays it.
    """

    def __init__(self, inner: Reporter, verbose: bool, quiet: bool) -> None:
        self.inner, self.verbose, self.quiet = inner, verbose, quiet

    def run_started(self, plan: list[PlannedTask]) -> None:
        self.inner.run_started(plan)

    def logs_started(self) -> None:
        task_logs_to_stderr(self.verbose, self.quiet)
        self.inner.logs_started()

    def task_started(self, name: str) -> None:
        self.inner.task_started(name)

    def task_finished(self, report: TaskReport) -> None:
        self.inner.task_finished(report)

    def run_finished(self, report: RunReport) -> None:
        self.inner.run_finished(report)

    def waiting(self, message: str) -> None:
        self.inner.waiting(message)

    def warning(self, message: str) -> None:
        self.inner.warning(message)

    def close(self) -> None:
        self.inner.close()


def open_project(ctx: Context, root: Path | None) -> Project:
    """The project at `--root`, closed when the command ends: in-process callers such as
    tests and `main(argv)` keep neither the database open nor the project on sys.path."""
    from little_pipelines.project.project import Project

    project = Project(opt(ctx, "root", root), session=(ctx.obj or {}).get("session"))
    ctx.call_on_close(project.close)
    return project


@contextmanager
def errors(*, as_json: bool = False, project: list[Any] | None = None) -> Iterator[None]:
    """Turn our errors into a message (or a JSON error object) and exit code 2."""
    try:
        yield
    except LittlePipelinesError as exc:
        if as_json:
            print_json(json_head(project[0] if project else None, ok=False, error=exc.to_json()))
        else:
            print_error(err_console(), exc.message)
        raise SystemExit(ExitCode.USAGE) from None
    except KeyboardInterrupt:  # the entry point prints the one line that says so
        raise SystemExit(ExitCode.INTERRUPTED) from None
    except BrokenPipeError:  # the reader of our output went away: no bug of ours
        raise
    except Exception as exc:  # a bug of ours, or the machine (disk full): one clear line
        if os.environ.get("LP_DEBUG"):
            raise
        print_error(
            err_console(),
            f"internal error: {type(exc).__name__}: {exc} — please report it;"
            " LP_DEBUG=1 shows the traceback",
        )
        raise SystemExit(ExitCode.USAGE) from None


def print_notices(project: Project, verbose: bool = False) -> None:
    """What reading the project warned about, on stderr (stdout stays the command's output);
    with `verbose`, also the tasks files it had to import."""
    if project.notices:
        console = err_console()
        for notice in project.notices:
            print_warning(console, notice)
    if verbose:
        print_imported(project)


def print_imported(project: Project) -> None:
    """One line per tasks file lp imported to read its tasks, saying why (for -v)."""
    if not project.imported:
        return
    console = err_console()
    for path, why in project.imported.items():
        rel = path.relative_to(project.root).as_posix()
        console.print(
            f"note: imported {rel} to read its tasks: {why}", highlight=False, soft_wrap=True
        )


def scheduler_address(
    executor: ExecutorName, address: str | None, jobs: int | None = None
) -> str | None:
    """The scheduler to use, checking the options agree."""
    if executor is ExecutorName.dask and jobs is not None:
        usage("--jobs goes with local processes: on Dask, the cluster's workers decide")
    if executor is ExecutorName.dask and not address:
        usage("--executor dask needs --address tcp://HOST:PORT (the Dask scheduler)")
    if executor is not ExecutorName.dask and address:
        usage("--address goes with --executor dask")
    return address if executor is ExecutorName.dask else None


@dataclass(frozen=True, slots=True)
class Selection:
    """What `-k`, `-m` and `--lf` keep of the named tasks (or of all), as pytest's do."""

    keyword: str | None = None
    marker: str | None = None
    last_failed: bool = False

    def __bool__(self) -> bool:
        return self.keyword is not None or self.marker is not None or self.last_failed

    def describe(self) -> str:
        said = [f"-k {self.keyword!r}"] if self.keyword is not None else []
        said += [f"-m {self.marker!r}"] if self.marker is not None else []
        return " and ".join(said + (["--lf"] if self.last_failed else []))

    def apply(self, project: Project, tasks: list[str] | None) -> tuple[list[str], str | None]:
        """The kept tasks in graph order, and a note for the user (or None).

        `--lf` keeps what `failed_last_time` names; when no task failed it keeps all, as
        pytest does.
        """
        from little_pipelines.engine.keywords import matcher

        graph = project.graph
        names = graph.check(tasks) if tasks else list(graph.order)
        if self.keyword is not None:
            by_name = matcher(self.keyword)
            names = [n for n in names if by_name((n, Path(graph[n].file or "").stem))]
        if self.marker is not None:
            by_tag = matcher(self.marker, option="-m")
            names = [n for n in names if by_tag(graph[n].tags)]
        if not self.last_failed or not names:
            return names, None
        failed = failed_last_time(project, names)
        if not failed:
            return names, "--lf: no task failed last time, so every selected task runs"
        return [n for n in names if n in failed], None


def failed_last_time(project: Project, names: list[str]) -> set[str]:
    """The tasks among `names` whose last run failed, and those downstream of them that
    have no result (the failure kept them from running)."""
    entries = project.cache.entries(names)
    cache = project.cache
    failed = [n for n in names if entries[n] is None and cache.failed_at(n) is not None]
    if not failed:
        return set()
    chosen = set(names)
    return {n for n in project.graph.downstream_of(failed) if n in chosen and entries[n] is None}


def no_tasks(project: Project) -> str:
    return (
        f"no tasks found under {project.root} — a task is a function named task_<name> in a"
        " file named tasks_*.py"
    )


def usage(message: str) -> None:
    print_error(err_console(), message)
    raise SystemExit(ExitCode.USAGE)
