"""`lp watch` on the shared DAG: from saving one edited task to the end of its rerun.

The project is compare.py's (peers/dag.py, 20 layers, 100 tasks per file). One `lp watch
--json` process runs; each repetition edits a task's constant and waits for the run whose
JSON line says exactly the tasks the edit reaches executed. Two edits are timed: a task in
the last layer (it alone reruns) and the middle-layer task compare.py edits (60 at N = 1,000).
The time runs from just before the write to the moment the JSON line arrives, so it holds the
file event, the debounce, re-reading, re-planning and the runs themselves.

    python benchmarks/bench_watch.py                 # N = 1,000, medians of 9
    python benchmarks/bench_watch.py --n 10000 --reps 5
"""

from __future__ import annotations

import argparse
import json
import queue
import signal
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from bench_cli import Runner, lp_command
from peers.dag import Dag, edit_constant, plan
from peers.projects import WRITERS, function_name


def _runs(proc: subprocess.Popen[str]) -> queue.Queue[dict]:
    """The JSON line of each run of `proc`, as it arrives."""
    lines: queue.Queue[dict] = queue.Queue()
    assert proc.stdout is not None
    stdout = proc.stdout
    threading.Thread(target=lambda: [lines.put(json.loads(x)) for x in stdout], daemon=True).start()
    return lines


def time_saves(root: Path, dag: Dag, name: str, reps: int, runner: Runner) -> list[float]:
    """Seconds from each save of task `name` to the end of the run it causes."""
    reach = len(dag.closure(name))
    path = root / f"tasks_{dag.file_index(name):04d}.py"
    proc = subprocess.Popen(
        [*lp_command(), "watch", "--json"],
        cwd=root,
        env=runner.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    runs = _runs(proc)
    samples = []
    try:
        runs.get(timeout=600)  # the first run
        time.sleep(1.0)  # let the first run's own writes settle (not measured)
        for rep in range(reps):
            started = time.perf_counter()
            edit_constant(path, function_name("lp", name), 100 + rep)
            data = runs.get(timeout=60)
            while data["counts"]["executed"] != reach:  # a stray event: wait for the rerun
                data = runs.get(timeout=60)
            samples.append(time.perf_counter() - started)
            time.sleep(0.3)  # the next save is a new one, not part of this one's debounce
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    return samples


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000, help="tasks in the DAG")
    parser.add_argument("--reps", type=int, default=9, help="saves per edited task")
    args = parser.parse_args(argv)
    dag = plan(args.n)
    last = dag.layers[-1][len(dag.layers[-1]) // 2]
    with tempfile.TemporaryDirectory(prefix="lp-bench-watch-") as tmp:
        root = Path(tmp) / "lp"
        WRITERS["lp"](root, dag)
        runner = Runner(Path(tmp) / ".pycache")
        for label, name in (("one task", last), ("middle task", dag.edit_target)):
            samples = time_saves(root, dag, name, args.reps, runner)
            print(
                f"N = {args.n:,}, save -> rerun of {label} {name} ({len(dag.closure(name))}"
                f" executed): median {statistics.median(samples) * 1000:.0f} ms"
                f" ({min(samples) * 1000:.0f}-{max(samples) * 1000:.0f}), {len(samples)} saves",
                flush=True,
            )


if __name__ == "__main__":
    main()
