"""Whole-process benchmark of the `lp` command on generated projects (SPEC section 10).

For each project size N it measures, as separate `lp` processes:

- cold run: `lp run --json` with no cache (state folder and bytecode caches deleted first);
- no-op rerun: `lp run --json` with everything cached, and the same with plain output;
- edit one task: change a constant in one middle-layer task, then `lp run --json` (the task
  and everything downstream of it re-execute; the count is checked against the graph);
- `lp list`;
- watch latency: `lp watch --json` running, one task edited and saved, time until its rerun
  is reported (peak memory is not measured for it);

and once, independent of any project: `lp --help` and `python -c "import little_pipelines"`.

Each number is the median wall time of several runs (time.perf_counter around the child), and
the child's peak resident memory (ru_maxrss via GNU time, see `_memory_wrapper`). Output is
captured, not a terminal, so the plain reporter is used, as in CI.

    python benchmarks/bench_cli.py [--sizes 100 1000] [--big] [--reps 5] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generate import Layout, affected_by, edit_task, generate, middle_task

__all__ = [
    "CliResult",
    "Runner",
    "Sample",
    "bench_project",
    "bench_startup",
    "lp_command",
    "main",
    "run_all",
]

HERE = Path(__file__).resolve().parent
GENERATED = HERE / "generated"
SIZES = (100, 1_000)
BIG = 10_000
DEFAULT_REPS = {100: 5, 1_000: 5, 10_000: 2}


@dataclass(slots=True)
class Sample:
    """One child process: wall seconds, peak memory, exit code and what it printed."""

    wall_s: float
    maxrss_kb: int
    returncode: int
    stdout: str
    stderr: str


@dataclass(slots=True)
class CliResult:
    """Several runs of one scenario: their wall times and peak memory, and a note."""

    scenario: str
    n: int | None
    wall_s: list[float] = field(default_factory=list)
    maxrss_kb: list[int] = field(default_factory=list)
    note: str = ""

    @property
    def median_s(self) -> float:
        return statistics.median(self.wall_s)

    @property
    def peak_mb(self) -> float:
        return max(self.maxrss_kb) / 1024

    def add(self, sample: Sample) -> None:
        self.wall_s.append(sample.wall_s)
        self.maxrss_kb.append(sample.maxrss_kb)

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "n": self.n,
            "median_s": self.median_s,
            "wall_s": self.wall_s,
            "peak_mb": self.peak_mb,
            "note": self.note,
        }

    def line(self) -> str:
        n = "" if self.n is None else f"{self.n:>6}"
        spread = f"{min(self.wall_s):.3f}-{max(self.wall_s):.3f}"
        return (
            f"{n:>6}  {self.scenario:<24} {self.median_s:9.3f} s  ({spread}, {len(self.wall_s)}x)"
            f"  peak {self.peak_mb:6.1f} MB  {self.note}"
        )


def lp_command() -> list[str]:
    """The `lp` of this interpreter's environment, else `python -m little_pipelines`."""
    script = Path(sys.executable).parent / "lp"
    return [str(script)] if script.exists() else [sys.executable, "-m", "little_pipelines"]


@dataclass(slots=True)
class Runner:
    """How children are started: the `lp` command, their environment, a timeout.

    Children write bytecode to `pycache` (PYTHONPYCACHEPREFIX), as an installed package would
    have it, even where the calling environment sets PYTHONDONTWRITEBYTECODE; nothing is
    written into the repository or the generated projects.
    """

    pycache: Path
    timeout: float | None = None
    lp: list[str] = field(default_factory=lp_command)

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.update(NO_COLOR="1", TERM="dumb", COLUMNS="120", PYTHONPYCACHEPREFIX=str(self.pycache))
        return env

    def lp_run(self, args: Sequence[str], cwd: Path) -> Sample:
        """One `lp ARGS` process in `cwd`."""
        return measure([*self.lp, *args], cwd, env=self.env(), timeout=self.timeout)

    def python(self, args: Sequence[str], cwd: Path) -> Sample:
        """One `python ARGS` process in `cwd`."""
        return measure([sys.executable, *args], cwd, env=self.env(), timeout=self.timeout)

    def forget_bytecode(self, root: Path) -> None:
        """Drop the compiled tasks files of the project at `root`."""
        shutil.rmtree(self.pycache / root.resolve().relative_to("/"), ignore_errors=True)
        for cache_dir in root.rglob("__pycache__"):
            shutil.rmtree(cache_dir, ignore_errors=True)

    def warm_up(self) -> None:
        """Compile the package and its dependencies once (a small project run and listed),
        so that no measured process pays for compiling them."""
        with tempfile.TemporaryDirectory(prefix="lp-bench-warm-") as tmp:
            root = Path(tmp)
            generate(root, 20)
            for args in (["--help"], ["run"], ["run", "--json"], ["list"]):
                self.lp_run(args, root)
            self.python(["-c", "import little_pipelines"], root)
            self.forget_bytecode(root)


# The fallback when GNU time is missing: run the command, then write the peak RSS of its
# children (ru_maxrss, KB on Linux) to the file named first. Its own start-up adds ~20 ms.
_WRAPPER = """
import resource, subprocess, sys
code = subprocess.call(sys.argv[2:])
with open(sys.argv[1], "w") as f:
    f.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(code)
"""


def _memory_wrapper(report: Path) -> list[str]:
    """A prefix that runs a command and writes its peak RSS in KB to `report`.

    The command must not be our own child: Linux gives a process started with vfork (as
    subprocess does) the parent's peak RSS as its own starting peak, so the benchmark's memory
    would show up in every number. A small intermediate process (GNU time) avoids that.
    """
    gnu_time = Path("/usr/bin/time")
    if gnu_time.exists():
        return [str(gnu_time), "-f", "%M", "-o", str(report)]
    return [sys.executable, "-c", _WRAPPER, str(report)]


def measure(
    argv: Sequence[str], cwd: Path, *, env: dict[str, str], timeout: float | None = None
) -> Sample:
    """Run one child: its wall time (perf_counter around the process) and its peak RSS."""
    with tempfile.TemporaryDirectory(prefix="lp-bench-rss-") as tmp:
        report = Path(tmp) / "maxrss"
        command = [*_memory_wrapper(report), *argv]
        started = time.perf_counter()
        proc = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # so a timeout can stop the wrapper and lp together
        )
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise
        wall = time.perf_counter() - started
        lines = report.read_text().split() if report.exists() else []
        maxrss = int(lines[-1]) if lines and lines[-1].isdigit() else 0
    return Sample(wall, maxrss, proc.returncode, stdout, stderr)


def _json_counts(sample: Sample, what: str) -> dict[str, int]:
    """The task counts of an `lp run --json`, insisting that the run succeeded."""
    if sample.returncode != 0:
        raise RuntimeError(f"{what} exited {sample.returncode}:\n{sample.stderr[-2000:]}")
    return json.loads(sample.stdout)["counts"]


def _expect(counts: dict[str, int], what: str, **wanted: int) -> None:
    for key, value in wanted.items():
        if counts[key] != value:
            raise RuntimeError(f"{what}: expected {key}={value}, got {counts}")


def _reset(runner: Runner, root: Path) -> None:
    """Forget every result and every compiled tasks module: the next run is a first run."""
    shutil.rmtree(root / ".little_pipelines", ignore_errors=True)
    runner.forget_bytecode(root)


@contextmanager
def project_dir(n: int, *, keep: bool) -> Iterator[Path]:
    """A folder for an N-task project: `benchmarks/generated/n<N>` if kept, else a temp one."""
    if keep:
        root = GENERATED / f"n{n}"
        shutil.rmtree(root, ignore_errors=True)
        yield root
        return
    with tempfile.TemporaryDirectory(prefix=f"lp-bench-{n}-") as tmp:
        yield Path(tmp)


def _report(result: CliResult) -> CliResult:
    print(result.line(), flush=True)
    return result


def bench_cold(runner: Runner, layout: Layout, reps: int) -> CliResult:
    """`lp run` on a project with no cache: every task executes."""
    n = len(layout)
    result = CliResult("cold run", n, note=f"{n} executed")
    for _ in range(reps):
        _reset(runner, layout.root)
        sample = runner.lp_run(["run", "--json"], layout.root)
        _expect(_json_counts(sample, "cold run"), "cold run", executed=n)
        result.add(sample)
    return _report(result)


def bench_noop(runner: Runner, layout: Layout, reps: int) -> list[CliResult]:
    """`lp run` with every result cached, with `--json` and with the plain reporter."""
    n = len(layout)
    as_json = CliResult("no-op rerun (--json)", n, note=f"{n} cached")
    plain = CliResult("no-op rerun (plain)", n, note="human output to a file")
    for _ in range(reps):
        sample = runner.lp_run(["run", "--json"], layout.root)
        _expect(_json_counts(sample, "no-op rerun"), "no-op rerun", executed=0, cached=n)
        as_json.add(sample)
        sample = runner.lp_run(["run"], layout.root)
        if sample.returncode != 0:
            raise RuntimeError(f"no-op rerun exited {sample.returncode}:\n{sample.stderr}")
        plain.add(sample)
    return [_report(as_json), _report(plain)]


def bench_edit(runner: Runner, layout: Layout, reps: int) -> CliResult:
    """Edit one middle-layer task's constant, then `lp run`: it and its dependents execute."""
    name = middle_task(layout)
    affected = len(affected_by(layout, name))
    result = CliResult("edit one task, rerun", len(layout), note=f"{name}: {affected} executed")
    for rep in range(reps):
        edit_task(layout, name, constant=2 + rep)
        sample = runner.lp_run(["run", "--json"], layout.root)
        counts = _json_counts(sample, "rerun after edit")
        _expect(counts, "rerun after edit", executed=affected, cached=len(layout) - affected)
        result.add(sample)
    return _report(result)


def bench_list(runner: Runner, layout: Layout, reps: int) -> CliResult:
    """`lp list` on a fully cached project (reads files and entries, imports nothing)."""
    result = CliResult("lp list", len(layout))
    for _ in range(reps):
        sample = runner.lp_run(["list"], layout.root)
        if sample.returncode != 0:
            raise RuntimeError(f"lp list exited {sample.returncode}:\n{sample.stderr}")
        result.add(sample)
    return _report(result)


def _next_json(lines: queue.Queue[str], proc: subprocess.Popen[str], timeout: float) -> dict:
    try:
        return json.loads(lines.get(timeout=timeout))
    except queue.Empty:
        proc.kill()
        raise RuntimeError("lp watch reported no run in time") from None


def bench_watch_latency(runner: Runner, layout: Layout, reps: int) -> CliResult:
    """`lp watch --json`: from saving one edited task to the end of its rerun, per save.

    The time runs from just before the file is written to the moment the run's JSON line
    arrives, so it includes the file event, the debounce, re-reading and the rerun itself.
    """
    name = middle_task(layout)
    affected = len(affected_by(layout, name))
    result = CliResult("watch: save to rerun", len(layout), note=f"{name}: {affected} executed")
    proc = subprocess.Popen(
        [*lp_command(), "watch", "--json"],
        cwd=layout.root,
        env=runner.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True).start()
    try:
        _next_json(lines, proc, timeout=600)  # the first run
        for rep in range(reps):
            started = time.perf_counter()
            edit_task(layout, name, constant=100 + rep)
            data = _next_json(lines, proc, timeout=60)
            while data["counts"]["executed"] != affected:  # a stray event: wait for the rerun
                data = _next_json(lines, proc, timeout=60)
            result.add(Sample(time.perf_counter() - started, 0, 0, "", ""))
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=30)
    if code != 0:
        raise RuntimeError(f"lp watch exited {code} on Ctrl-C")
    result.maxrss_kb = [0]
    return _report(result)


def bench_project(runner: Runner, n: int, reps: int, *, keep: bool = False) -> list[CliResult]:
    """Every per-project scenario on a freshly generated N-task project."""
    with project_dir(n, keep=keep) as root:
        started = time.perf_counter()
        layout = generate(root, n)
        files = len(set(layout.files.values()))
        print(
            f"-- N={n}: {files} tasks files, {len(layout.layers)} layers, generated in "
            f"{time.perf_counter() - started:.2f} s, {reps} repetitions",
            flush=True,
        )
        results = [bench_cold(runner, layout, reps)]
        results += bench_noop(runner, layout, reps)
        results.append(bench_edit(runner, layout, reps))
        results.append(bench_list(runner, layout, reps))
        results.append(bench_watch_latency(runner, layout, reps))
        runner.forget_bytecode(root)
    return results


def bench_startup(runner: Runner, reps: int = 10) -> list[CliResult]:
    """Start-up costs that do not depend on a project: `lp --help` and the bare import."""
    print("-- start-up", flush=True)
    scenarios: dict[str, Callable[[Path], Sample]] = {
        "lp --help": lambda cwd: runner.lp_run(["--help"], cwd),
        "import little_pipelines": lambda cwd: runner.python(
            ["-c", "import little_pipelines"], cwd
        ),
        "python -c pass": lambda cwd: runner.python(["-c", "pass"], cwd),
    }
    results = []
    with tempfile.TemporaryDirectory(prefix="lp-bench-startup-") as tmp:
        for scenario, start in scenarios.items():
            result = CliResult(scenario, None)
            for _ in range(reps):
                sample = start(Path(tmp))
                if sample.returncode != 0:
                    raise RuntimeError(f"{scenario} exited {sample.returncode}:\n{sample.stderr}")
                result.add(sample)
            if scenario == "python -c pass":
                result.note = "baseline: the interpreter alone"
            results.append(_report(result))
    return results


def run_all(
    sizes: Sequence[int],
    *,
    reps: int | None = None,
    keep: bool = False,
    timeout: float | None = None,
) -> list[CliResult]:
    """Start-up numbers, then every scenario for each project size."""
    with tempfile.TemporaryDirectory(prefix="lp-bench-pyc-") as pycache:
        runner = Runner(Path(pycache), timeout)
        print(f"lp: {' '.join(runner.lp)}", flush=True)
        runner.warm_up()
        results = bench_startup(runner)
        for n in sizes:
            try:
                results += bench_project(runner, n, reps or DEFAULT_REPS.get(n, 3), keep=keep)
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                print(f"-- N={n}: stopped: {exc}", flush=True)
    return results


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--big", action="store_true", help=f"also N={BIG} (slow)")
    parser.add_argument("--reps", type=int, default=None, help="runs per scenario")
    parser.add_argument("--keep", action="store_true", help="keep projects in generated/")
    parser.add_argument("--timeout", type=float, default=None, help="seconds per lp process")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> list[CliResult]:
    args = parse_args(argv)
    sizes = [*args.sizes, BIG] if args.big and BIG not in args.sizes else args.sizes
    return run_all(sizes, reps=args.reps, keep=args.keep, timeout=args.timeout)


if __name__ == "__main__":
    main()
