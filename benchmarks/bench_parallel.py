"""How much `lp run -j N` and `--executor dask` gain or cost, as whole `lp` processes.

(a) 8 independent CPU-bound tasks of ~0.5 s each (a busy loop calibrated on this machine):
    cold `lp run -j 1` against `-j 2`; the speed-up (ideal: 2 on 2 free cores).
(b) the shared DAG of `compare.py` (N = 1,000 trivial tasks), cold, `-j 1` against `-j 2`:
    what worker processes cost when tasks are too small to gain from them.
(c) if `distributed` is importable: a one-worker, one-thread LocalCluster; lp's wall time per
    task for 200 trivial independent tasks with `--executor dask` (and locally, to subtract),
    next to Dask's own `client.submit(...).result()` round trip for 200 trivial calls.

Every lp run is cold (`.little_pipelines/` and the project's bytecode deleted first); numbers
are medians of --reps runs (default 3).

    python benchmarks/bench_parallel.py [--reps 3] [--no-dask]
"""

from __future__ import annotations

import argparse
import json
import operator
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench_cli import Runner, lp_command, measure
from peers.dag import plan
from peers.projects import write_lp

BUSY_TASKS = 8
BUSY_SECONDS = 0.5
DASK_TASKS = 200
PYPROJECT = '[tool.little_pipelines]\nname = "parallel"\n'


def busy(iterations: int) -> int:
    """The busy loop the CPU-bound tasks run (the same code, to calibrate it here)."""
    total = 0
    for i in range(iterations):
        total += i
    return total % 1000


def _timed_busy(iterations: int) -> float:
    started = time.perf_counter()
    busy(iterations)
    return time.perf_counter() - started


def calibrate(seconds: float = BUSY_SECONDS) -> tuple[int, float]:
    """Iterations of `busy` that take about `seconds` here, and what they took (median of 3).

    A first guess from a short trial is refined once at full length, where the CPU's clock
    and caches are as they will be in the tasks.
    """
    iterations = int(1_000_000 * seconds / _timed_busy(1_000_000))
    iterations = int(iterations * seconds / _timed_busy(iterations))
    return iterations, statistics.median(_timed_busy(iterations) for _ in range(3))


def write_busy(root: Path, iterations: int) -> None:
    """A project of BUSY_TASKS independent tasks, each running the busy loop."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(PYPROJECT)
    parts = ['"""CPU-bound independent tasks."""\n']
    for k in range(BUSY_TASKS):
        parts.append(
            f"\n\ndef task_busy_{k}():\n    total = 0\n    for i in range({iterations + k}):\n"
            f"        total += i\n    return total % 1000\n"
        )
    (root / "tasks_busy.py").write_text("".join(parts))


def write_trivial(root: Path, count: int) -> None:
    """A project of `count` independent tasks that return a constant."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(PYPROJECT)
    parts = ['"""Trivial independent tasks."""\n']
    parts += [f"\n\ndef task_i{k:05d}():\n    return {k}\n" for k in range(count)]
    (root / "tasks_trivial.py").write_text("".join(parts))


@dataclass(frozen=True, slots=True)
class Timing:
    """Medians over cold runs: the whole `lp` process, and one task as lp timed it."""

    wall_s: float
    task_s: float


def cold_runs(runner: Runner, root: Path, args: list[str], reps: int, expect: int) -> Timing:
    """`reps` cold `lp run --json ARGS`, checking that every task executed."""
    walls, tasks = [], []
    for _ in range(reps):
        runner.forget_bytecode(root)
        shutil.rmtree(root / ".little_pipelines", ignore_errors=True)
        argv = [*lp_command(), "run", "--json", *args]
        sample = measure(argv, root, env=runner.env(), timeout=runner.timeout)
        report = json.loads(sample.stdout) if sample.returncode == 0 else {}
        if report.get("counts", {}).get("executed") != expect:
            raise RuntimeError(f"lp run {' '.join(args)}: {sample.stderr[-1500:]}")
        walls.append(sample.wall_s)
        tasks += [task["duration_s"] for task in report["tasks"]]
    return Timing(statistics.median(walls), statistics.median(tasks))


def jobs_pair(runner: Runner, root: Path, reps: int, expect: int) -> tuple[Timing, Timing]:
    """Cold runs with `-j 1` and `-j 2`, interleaved per repetition."""
    one, two = [], []
    for _ in range(reps):
        one.append(cold_runs(runner, root, ["-j", "1"], 1, expect))
        two.append(cold_runs(runner, root, ["-j", "2"], 1, expect))
    return _median(one), _median(two)


def _median(timings: list[Timing]) -> Timing:
    return Timing(
        statistics.median(t.wall_s for t in timings), statistics.median(t.task_s for t in timings)
    )


def bench_busy(runner: Runner, root: Path, reps: int) -> None:
    iterations, one_task = calibrate()
    write_busy(root, iterations)
    one, two = jobs_pair(runner, root, reps, BUSY_TASKS)
    print(
        f"(a) {BUSY_TASKS} CPU-bound tasks, {iterations:,} iterations ({one_task:.2f} s when "
        f"calibrated; as lp timed them: {one.task_s:.2f} s with -j 1, {two.task_s:.2f} s with "
        f"-j 2):\n    -j 1 {one.wall_s:.2f} s, -j 2 {two.wall_s:.2f} s, "
        f"speed-up {one.wall_s / two.wall_s:.2f}x",
        flush=True,
    )


def bench_dag(runner: Runner, root: Path, reps: int, n: int = 1_000) -> None:
    write_lp(root, plan(n))
    one, two = (timing.wall_s for timing in jobs_pair(runner, root, reps, n))
    print(
        f"(b) shared DAG, N = {n:,} trivial tasks, cold: -j 1 {one:.2f} s, -j 2 {two:.2f} s, "
        f"ratio -j 2 / -j 1 = {two / one:.2f}",
        flush=True,
    )


def _per_call(calls: Callable[[], None], count: int, reps: int) -> float:
    walls = []
    for _ in range(reps):
        started = time.perf_counter()
        calls()
        walls.append(time.perf_counter() - started)
    return statistics.median(walls) / count


def bench_dask(runner: Runner, root: Path, reps: int) -> None:
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        print("(c) skipped: distributed is not importable", flush=True)
        return
    write_trivial(root, DASK_TASKS)
    cluster = LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    )
    try:
        with Client(cluster) as client:
            address = cluster.scheduler_address
            dask = ["--executor", "dask", "--address", address]
            cold_runs(runner, root, dask, 1, DASK_TASKS)  # warm-up: the worker imports lp
            on_dask = cold_runs(runner, root, dask, reps, DASK_TASKS).wall_s
            local = cold_runs(runner, root, ["-j", "1"], reps, DASK_TASKS).wall_s

            def one_by_one() -> None:
                for i in range(DASK_TASKS):
                    client.submit(operator.add, i, 1, pure=False).result()

            def all_at_once() -> None:
                futures = [client.submit(operator.add, i, 1, pure=False) for i in range(DASK_TASKS)]
                client.gather(futures)

            one_by_one()  # warm-up
            sequential = _per_call(one_by_one, DASK_TASKS, reps)
            batched = _per_call(all_at_once, DASK_TASKS, reps)
    finally:
        cluster.close()
    ms = 1000 / DASK_TASKS
    print(
        f"(c) {DASK_TASKS} trivial independent tasks on a 1-worker, 1-thread LocalCluster:\n"
        f"    lp --executor dask: {on_dask:.2f} s whole process = {on_dask * ms:.2f} ms/task; "
        f"lp -j 1 (local): {local:.2f} s = {local * ms:.2f} ms/task; "
        f"dask minus local: {(on_dask - local) * ms:.2f} ms/task\n"
        f"    Dask itself: submit + result() one at a time {sequential * 1000:.2f} ms/task, "
        f"submit all + gather {batched * 1000:.2f} ms/task",
        flush=True,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3, help="cold runs per setting")
    parser.add_argument("--no-dask", action="store_true", help="skip (c)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="lp-parallel-") as tmp:
        runner = Runner(Path(tmp) / ".pycache", timeout=600)
        runner.warm_up()
        bench_busy(runner, Path(tmp) / "busy", args.reps)
        bench_dag(runner, Path(tmp) / "dag", args.reps)
        if not args.no_dask:
            bench_dask(runner, Path(tmp) / "dask", args.reps)


if __name__ == "__main__":
    main()
