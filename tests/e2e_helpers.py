"""Helpers for end-to-end tests: real projects in tmp_path, and `lp` run as a user would.

Every test builds a `Project` in its own tmp_path, writes files into it with `write`, and runs
`lp` with HOME and LITTLE_PIPELINES_HOME inside tmp_path and NO_COLOR set. By default `lp`
runs in this process (`lp_here`: the real command line, its output streams and exit code),
and each call ends as a process would: the project's modules leave `sys.modules` and a new
session begins. A project made with `process=True` runs the installed `lp` script as a
subprocess instead, for what needs a process: signals, locks, watch, workers, crashes.
Assertions read what a user sees: exit codes, `--json`, `lp list --json` states and
messages on stderr.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import little_pipelines

__all__ = [
    "PACKAGE_DIR",
    "Project",
    "Result",
    "executed",
    "lp",
    "lp_command",
    "lp_here",
    "lp_many",
    "make_env",
    "statuses",
    "users_module",
]

PACKAGE_DIR = str(Path(little_pipelines.__file__).resolve().parent)

# Variables that would make rich (or click) colour output even on a pipe.
_COLOUR_VARS = ("FORCE_COLOR", "CLICOLOR_FORCE", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "COLUMNS")


@dataclass(frozen=True)
class Result:
    """What one `lp` process did: its exit code and both output streams."""

    rc: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        """stdout parsed as exactly one JSON document."""
        return json.loads(self.out)

    @property
    def flat_err(self) -> str:
        """stderr with runs of whitespace made one space: phrase checks ignore line breaks."""
        return " ".join(self.err.split())

    def __str__(self) -> str:
        return f"exit {self.rc}\n--- stdout\n{self.out}\n--- stderr\n{self.err}"


def make_env(home: Path, *, no_color: bool = True) -> dict[str, str]:
    """This environment with HOME and LITTLE_PIPELINES_HOME under `home`, and no forced colour."""
    env = {k: v for k, v in os.environ.items() if k not in _COLOUR_VARS}
    env["HOME"] = str(home)
    env["LITTLE_PIPELINES_HOME"] = str(home / ".little_pipelines")
    env.pop("NO_COLOR", None)
    if no_color:
        env["NO_COLOR"] = "1"
    return env


def lp_command() -> list[str]:
    """The installed `lp` script next to this Python (what users type), else `python -m`.

    The script matters: `python -m` puts the current folder on sys.path, which would hide
    bugs where the project root is missing from it.
    """
    script = Path(sys.executable).parent / "lp"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "little_pipelines"]


def lp(*args: str, cwd: Path, home: Path, no_color: bool = True, timeout: float = 60) -> Result:
    """Run `lp ARGS` in `cwd` as a real subprocess."""
    proc = subprocess.run(
        [*lp_command(), *args],
        cwd=cwd,
        env=make_env(home, no_color=no_color),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def lp_here(*args: str, cwd: Path, home: Path, no_color: bool = True) -> Result:
    """Run `lp ARGS` in this process, in `cwd`, as the CLI sees its arguments: the same
    commands, options, output and exit codes as the real `lp`, without starting Python.

    For what needs a process (signals, locks, watch, workers, the no-import promise), use `lp`.
    """
    from typer.testing import CliRunner

    from little_pipelines.ui.cli import app

    env = make_env(home, no_color=no_color)
    runner = CliRunner(env={k: env.get(k) for k in {*env, *os.environ}})
    before, modules, path = Path.cwd(), set(sys.modules), list(sys.path)
    os.chdir(cwd)
    try:
        # each `lp` is a process, so a session, of its own
        obj = {"signals": None, "session": uuid.uuid4().hex}
        result = runner.invoke(app, list(args), prog_name="lp", obj=obj)
    finally:
        os.chdir(before)
        # as when the process ends: the project's modules and sys.path entries go
        for name in set(sys.modules) - modules:
            if users_module(sys.modules[name]):
                del sys.modules[name]
        sys.path[:] = path
        from loguru import logger

        logger.remove()  # the command's sink wrote to a stream that is closed now
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Result(result.exit_code, result.stdout, result.stderr)


def users_module(module: object) -> bool:
    """A module from a project's files (not lp's, not the standard library's or a package's)."""
    file = getattr(module, "__file__", None)
    if not file:
        return getattr(module, "__name__", "").startswith("lp_tasks__")
    return not file.startswith((sys.prefix, sys.base_prefix, PACKAGE_DIR))


def lp_many(calls: list[tuple[tuple[str, ...], Path]], home: Path) -> list[Result]:
    """Run several independent `lp` commands at once (each `(args, cwd)`); their results.

    Only for commands that cannot affect each other: reads, or runs in separate projects.
    """
    procs = [
        subprocess.Popen(
            [*lp_command(), *args],
            cwd=cwd,
            env=make_env(home),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        for args, cwd in calls
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        results.append(Result(proc.returncode, out, err))
    return results


class Project:
    """A project folder in tmp_path, with helpers to write files and run `lp` in it."""

    def __init__(self, tmp_path: Path, name: str = "proj", *, process: bool = False) -> None:
        self.process = process  # run `lp` as a real subprocess (signals, watch, imports...)
        self.tmp = tmp_path
        self.root = tmp_path / name
        self.root.mkdir(parents=True, exist_ok=True)
        self.home = tmp_path / "home"
        self.home.mkdir(exist_ok=True)

    def copy(self, tmp_path: Path) -> Project:
        """A copy of this project folder (cache included) in another tmp_path."""
        other = Project(tmp_path, self.root.name, process=self.process)
        shutil.copytree(self.root, other.root, dirs_exist_ok=True)
        return other

    # files ---------------------------------------------------------------------------------

    def write(self, rel: str, text: str) -> Path:
        """Write dedented `text` to `rel` (parents created); returns the path."""
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
        return path

    def read(self, rel: str) -> str:
        return (self.root / rel).read_text()

    def replace(self, rel: str, old: str, new: str) -> None:
        """Edit a file: replace exactly one occurrence of `old` by `new`."""
        text = self.read(rel)
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {rel}"
        (self.root / rel).write_text(text.replace(old, new))

    def exists(self, rel: str) -> bool:
        return (self.root / rel).exists()

    @property
    def state(self) -> Path:
        return self.root / ".little_pipelines"

    # running lp ----------------------------------------------------------------------------

    def lp(self, *args: str, cwd: Path | None = None, no_color: bool = True) -> Result:
        """`lp ARGS`: in this process unless the project was made with `process=True`."""
        run = lp if self.process else lp_here
        return run(*args, cwd=cwd or self.root, home=self.home, no_color=no_color)

    def lp_many(self, *calls: tuple[str, ...]) -> list[Result]:
        """Several read-only `lp` commands in this project (at once, with `process=True`)."""
        if not self.process:
            return [self.lp(*args) for args in calls]
        return lp_many([(args, self.root) for args in calls], self.home)

    def run(self, *args: str, rc: int | None = 0, cwd: Path | None = None) -> dict[str, Any]:
        """`lp run --json ARGS`: the parsed object (the exit code checked when `rc` is set)."""
        result = self.lp("run", "--json", *args, cwd=cwd)
        if rc is not None:
            assert result.rc == rc, str(result)
        try:
            return result.json
        except json.JSONDecodeError as exc:
            raise AssertionError(f"stdout is not one JSON object: {exc}\n{result}") from None

    def statuses(self, *args: str, rc: int | None = 0) -> dict[str, tuple[str, str | None]]:
        """`lp run --json ARGS` as {task: (status, reason)}."""
        return statuses(self.run(*args, rc=rc))

    def listing(self, rc: int = 0) -> dict[str, dict[str, Any]]:
        """`lp list --json` as {task: row}."""
        result = self.lp("list", "--json")
        assert result.rc == rc, str(result)
        return {row["name"]: row for row in result.json["tasks"]}

    def states(self) -> dict[str, tuple[str, str | None]]:
        """{task: (state, reason)} from `lp list --json`."""
        return {name: (row["state"], row["reason"]) for name, row in self.listing().items()}

    def snapshot(self) -> dict[str, tuple[str, str | None, float | None]]:
        """States plus last durations: any newly stored result shows up as a change."""
        return {
            name: (row["state"], row["reason"], row["last_duration_s"])
            for name, row in self.listing().items()
        }


def statuses(data: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    """A `--json` run object as {task: (status, reason)}."""
    return {t["name"]: (t["status"], t["reason"]) for t in data["tasks"]}


def executed(data: dict[str, Any]) -> set[str]:
    """The names of the tasks a `--json` run executed."""
    return {t["name"] for t in data["tasks"] if t["status"] == "executed"}
