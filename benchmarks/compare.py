"""lp side by side with plain Python, doit, Hamilton and pytask, measured in the same run.

Every tool gets the same DAG (`peers/dag.py`: N tiny-int tasks in 20 layers, 100 per file)
written in its own conventions (`peers/projects.py`), in one temporary folder per run. Each
scenario runs the tool as a whole process (its own venv, `peers/venvs.py`), --reps times;
tools are interleaved per repetition so machine noise hits them alike:

- cold run: the tool's state (cache, database) and the project's bytecode deleted first;
- first rerun after a cold run: nothing changed, but the tool may still settle its state;
- no-op rerun: nothing changed since the last run (the second run after a cold run);
- edit one task: one middle-layer task's constant changed (exactly 60 tasks must re-execute
  at N = 1,000); then reverted and run once more, unmeasured, so every repetition starts from
  the same state;
- `--help` (or the nearest start-up equivalent), and for lp `lp --version` and `lp list`.

Cells are median wall times (time.perf_counter around the child) with the min-max spread, and
how many tasks the tool says it executed. Peak RSS is the child's ru_maxrss (GNU time).

    python benchmarks/compare.py                       # N = 1,000, medians of 5
    python benchmarks/compare.py --n 10000 --reps 3
    python benchmarks/compare.py --only lp plain --json /tmp/samples.json
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench_cli import Runner, Sample, lp_command, measure
from peers.dag import CONSTANT, Dag, edit_constant, plan
from peers.projects import WRITERS, function_name
from peers.report import LP_ONLY, RUNS, Column, machine, table, to_json
from peers.tools import TOOLS, Tool
from peers.venvs import PEERS, ensure

ORDER = ("plain", "lp", "doit", "hamilton", "pytask")


def log(message: str) -> None:
    """Progress goes to stderr, so stdout is the report alone."""
    print(message, file=sys.stderr, flush=True)


def make_column(key: str, root: Path, dag: Dag) -> Column:
    """The tool's column: its venv (installed if needed) and its project written to `root`."""
    if key in PEERS:
        peer = PEERS[key]
        column = Column(key, f"{TOOLS[key].label} {peer.version}")
        try:
            python = ensure(peer)
        except RuntimeError as exc:
            column.error = f"not installed: {exc}"
            return column
        version = peer.version
    else:
        python = Path(sys.executable)
        version = importlib.metadata.version("little-pipelines") if key == "lp" else ""
    shutil.rmtree(root, ignore_errors=True)
    WRITERS[key](root, dag)
    column = Column(key, "")
    column.tool = TOOLS[key](root=root, python=python, version=version)
    column.title = column.tool.title
    return column


class Bench:
    """Runs scenarios for the columns, recording samples; a failing tool stops, with why."""

    def __init__(self, dag: Dag, runner: Runner, timeout: float | None) -> None:
        self.dag = dag
        self.runner = runner
        self.timeout = timeout
        self.edit_name = dag.edit_target

    def child(self, tool: Tool, argv: list[str]) -> Sample:
        return measure(argv, tool.root, env=self.runner.env(), timeout=self.timeout)

    def edit(self, tool: Tool, constant: int) -> None:
        index = self.dag.file_index(self.edit_name)
        prefix = "task" if tool.key == "pytask" else "tasks"
        path = tool.root / f"{prefix}_{index:04d}.py"
        edit_constant(path, function_name(tool.key, self.edit_name), constant)

    def scenario(self, column: Column, scenario: str, rep: int) -> None:
        """One measured run of `scenario`; a failure ends the column with a reason."""
        tool = column.tool
        assert tool is not None
        try:
            if scenario in RUNS:
                if scenario == "cold":
                    tool.reset()
                    self.runner.forget_bytecode(tool.root)
                elif scenario == "edit":
                    self.edit(tool, CONSTANT + 1 + rep)
                sample = self.child(tool, tool.run_argv())
                column.add(scenario, sample, tool.executed(sample))
                if scenario == "edit":  # back to the state every repetition starts from
                    self.edit(tool, CONSTANT)
                    tool.executed(self.child(tool, tool.run_argv()))
                return
            argv = tool.help_argv() if scenario == "help" else [*lp_command(), *LP_ONLY[scenario]]
            sample = self.child(tool, argv)
            if sample.returncode != 0:
                raise RuntimeError(f"{' '.join(argv[-2:])} exited {sample.returncode}")
            column.add(scenario, sample)
        except subprocess.TimeoutExpired:
            self.stop(column, scenario, rep, f"timed out after {self.timeout:g} s")
        except (RuntimeError, ValueError, KeyError, IndexError) as exc:
            self.stop(column, scenario, rep, str(exc))

    def stop(self, column: Column, scenario: str, rep: int, why: str) -> None:
        """End a column: the tool failed; the table shows why."""
        when = "warm-up" if rep < 0 else f"repetition {rep + 1}"
        column.error = f"stopped at {scenario} ({when}): {why}"
        column.tool = None
        log(f"  {column.key}: {column.error}")

    def warm_up(self, column: Column) -> None:
        """One unmeasured cold run, no-op run and help per tool: compiles its packages."""
        for scenario in ("cold", "noop", "help"):
            if column.tool is not None:
                self.scenario(column, scenario, -1)
        column.samples.clear()
        column.ran.clear()

    def run(self, columns: list[Column], reps: int) -> None:
        scenarios = [*RUNS, "help"]
        for column in columns:
            if column.tool is not None:
                log(f"warming up {column.title} ...")
                self.warm_up(column)
        for rep in range(reps):
            log(f"repetition {rep + 1}/{reps}")
            for scenario in scenarios:
                for column in columns:
                    if column.tool is not None:
                        self.scenario(column, scenario, rep)
            for column in columns:
                for scenario in LP_ONLY:
                    if column.key == "lp" and column.tool is not None:
                        self.scenario(column, scenario, rep)


@contextmanager
def workdir(keep: Path | None) -> Iterator[Path]:
    """The folder for every tool's project: `keep` if given (kept), else a temporary one."""
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep.resolve()
        return
    with tempfile.TemporaryDirectory(prefix="lp-compare-") as tmp:
        yield Path(tmp)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000, help="tasks in the DAG")
    parser.add_argument("--reps", type=int, default=5, help="runs per scenario")
    parser.add_argument("--only", nargs="+", choices=ORDER, help="a subset of the tools")
    parser.add_argument("--keep", type=Path, help="write the projects here and keep them")
    parser.add_argument("--json", type=Path, help="also save the raw samples here")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per process")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    dag = plan(args.n)
    keys = [key for key in ORDER if not args.only or key in args.only]
    with workdir(args.keep) as root:
        runner = Runner(root / ".pycache", args.timeout)
        columns = [make_column(key, root / key, dag) for key in keys]
        Bench(dag, runner, args.timeout).run(columns, args.reps)
    info = machine()
    print(f"machine: {info['cpus']} CPUs, Python {info['python']}, {info['platform']}")
    print("tools: " + ", ".join(c.title for c in columns))
    name = dag.edit_target
    print(
        f"DAG: {len(dag):,} tasks, {len(dag.layers)} layers, {len(dag.files())} tasks files; "
        f"edited task {name} (it and its downstream: {len(dag.closure(name))} tasks); "
        f"medians of {args.reps}, min-max in brackets\n"
    )
    print(table(columns, dag))
    for column in columns:
        if column.error:
            print(f"\n{column.title}: {column.error}")
    if args.json:
        args.json.write_text(json.dumps(to_json(columns, dag, args.reps), indent=1) + "\n")
        print(f"\nraw samples written to {args.json}")


if __name__ == "__main__":
    main()
