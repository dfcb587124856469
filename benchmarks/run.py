"""Run the benchmark suite: the engine-API benchmark, then whole `lp` processes.

    python benchmarks/run.py            # engine (10,000 tasks) + CLI on N = 100 and 1,000
    python benchmarks/run.py --big      # also the CLI on N = 10,000 (slow)
    python benchmarks/run.py --save     # also write benchmarks/results/<time>.json

Timings are printed, never asserted: nothing here is a pass/fail test.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import bench_cli
import bench_engine

from little_pipelines import __version__

RESULTS = Path(__file__).resolve().parent / "results"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big", action="store_true", help="also the CLI on N=10,000 (slow)")
    parser.add_argument("--engine-n", type=int, default=10_000, help="tasks in the engine graph")
    parser.add_argument("--engine-reps", type=int, default=5)
    parser.add_argument("--no-profile", action="store_true", help="skip the cProfile breakdown")
    parser.add_argument("--no-engine", action="store_true", help="skip the engine benchmark")
    parser.add_argument("--no-cli", action="store_true", help="skip the lp benchmark")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(bench_cli.SIZES))
    parser.add_argument("--reps", type=int, default=None, help="runs per lp scenario")
    parser.add_argument("--keep", action="store_true", help="keep projects in generated/")
    parser.add_argument("--timeout", type=float, default=None, help="seconds per lp process")
    parser.add_argument("--save", action="store_true", help="write results/<time>.json")
    return parser.parse_args(argv)


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "little_pipelines": __version__,
    }


def save(data: dict[str, Any]) -> Path:
    """Write the results as JSON under benchmarks/results/ and return the path."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    return path


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    data: dict[str, Any] = {"machine": machine()}
    print(" ".join(f"{k}={v}" for k, v in data["machine"].items()), flush=True)
    if not args.no_engine:
        result = bench_engine.bench_engine(
            args.engine_n, args.engine_reps, profile=not args.no_profile
        )
        print(bench_engine.format_result(result), flush=True)
        data["engine"] = result.to_json()
    if not args.no_cli:
        print(flush=True)
        sizes = [*args.sizes, bench_cli.BIG] if args.big else args.sizes
        results = bench_cli.run_all(
            sorted(set(sizes)), reps=args.reps, keep=args.keep, timeout=args.timeout
        )
        data["cli"] = [r.to_json() for r in results]
    if args.save:
        print(f"\nresults written to {save(data)}")


if __name__ == "__main__":
    main()
