"""The fast lane: `lp run`, `lp list`, `lp --version` and every `--help` without typer.

typer (with click and pydantic) takes longer to import and to parse a command line than a
no-op run of a thousand tasks. A command line the fast lane fully understands is parsed with
the declarations of flags.py and goes to the same `run_tasks` as typer's `run`; help is
printed from the same declarations (help.py). Anything else (completion, another command, an
unknown option, a value that does not convert, short flags run together) is left to typer,
which says what is wrong.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from little_pipelines.ui import flags
from little_pipelines.ui.flags import GLOBAL_FLAGS, LIST_FLAGS, RUN_FLAGS, Flag

__all__ = ["COMMANDS", "Invocation", "fast_main", "parse"]

# the commands of the fast lane: their options, whether they take task names, and their body
COMMANDS: dict[str, tuple[Mapping[str, Flag], bool, str]] = {
    "run": (RUN_FLAGS, True, "little_pipelines.ui.running:run_tasks"),
    "list": (LIST_FLAGS, False, "little_pipelines.ui.views:list_command"),
}


class Invocation:
    """The fast lane's stand-in for typer's context: `obj`, and what runs when it closes."""

    def __init__(self, obj: dict[str, Any]) -> None:
        self.obj = obj
        self._on_close: list[Callable[[], Any]] = []

    def call_on_close(self, f: Callable[[], Any]) -> Callable[[], Any]:
        self._on_close.append(f)
        return f

    def close(self) -> None:
        while self._on_close:
            self._on_close.pop()()


def _convert(flag: Flag, value: str) -> Any:
    """A flag's value as typer would give it, or None when typer should judge it."""
    kind = flag.takes
    if kind is int:
        if not value.isascii():  # int() reads full-width digits; typer does not
            return None
        try:
            number = int(value)
        except ValueError:
            return None
        return number if flag.least is None or number >= flag.least else None
    if not value:
        return None
    try:
        return kind(value) if kind is not None else None
    except ValueError:  # not one of an enum's values
        return None


def _options(
    args: Sequence[str], table: Mapping[str, Flag], rest: list[str] | None
) -> tuple[dict[str, Any], int] | None:
    """Parse options of `table` from `args` until the first word that is not one (kept in
    `rest` when given, else where the parse stopped); None when typer should parse."""
    by_name = {name: (dest, flag) for dest, flag in table.items() for name in flag.names}
    values: dict[str, Any] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in _HELP_NAMES:
            values["help"] = True
            i += 1
            continue
        if not arg.startswith("-") or arg == "-":
            if rest is None:
                return values, i  # the command word
            rest.append(arg)
            i += 1
            continue
        name, eq, value = arg.partition("=") if arg.startswith("--") else (arg[:2], "", arg[2:])
        found = by_name.get(name)
        if found is None:
            return None  # --help, --, an unknown option or a typo: typer's to say
        dest, flag = found
        if flag.takes is None:
            if eq or value:
                return None  # `--force=1`, `-fq`
            values[dest] = True
        else:
            if not eq and not value:
                i += 1
                if i == len(args):
                    return None
                value = args[i]
            converted = _convert(flag, value)
            if converted is None:
                return None
            values[dest] = converted
        i += 1
    return values, i


_HELP_NAMES = ("-h", "--help")


def parse(
    argv: Sequence[str],
) -> tuple[dict[str, Any], str | None, dict[str, Any] | None] | None:
    """`lp [OPTIONS] COMMAND [OPTIONS] [TASKS]...` as (lp's options, the command, its
    parameters); `lp --version` as (options, None, None); a help request as (options with
    `help`, the command or None for `lp`'s own, None); None for what typer must read."""
    parsed = _options(argv, GLOBAL_FLAGS, None)
    if parsed is None:
        return None
    top, at = parsed
    if top.get("version"):
        return top, None, None
    if not argv:  # `lp` alone shows its help, as a usage error (exit 2), as click does
        return {"help": True, "usage_error": True}, None, None
    if top.get("help"):
        return top, None, None
    if at == len(argv) or argv[at] not in flags.COMMANDS:
        return None
    command = argv[at]
    tasks: list[str] = []
    if command not in COMMANDS:  # read here only to print its help
        asked = _options(argv[at + 1 :], flags.COMMANDS[command].flags, tasks)
        return ({**top, "help": True}, command, None) if asked and asked[0].get("help") else None
    table, takes_tasks, _ = COMMANDS[command]
    parsed_command = _options(argv[at + 1 :], table, tasks)
    if parsed_command is None:
        return None
    params, _ = parsed_command
    if params.pop("help", False):
        return {**top, "help": True}, command, None
    if tasks and not takes_tasks:
        return None
    if takes_tasks:
        params["tasks"] = tasks or None
    return top, command, params


def fast_main(argv: Sequence[str] | None = None, *, signals: Any = None) -> bool:
    """Run `argv` here if the fast lane understands it (SystemExit with the exit code);
    False when typer must."""
    if "_LP_COMPLETE" in os.environ:  # the shell asks for completions: typer answers
        return False
    parsed = parse(sys.argv[1:] if argv is None else argv)
    if parsed is None:
        return False
    try:
        _run(*parsed, signals)
    except BrokenPipeError:  # the reader went away (`lp list | head`): quiet, as click is
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (nothing is flushed into the pipe at exit)
        raise SystemExit(1) from None
    return True


def _run(
    top: dict[str, Any], command: str | None, params: dict[str, Any] | None, signals: Any
) -> None:
    if top.get("help"):
        from little_pipelines.ui.help import print_help

        print_help(command)
        raise SystemExit(2 if top.get("usage_error") else 0)
    if command is None or params is None:
        from little_pipelines._version import __version__

        print(f"little-pipelines {__version__}", flush=True)
        raise SystemExit(0)
    import importlib

    module, _, name = COMMANDS[command][2].partition(":")
    body = getattr(importlib.import_module(module), name)
    obj = {"signals": signals, **{key: top.get(key) for key in ("root", "verbose", "quiet")}}
    invocation = Invocation(obj)
    try:
        body(invocation, **params)
    finally:
        invocation.close()
