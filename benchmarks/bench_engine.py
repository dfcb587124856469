"""Engine-API benchmark: per-task overhead of `engine.run` on a generated layered graph.

The issue's targets, on a 10,000-task graph through the engine API: under 50 µs of overhead
per cached task and under 200 µs per executed trivial task. Specs are built directly (no
discovery, no files): each task's `invoke` adds its upstream values and 1, its code is "v1".

- cold: a fresh cache folder, every task executes; per executed task = run time / N.
- warm: the same cache again, every task is served from cache; per cached task = run time / N.

Each repetition opens a new `ResultCache` (so opening the diskcache counts, as it does in a
real run). Graph construction is timed separately. With `--profile`, one cold and one warm run
are profiled with cProfile and the top entries printed.

    python benchmarks/bench_engine.py [--n 10000] [--reps 5] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from generate import plan_tasks

from little_pipelines.engine import run as engine
from little_pipelines.engine.graph import TaskGraph
from little_pipelines.engine.spec import TaskSpec
from little_pipelines.outcomes import RunReport, Status
from little_pipelines.store.cache import ResultCache

__all__ = ["EngineResult", "bench_engine", "build_specs", "main"]

TARGET_CACHED_US = 50.0
TARGET_EXECUTED_US = 200.0


@dataclass(slots=True)
class EngineResult:
    """Medians (and all samples) of the engine benchmark, in seconds unless named _us."""

    n: int
    reps: int
    graph_build_s: float
    cold_s: list[float] = field(default_factory=list)
    warm_s: list[float] = field(default_factory=list)
    profiles: dict[str, str] = field(default_factory=dict)

    @property
    def executed_us(self) -> float:
        return statistics.median(self.cold_s) / self.n * 1e6

    @property
    def cached_us(self) -> float:
        return statistics.median(self.warm_s) / self.n * 1e6

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["per_executed_task_us"] = self.executed_us
        data["per_cached_task_us"] = self.cached_us
        return data


def _trivial(deps: tuple[str, ...]) -> Callable[[Mapping[str, Any], Any], int]:
    """A task body: the sum of its upstream results plus 1."""

    def invoke(upstream: Mapping[str, Any], this: Any) -> int:
        return sum(upstream[d] for d in deps) + 1

    return invoke


def build_specs(n: int, seed: int = 0) -> list[TaskSpec]:
    """N layered task specs, with the same dependency shape as the generated projects."""
    _, deps = plan_tasks(n, seed=seed)
    return [TaskSpec(name=name, invoke=_trivial(d), code="v1", deps=d) for name, d in deps.items()]


def _check(report: RunReport, status: Status, n: int) -> None:
    """A benchmark that measured the wrong thing is worse than none: insist on the counts."""
    got = sum(1 for t in report.tasks if t.status is status)
    if got != n:
        raise RuntimeError(f"expected {n} tasks {status}, got {got}: {report.counts()}")


def timed_run(graph: TaskGraph, directory: Path, expect: Status) -> float:
    """Seconds for one `engine.run` over the whole graph with a newly opened cache."""
    cache = ResultCache(directory)
    try:
        started = time.perf_counter()
        report = engine.run(graph, cache)
        elapsed = time.perf_counter() - started
    finally:
        cache.close()
    _check(report, expect, len(graph))
    return elapsed


def profiled_run(graph: TaskGraph, directory: Path, *, top: int = 15) -> str:
    """One `engine.run` under cProfile: the top entries by cumulative and by own time."""
    cache = ResultCache(directory)
    profiler = cProfile.Profile()
    try:
        profiler.enable()
        engine.run(graph, cache)
        profiler.disable()
    finally:
        cache.close()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    return _trim(out.getvalue())


def _trim(text: str) -> str:
    """pstats output without its blank preamble lines and with shorter file paths."""
    lines = [line for line in text.splitlines() if line.strip()]
    site = str(Path(engine.__file__).parent.parent) + "/"
    return "\n".join(line.replace(site, "") for line in lines)


def bench_engine(
    n: int = 10_000, reps: int = 5, *, seed: int = 0, profile: bool = False
) -> EngineResult:
    """Cold and warm `engine.run` timings on an N-task graph, `reps` times each."""
    specs = build_specs(n, seed)
    started = time.perf_counter()
    graph = TaskGraph(specs)
    result = EngineResult(n=n, reps=reps, graph_build_s=time.perf_counter() - started)
    with tempfile.TemporaryDirectory(prefix="lp-bench-engine-") as tmp:
        for rep in range(reps):
            directory = Path(tmp) / f"cache-{rep}"
            result.cold_s.append(timed_run(graph, directory, Status.EXECUTED))
            result.warm_s.append(timed_run(graph, directory, Status.CACHED))
            shutil.rmtree(directory)
        if profile:
            directory = Path(tmp) / "cache-profile"
            result.profiles["cold"] = profiled_run(graph, directory)
            result.profiles["warm"] = profiled_run(graph, directory)
    return result


def _verdict(value: float, target: float) -> str:
    return f"{'meets' if value < target else 'MISSES'} target < {target:.0f} µs"


def format_result(result: EngineResult) -> str:
    """The human summary of an engine benchmark."""
    cold, warm = statistics.median(result.cold_s), statistics.median(result.warm_s)
    lines = [
        f"engine API, {result.n} tasks, {result.reps} repetitions (medians)",
        f"  graph build           {result.graph_build_s * 1e3:9.1f} ms",
        f"  cold run (all execute){cold:9.3f} s   -> {result.executed_us:7.1f} µs per executed task"
        f"  ({_verdict(result.executed_us, TARGET_EXECUTED_US)})",
        f"  warm run (all cached) {warm:9.3f} s   -> {result.cached_us:7.1f} µs per cached task"
        f"  ({_verdict(result.cached_us, TARGET_CACHED_US)})",
        f"  samples cold {', '.join(f'{s:.3f}' for s in result.cold_s)}",
        f"  samples warm {', '.join(f'{s:.3f}' for s in result.warm_s)}",
    ]
    for kind, text in result.profiles.items():
        lines += ["", f"cProfile, one {kind} run:", text]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> EngineResult:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="tasks in the graph")
    parser.add_argument("--reps", type=int, default=5, help="repetitions of each run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", action="store_true", help="print cProfile hot spots")
    args = parser.parse_args(argv)
    result = bench_engine(args.n, args.reps, seed=args.seed, profile=args.profile)
    print(format_result(result))
    return result


if __name__ == "__main__":
    main()
