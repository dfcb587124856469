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
    "Force",
    "Jobs",
    "Json",
    "NoUpstream",
    "Quiet",
    "Root",
    "Tasks",
    "Verbose",
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
Tasks = Annotated[Optional[list[str]], typer.Argument(help=flags.TASKS_HELP)]  # noqa: UP045
