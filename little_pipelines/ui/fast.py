"""The fast lane: `lp run` and `lp --version` started without typer.

typer (with click and pydantic) takes longer to import and to parse a command line than a
no-op run of a thousand tasks. A command line the fast lane fully understands is parsed with
the declarations of flags.py and goes to the same `run_tasks` as typer's `run`. Anything else
(help, completion, another command, an unknown option, a value that does not convert, short
flags run together) is left to typer, which says what is wrong.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from little_pipelines.ui.flags import GLOBAL_FLAGS, RUN_FLAGS, Flag

__all__ = ["Invocation", "fast_main", "parse"]


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


def parse(argv: Sequence[str]) -> tuple[dict[str, Any], dict[str, Any] | None] | None:
    """`lp [OPTIONS] run [OPTIONS] [TASKS]...` as (lp's options, run's parameters), or
    `lp --version` as (options, None); None for anything the fast lane leaves to typer."""
    parsed = _options(argv, GLOBAL_FLAGS, None)
    if parsed is None:
        return None
    top, at = parsed
    if top.get("version"):
        return top, None
    if at == len(argv) or argv[at] != "run":
        return None
    tasks: list[str] = []
    parsed_run = _options(argv[at + 1 :], RUN_FLAGS, tasks)
    if parsed_run is None:
        return None
    params, _ = parsed_run
    params["tasks"] = tasks or None
    return top, params


def fast_main(argv: Sequence[str] | None = None, *, signals: Any = None) -> bool:
    """Run `argv` here if the fast lane understands it (SystemExit with the exit code);
    False when typer must."""
    parsed = parse(sys.argv[1:] if argv is None else argv)
    if parsed is None:
        return False
    top, params = parsed
    if params is None:
        from little_pipelines._version import __version__

        print(f"little-pipelines {__version__}")
        raise SystemExit(0)
    from little_pipelines.ui.running import run_tasks

    obj = {"signals": signals, **{key: top.get(key) for key in ("root", "verbose", "quiet")}}
    invocation = Invocation(obj)
    try:
        run_tasks(invocation, **params)
    finally:
        invocation.close()
    return True  # (run_tasks always exits)
