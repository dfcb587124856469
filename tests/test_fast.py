"""The fast lane (ui/fast.py) reads `lp run` exactly as typer does, or leaves it to typer."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import typer.main
from hypothesis import given, settings
from hypothesis import strategies as st

from little_pipelines.ui import flags
from little_pipelines.ui.cli import app
from little_pipelines.ui.fast import COMMANDS, parse
from little_pipelines.ui.flags import GLOBAL_FLAGS, LIST_FLAGS, RUN_FLAGS, ExecutorName, Flag

GROUP = typer.main.get_command(app)
RUN = GROUP.commands["run"]  # type: ignore[attr-defined]


def typer_parse(argv: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """What typer (click) makes of `lp ARGV`: lp's options and the command's parameters."""
    top = GROUP.make_context("lp", list(argv))
    rest = [*top._protected_args, *top.args]
    command = GROUP.commands[rest[0]]  # type: ignore[attr-defined]
    params = dict(command.make_context(rest[0], rest[1:], parent=top).params)
    if "tasks" in params:
        params["tasks"] = list(params["tasks"]) or None
    return dict(top.params), params


def filled(values: dict[str, Any], command: Any) -> dict[str, Any]:
    """`values` with every parameter the fast lane left out at typer's default."""
    defaults = {p.name: p.default for p in command.params}
    if "tasks" in defaults:
        defaults["tasks"] = None
    return {name: values.get(name, defaults[name]) for name in defaults}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_declarations_are_typers_options(name: str) -> None:
    command = GROUP.commands[name]  # type: ignore[attr-defined]
    table, takes_tasks, _ = COMMANDS[name]
    options = {p.name: tuple(p.opts) for p in command.params if p.name != "tasks"}
    assert options == {dest: flag.names for dest, flag in table.items()}
    assert all(not p.secondary_opts for p in command.params)
    assert takes_tasks == any(p.name == "tasks" for p in command.params)
    top = {p.name: tuple(p.opts) for p in GROUP.params if "completion" not in p.name}
    assert top == {dest: flag.names for dest, flag in GLOBAL_FLAGS.items()}


@pytest.mark.parametrize("name", list(flags.COMMANDS))
def test_every_command_is_declared_as_typer_has_it(name: str) -> None:
    assert list(GROUP.commands) == list(flags.COMMANDS)  # type: ignore[attr-defined]
    command = GROUP.commands[name]  # type: ignore[attr-defined]
    declared = flags.COMMANDS[name]
    assert command.help == declared.help
    arguments = [p for p in command.params if p.param_type_name == "argument"]
    options = {p.name: tuple(p.opts) for p in command.params if p not in arguments}
    assert options == {dest: flag.names for dest, flag in declared.flags.items()}
    assert [(a.nargs, a.required) for a in arguments] == {
        "[TASK]...": [(-1, False)],
        "TASK": [(1, True)],
        None: [],
    }[declared.tasks]
    for param in command.params:  # a choice's default is its first value, as help says
        flag = declared.flags.get(param.name or "")
        if flag is not None and isinstance(flag.takes, type) and hasattr(flag.takes, "__members__"):
            assert param.default == next(iter(flag.takes))
    assert GROUP.help == flags.LP_HELP
    completion = {p.name: tuple(p.opts) for p in GROUP.params if "completion" in (p.name or "")}
    assert completion == {dest: flag.names for dest, flag in flags.COMPLETION.items()}


def _value(flag: Flag) -> st.SearchStrategy[str]:
    if flag.takes is int:
        return st.integers(1, 16).map(str)
    if flag.takes is ExecutorName:
        return st.sampled_from([e.value for e in ExecutorName])
    return st.sampled_from(["tcp://127.0.0.1:8786", "proj", "a b", "ü/x", "-dash"])


@st.composite
def spelled(draw: st.DrawFn, table: dict[str, Flag]) -> list[list[str]]:
    """Some options of `table`, each written one of the ways typer accepts (its words)."""
    words: list[list[str]] = []
    for dest in draw(st.lists(st.sampled_from(sorted(table)), max_size=6)):
        flag = table[dest]
        name = draw(st.sampled_from(flag.names))
        if dest == "version":
            continue
        if flag.takes is None:
            words.append([name])
            continue
        value = draw(_value(flag))
        if name.startswith("--"):
            words.append(draw(st.sampled_from([[name, value], [f"{name}={value}"]])))
        else:
            words.append(draw(st.sampled_from([[name, value], [name + value]])))
    return words


@settings(max_examples=300, deadline=None)
@given(
    top=spelled(GLOBAL_FLAGS),
    options=spelled(RUN_FLAGS),
    tasks=st.lists(st.sampled_from(["clean", "load", "t00012", "a.b"]), max_size=3),
    data=st.data(),
)
def test_the_fast_lane_reads_a_command_line_as_typer_does(top, options, tasks, data) -> None:
    groups = list(options)
    for task in tasks:  # arguments may come between options, as click allows
        groups.insert(data.draw(st.integers(0, len(groups))), [task])
    argv = [*(w for group in top for w in group), "run", *(w for group in groups for w in group)]
    try:
        expected = typer_parse(argv)
    except Exception:  # click refuses it (e.g. a value that looks like an option)
        assert parse(argv) is None
        return
    got = parse(argv)
    assert got is not None, argv  # everything typer accepts here, the fast lane reads too
    fast_top, command, fast_run = got
    assert command == "run" and fast_run is not None
    assert filled(fast_run, RUN) == expected[1]
    assert fast_top.get("root") == expected[0]["root"]
    assert bool(fast_top.get("verbose")) == expected[0]["verbose"]
    assert bool(fast_top.get("quiet")) == expected[0]["quiet"]


@settings(max_examples=100, deadline=None)
@given(top=spelled(GLOBAL_FLAGS), options=spelled(LIST_FLAGS))
def test_the_fast_lane_reads_lp_list_as_typer_does(top, options) -> None:
    argv = [*(w for group in top for w in group), "list", *(w for group in options for w in group)]
    expected = typer_parse(argv)
    got = parse(argv)
    assert got is not None and got[1] == "list"
    assert filled(got[2] or {}, GROUP.commands["list"]) == expected[1]  # type: ignore[attr-defined]
    assert got[0].get("root") == expected[0]["root"]


@pytest.mark.parametrize(
    "argv",
    [
        ["list", "task"],
        ["graph"],
        ["why", "--bogus", "--help"],
        ["run", "--help=yes"],
        ["run", "--jobs", "--help"],  # --help is the value of --jobs, as click reads it
        ["run", "--jobs", "0"],
        ["run", "--jobs", "two"],
        ["run", "--executor", "spark"],
        ["run", "-fq"],
        ["run", "--force=yes"],
        ["run", "--forse"],
        ["run", "--", "task"],
        ["run", "--jobs"],
        ["run", "-j", "\uff12"],  # a full-width 2: int() reads it, typer does not
        ["--install-completion"],
    ],
)
def test_what_the_fast_lane_leaves_to_typer(argv: list[str]) -> None:
    assert parse(argv) is None


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["--help"], None),
        (["-h", "run"], None),
        (["run", "--help"], "run"),
        (["-C", "x", "run", "a", "-f", "-h"], "run"),
        (["list", "--json", "--help"], "list"),
        (["why", "--help"], "why"),  # its TASK is missing: help comes first, as in click
        (["graph", "--format", "dot", "-h"], "graph"),
        (["watch", "-j", "2", "--help"], "watch"),
    ],
)
def test_help_is_answered_by_the_fast_lane(argv: list[str], command: str | None) -> None:
    got = parse(argv)
    assert got is not None and got[0].get("help") and got[1] == command and got[2] is None


def test_lp_alone_is_a_usage_error_that_shows_the_help() -> None:
    assert parse([]) == ({"help": True, "usage_error": True}, None, None)


def test_version_is_answered_by_the_fast_lane() -> None:
    assert parse(["--version"]) == ({"version": True}, None, None)
    assert parse(["-q", "--version", "run"]) == ({"quiet": True, "version": True}, None, None)


HEAVY = ["typer", "click", "pydantic", "rich", "loguru"]

PROBE = textwrap.dedent(
    """
    import atexit, json, sys
    def report():
        heavy = sorted(m for m in {heavy!r} if m in sys.modules)
        open({out!r}, "w").write(json.dumps(heavy))
    atexit.register(report)
    sys.argv = ["lp", "run", "--json"]
    from little_pipelines.__main__ import main
    main()
    """
)


def test_a_no_op_run_imports_neither_typer_nor_rich_nor_loguru(tmp_path: Path) -> None:
    (tmp_path / "tasks_a.py").write_text("def task_a():\n    return 1\n")
    out = tmp_path / "heavy.json"
    code = PROBE.format(heavy=HEAVY, out=str(out))

    def lp_run() -> dict[str, int]:
        done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True)
        assert done.returncode == 0, done.stderr
        counts: dict[str, int] = json.loads(done.stdout)["counts"]
        return counts

    assert lp_run()["executed"] == 1
    assert json.loads(out.read_text()) == []  # a task that never logs needs no loguru
    (tmp_path / "tasks_b.py").write_text(
        "def task_b(this):\n    this.logger.info('hello')\n    return 2\n"
    )
    assert lp_run()["executed"] == 1
    assert json.loads(out.read_text()) == ["loguru"]  # this one logged
    assert lp_run()["cached"] == 2
    assert json.loads(out.read_text()) == []


@pytest.mark.parametrize("args", [["--version"], ["list"], ["list", "--json"], ["run", "--json"]])
def test_a_reader_that_went_away_ends_lp_quietly(tmp_path: Path, args: list[str]) -> None:
    """`lp list | head`: a closed pipe ends lp with exit 1 and no traceback, as typer does."""
    import os

    (tmp_path / "tasks_a.py").write_text("def task_a():\n    return 1\n")
    read, write = os.pipe()
    os.close(read)  # nobody reads: every write fails with EPIPE
    try:
        done = subprocess.run(
            [sys.executable, "-m", "little_pipelines", *args],
            cwd=tmp_path,
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
        )
    finally:
        os.close(write)
    assert (done.returncode, done.stderr) == (1, "")


def test_plain_output_on_a_stream_that_cannot_hold_its_characters(tmp_path: Path) -> None:
    """An ASCII-only stdout (PYTHONIOENCODING=ascii): "—" and "✓" become "?", nothing fails."""
    import os

    (tmp_path / "tasks_a.py").write_text("def task_a():\n    return 1\n")
    env = {**os.environ, "PYTHONIOENCODING": "ascii"}
    for args in (["run"], ["list"]):
        done = subprocess.run(
            [sys.executable, "-m", "little_pipelines", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
        )
        assert done.returncode == 0, done.stderr
        assert b"Traceback" not in done.stderr
    assert b"a  " in done.stdout and b"?" in done.stdout  # the list, with "—" as "?"
