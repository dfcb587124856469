"""The typer form of the options declared in flags.py, for the commands' signatures."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from little_pipelines.ui import flags
from little_pipelines.ui.flags import ExecutorName, Flag

__all__ = [
    "Address",
    "DryRun",
    "Executor",
    "ExitFirst",
    "FailedFirst",
    "Force",
    "Jobs",
    "Json",
    "Keyword",
    "LastFailed",
    "Marker",
    "NoCapture",
    "NoUpstream",
    "Outputs",
    "Pdb",
    "Quiet",
    "Root",
    "ShowLocals",
    "Task",
    "Tasks",
    "Verbose",
    "complete_tasks",
    "option",
]


def option(flag: Flag) -> typer.models.OptionInfo:
    """The typer option of a declared flag."""
    return typer.Option(*flag.names, help=flag.help, min=flag.least)  # type: ignore[no-any-return]


# (typer reads these annotations at runtime: Optional, not `X | None`)
Root = Annotated[Optional[Path], option(flags.ROOT)]  # noqa: UP045
Verbose = Annotated[bool, option(flags.VERBOSE)]
Quiet = Annotated[bool, option(flags.QUIET)]
Json = Annotated[bool, option(flags.JSON)]
Force = Annotated[bool, option(flags.FORCE)]
Jobs = Annotated[Optional[int], option(flags.JOBS)]  # noqa: UP045
Executor = Annotated[ExecutorName, option(flags.EXECUTOR)]
Address = Annotated[Optional[str], option(flags.ADDRESS)]  # noqa: UP045
ExitFirst = Annotated[bool, option(flags.EXITFIRST)]
DryRun = Annotated[bool, option(flags.DRY_RUN)]
NoUpstream = Annotated[bool, option(flags.NO_UPSTREAM)]
Keyword = Annotated[Optional[str], option(flags.KEYWORD)]  # noqa: UP045
Marker = Annotated[Optional[str], option(flags.MARKER)]  # noqa: UP045
LastFailed = Annotated[bool, option(flags.LAST_FAILED)]
FailedFirst = Annotated[bool, option(flags.FAILED_FIRST)]
Outputs = Annotated[bool, option(flags.CLEAN_FLAGS["outputs"])]
ShowLocals = Annotated[bool, option(flags.SHOW_LOCALS)]
NoCapture = Annotated[bool, option(flags.NO_CAPTURE)]
Pdb = Annotated[bool, option(flags.PDB)]


def complete_tasks(ctx: typer.Context, incomplete: str) -> list[str]:
    """Shell completion of task names: the project's tasks that start with what was typed.

    Never fails the shell: a project that cannot be read completes nothing. A tasks file
    that must be imported (`lp.Task`) is imported quietly, as `lp list` would import it.
    """
    import contextlib
    import io

    from little_pipelines.project.project import Project

    root = ctx.params.get("root") or (ctx.find_root().params.get("root"))
    given = set(ctx.params.get("tasks") or ())
    quiet = io.StringIO()
    try:
        with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
            project = Project(root)
            try:
                names = list(project.names())
            finally:
                project.close()
    except Exception:  # a completion must not print a traceback into the shell
        return []
    return [name for name in names if name.startswith(incomplete) and name not in given]


Tasks = Annotated[
    Optional[list[str]],  # noqa: UP045
    typer.Argument(help=flags.TASKS_HELP, autocompletion=complete_tasks),
]
Task = Annotated[str, typer.Argument(help=flags.TASK_HELP, autocompletion=complete_tasks)]
