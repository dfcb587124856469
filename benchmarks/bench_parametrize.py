"""Parametrized instances against separate functions: what each task costs in a no-op run.

Two projects of N independent tasks: one with N functions `task_tNNNN` (100 to a file), one
with a single function under `@lp.task.parametrize("i", [0, ..., N-1])`. Each is run once
cold, then `lp run --json` is timed with everything cached, alternating the two projects so
that both see the same machine; the medians and their ratio are printed. The promise (issue
11): an instance costs no more than a function.

    python benchmarks/bench_parametrize.py              # N = 1,000, medians of 9
    python benchmarks/bench_parametrize.py --n 10000 --reps 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench_cli import Runner, lp_command


def functions(root: Path, n: int) -> None:
    """N separate task functions, 100 to a tasks file."""
    for start in range(0, n, 100):
        body = "".join(
            f"def task_t{i:05d}():\n    return {i}\n\n\n" for i in range(start, min(n, start + 100))
        )
        (root / f"tasks_{start // 100:04d}.py").write_text(body)


def instances(root: Path, n: int) -> None:
    """One function, parametrized N times."""
    values = ", ".join(str(i) for i in range(n))
    (root / "tasks_p.py").write_text(
        "import little_pipelines as lp\n\n\n"
        f'@lp.task.parametrize("i", [{values}])\ndef task_t(i):\n    return i\n'
    )


def timed_noop(root: Path, n: int, env: dict[str, str]) -> float:
    """Seconds of one `lp run --json` with every task cached (checked)."""
    started = time.perf_counter()
    done = subprocess.run(
        [*lp_command(), "run", "--json"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    seconds = time.perf_counter() - started
    counts = json.loads(done.stdout)["counts"]
    assert counts["cached"] == n and counts["executed"] == 0, counts
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--reps", type=int, default=9)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = Runner(Path(tmp, "pycache")).env()  # bytecode written, as an install has it
        roots = {"functions": Path(tmp, "functions"), "instances": Path(tmp, "instances")}
        for name, root in roots.items():
            root.mkdir()
            (functions if name == "functions" else instances)(root, args.n)
            subprocess.run([*lp_command(), "run", "-q"], cwd=root, env=env, check=True)
            timed_noop(root, args.n, env)  # the first rerun writes the reading memo: not timed
        samples: dict[str, list[float]] = {name: [] for name in roots}
        for _ in range(args.reps):
            for name, root in roots.items():
                samples[name].append(timed_noop(root, args.n, env))
    medians = {name: statistics.median(s) for name, s in samples.items()}
    print(f"no-op run, N = {args.n:,}, medians of {args.reps}:")
    for name, median in medians.items():
        spread = f"{min(samples[name]):.3f}-{max(samples[name]):.3f}"
        per_task = median / args.n * 1e6
        print(f"  {name:<10} {median:.3f} s  ({spread})  {per_task:.0f} us per task")
    print(f"  instances / functions: {medians['instances'] / medians['functions']:.2f}")


if __name__ == "__main__":
    main()
