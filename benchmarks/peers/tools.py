"""How each tool is started, reset to a first run, and asked how many tasks it executed.

A `Tool` owns its project folder. `run_argv` is one whole run of the DAG, `help_argv` the
start-up row, `state` what a cold run deletes (besides the project's bytecode), and `executed`
reads the number of executed tasks from the run's output (None where the tool cannot tell).
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from bench_cli import Sample, lp_command

__all__ = ["TOOLS", "Tool"]


def _check(sample: Sample, what: str) -> None:
    if sample.returncode != 0:
        tail = (sample.stderr.strip() or sample.stdout.strip())[-1500:]
        raise RuntimeError(f"{what} exited {sample.returncode}: {tail}")


@dataclass
class Tool:
    """One tool's project and how to drive it (subclasses fill in the commands)."""

    key: ClassVar[str] = ""
    label: ClassVar[str] = ""
    state: ClassVar[tuple[str, ...]] = ()  # glob patterns below the root, deleted by reset

    root: Path
    python: Path
    version: str

    @property
    def title(self) -> str:
        """The column header: name and version."""
        return f"{self.label} {self.version}".strip()

    def run_argv(self) -> list[str]:
        raise NotImplementedError

    def help_argv(self) -> list[str]:
        raise NotImplementedError

    def executed(self, sample: Sample) -> int | None:
        """How many tasks the run executed; raises RuntimeError if the run failed."""
        raise NotImplementedError

    def reset(self) -> None:
        """Delete the tool's own state (cache, database): the next run is a first run."""
        for pattern in self.state:
            for path in self.root.glob(pattern):
                if path.is_dir():
                    shutil.rmtree(path)
                else:
                    path.unlink()


class Plain(Tool):
    """`python main.py`: calls every function once; no cache, so every run runs all N."""

    key = "plain"
    label = "plain Python (recomputes all)"

    def run_argv(self) -> list[str]:
        return [str(self.python), "main.py"]

    def help_argv(self) -> list[str]:
        return [str(self.python), "-c", "pass"]

    def executed(self, sample: Sample) -> int | None:
        _check(sample, "python main.py")
        return int(sample.stdout.split()[-1])


class Lp(Tool):
    """`lp run --json`; the executed count is `counts["executed"]` of its JSON."""

    key = "lp"
    label = "lp"
    state = (".little_pipelines",)

    def run_argv(self) -> list[str]:
        return [*lp_command(), "run", "--json"]

    def help_argv(self) -> list[str]:
        return [*lp_command(), "--help"]

    def executed(self, sample: Sample) -> int | None:
        _check(sample, "lp run --json")
        return int(json.loads(sample.stdout)["counts"]["executed"])


class Doit(Tool):
    """`doit` (the default `run` command); it prints `.  name` for each task it executes
    and `-- name` for each up-to-date one."""

    key = "doit"
    label = "doit"
    state = (".doit.db*",)

    def run_argv(self) -> list[str]:
        return [str(self.python.parent / "doit")]

    def help_argv(self) -> list[str]:
        return [str(self.python.parent / "doit"), "--help"]

    def executed(self, sample: Sample) -> int | None:
        _check(sample, "doit")
        return sum(line.startswith(".  ") for line in sample.stdout.splitlines())


class Hamilton(Tool):
    """`python run_hamilton.py`: a cached driver; executed nodes come from the cache log."""

    key = "hamilton"
    label = "Hamilton"
    state = (".hamilton_cache",)

    def run_argv(self) -> list[str]:
        return [str(self.python), "run_hamilton.py"]

    def help_argv(self) -> list[str]:
        return [str(self.python), "-c", "import hamilton.driver"]

    def executed(self, sample: Sample) -> int | None:
        _check(sample, "python run_hamilton.py")
        return int(json.loads(sample.stdout.splitlines()[-1])["executed"])


class Pytask(Tool):
    """`python -m pytask` (so `catalog.py` in the project is importable); the executed count
    is the "N Succeeded" of its summary (absent when every task was skipped)."""

    key = "pytask"
    label = "pytask"
    state = (".pytask", "pytask.lock")

    def run_argv(self) -> list[str]:
        return [str(self.python), "-m", "pytask"]

    def help_argv(self) -> list[str]:
        return [str(self.python), "-m", "pytask", "--help"]

    def executed(self, sample: Sample) -> int | None:
        _check(sample, "pytask")
        found = re.search(r"(\d+)\s+Succeeded", sample.stdout)
        if found is None and not re.search(r"Skipped because unchanged", sample.stdout):
            raise RuntimeError(f"pytask printed no summary: {sample.stdout[-500:]}")
        return int(found.group(1)) if found else 0


TOOLS: dict[str, type[Tool]] = {cls.key: cls for cls in (Plain, Lp, Doit, Hamilton, Pytask)}
