"""`--help` for `lp` and each command, printed from the declarations of flags.py.

Plain text as click prints it, without typer, rich or pydantic (which cost more to import
than a no-op run of a thousand tasks). Help is wrapped to the terminal's width on a
terminal, and never hard-wrapped off one (a pipe, a file, a pager decides for itself).
"""

from __future__ import annotations

import enum
import shutil
import sys
import textwrap
from collections.abc import Iterable, Mapping
from pathlib import Path

from little_pipelines.ui.flags import (
    COMMANDS,
    COMPLETION,
    GLOBAL_FLAGS,
    LP_HELP,
    TASK_HELP,
    TASKS_HELP,
    Flag,
)

__all__ = ["HELP", "HELP_NAMES", "help_text", "metavar", "print_help", "render"]

HELP_NAMES = ("-h", "--help")
HELP = Flag(HELP_NAMES[::-1], "Show this message and exit.")
_WIDEST = 30  # an option wider than this has its help on the next line


def metavar(flag: Flag) -> str:
    """What help shows for a flag's value: `PATH`, `N`, `[local|dask]`; "" for a switch."""
    kind = flag.takes
    if kind is None:
        return ""
    if flag.metavar:
        return flag.metavar
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return "[" + "|".join(str(member.value) for member in kind) + "]"
    return {Path: "PATH", int: "N"}.get(kind, "TEXT")


def _spelled(flag: Flag) -> str:
    """`-f, --force`, `    --json`, `-j, --jobs N`: short name first, as click prints."""
    long = [n for n in flag.names if n.startswith("--")]
    short = [n for n in flag.names if not n.startswith("--")]
    names = ", ".join(short + long) if short else "    " + ", ".join(long)
    value = metavar(flag)
    return f"{names} {value}" if value else names


def _help_of(flag: Flag) -> str:
    kind = flag.takes
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        first = next(iter(kind))  # a choice's default is its first value
        return f"{flag.help} [default: {first.value}]"
    return flag.help


def _table(rows: Iterable[tuple[str, str]], width: int | None) -> list[str]:
    """Two columns, the second wrapped to `width` when given."""
    rows = list(rows)
    left = min(max((len(name) for name, _ in rows), default=0), _WIDEST)
    lines: list[str] = []
    for name, text in rows:
        indent = " " * (2 + left + 2)
        if width is None:
            body = [text]
        else:
            body = textwrap.wrap(text, max(width - len(indent), 20)) or [""]
        if len(name) > left:
            lines.append(f"  {name}")
            lines.extend(indent + part for part in body)
            continue
        lines.append(f"  {name.ljust(left)}  {body[0]}".rstrip())
        lines.extend(indent + part for part in body[1:])
    return lines


def _options(flags: Mapping[str, Flag], width: int | None) -> list[str]:
    shown = (f for f in flags.values() if not f.hidden)
    return ["Options:", *_table(((_spelled(f), _help_of(f)) for f in shown), width)]


def _paragraph(text: str, width: int | None) -> list[str]:
    if width is None:
        return [f"  {text}"]
    return textwrap.wrap(text, width, initial_indent="  ", subsequent_indent="  ")


def render(command: str | None, width: int | None = None) -> str:
    """The help of `lp COMMAND` (of `lp` itself for None), wrapped to `width` if given."""
    if command is None:
        lines = ["Usage: lp [OPTIONS] COMMAND [ARGS]...", "", *_paragraph(LP_HELP, width), ""]
        every = {**GLOBAL_FLAGS, **COMPLETION, "help": HELP}
        lines += [*_options(every, width), "", "Commands:"]
        lines += _table(((name, c.help) for name, c in COMMANDS.items()), width)
        tail = "Run 'lp COMMAND --help' for the options of a command."
        lines += ["", *(textwrap.wrap(tail, width) if width else [tail])]
        return "\n".join(lines) + "\n"
    declared = COMMANDS[command]
    usage = f"Usage: lp {command} [OPTIONS]" + (f" {declared.tasks}" if declared.tasks else "")
    lines = [usage, "", *_paragraph(declared.help, width), ""]
    if declared.tasks:
        what = TASKS_HELP if declared.tasks.endswith("...") else TASK_HELP
        lines += ["Arguments:", *_table([(declared.tasks, what)], width), ""]
    lines += _options({**declared.flags, "help": HELP}, width)
    return "\n".join(lines) + "\n"


def help_text(command: str | None) -> str:
    """The help of `lp COMMAND` for stdout: wrapped to its width only on a terminal."""
    width = shutil.get_terminal_size().columns if sys.stdout.isatty() else None
    return render(command, width)


def print_help(command: str | None) -> None:
    """Print the help of `lp COMMAND` on stdout."""
    sys.stdout.write(help_text(command))
    sys.stdout.flush()
