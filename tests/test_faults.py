"""Fault injection: `lp run` killed at random instants over a generated project.

CI runs a quick version (about 5 kills over 50 tasks); `LP_FAULTS=long` runs the long one
(32 kills over 200 tasks, some results of several MB). The signal is SIGKILL, SIGTERM or SIGINT.
After every kill: no lp or worker process remains (a stopped lp exits 143 or 130), and no task
whose result was stored before that run executed again. At the
end the project completes and every result equals that of a from-scratch run. The seed is
random for the long run (`LP_FAULTS_SEED` replays one) and shown when a check fails.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from e2e_helpers import PACKAGE_DIR, Project, executed, lp_command, make_env
from proc_helpers import Background, survivors

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")


@dataclass(frozen=True)
class Size:
    tasks: int
    kills: int
    big_every: int  # every Nth task returns a result of `big_bytes`
    big_bytes: int
    delay_s: float  # how long each task works


QUICK = Size(tasks=50, kills=5, big_every=10, big_bytes=200_000, delay_s=0.005)
LONG = Size(tasks=200, kills=32, big_every=10, big_bytes=3_000_000, delay_s=0.01)

WORK = '''
import hashlib
import os
import time
from pathlib import Path

LOG = Path(__file__).parent / "executed.log"


def work(name, upstream, size, delay):
    """Note the execution, work a little, return a value made only from the inputs."""
    fd = os.open(LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    os.write(fd, (name + "\\n").encode())
    os.close(fd)
    time.sleep(delay)
    digest = hashlib.sha256(name.encode())
    for value in upstream:
        digest.update(value["digest"].encode())
    seed = digest.digest()
    return {"name": name, "digest": digest.hexdigest(), "blob": seed * (size // len(seed))}
'''


def _generate(root: Path, size: Size) -> list[str]:
    """Layers of tasks over several files; each task needs up to two of the layer above."""
    rng = random.Random(1)  # the shape is fixed; only the kills are random
    names = [f"t{i:03d}" for i in range(size.tasks)]
    width = 10
    files: dict[int, list[str]] = {}
    for i, name in enumerate(names):
        layer = i // width
        above = names[(layer - 1) * width : layer * width] if layer else []
        deps = sorted(rng.sample(above, min(2, len(above))))
        blob = size.big_bytes if i % size.big_every == 0 else 100
        files.setdefault(i % 5, []).append(
            f"def task_{name}({', '.join(deps)}):\n"
            f"    return work({name!r}, [{', '.join(deps)}], {blob}, {size.delay_s})\n"
        )
    (root / "work.py").write_text(WORK)
    for number, functions in files.items():
        text = "from work import work\n\n\n" + "\n\n".join(functions)
        (root / f"tasks_part{number}.py").write_text(text)
    return names


def _log(root: Path) -> list[str]:
    path = root / "executed.log"
    return path.read_text().split() if path.exists() else []


def _project_state(root: Path) -> tuple[set[str], dict[str, Any] | None]:
    """The tasks whose stored result is fresh now; with every result if all are."""
    from little_pipelines.project.project import Project as Runner

    project = Runner(root)
    try:
        fresh = {name for name, reason in project.reasons().items() if reason is None}
        if len(fresh) < len(project.graph):
            return fresh, None
        return fresh, {name: project.result(name) for name in project.graph.order}
    finally:
        project.cache.close()


def _clear(root: Path) -> None:
    from little_pipelines.project.project import Project as Runner

    project = Runner(root)
    try:
        project.cache.clear()
    finally:
        project.cache.close()


def test_kills_at_random_instants_lose_nothing_and_redo_nothing(tmp_path: Path) -> None:
    size = LONG if os.environ.get("LP_FAULTS") == "long" else QUICK
    default_seed = random.randrange(10**6) if size is LONG else 7
    seed = int(os.environ.get("LP_FAULTS_SEED", default_seed))
    rng = random.Random(seed)
    p = Project(tmp_path, "killed")
    names = _generate(p.root, size)
    reference = Project(tmp_path, "reference")
    shutil.copytree(p.root, reference.root, dirs_exist_ok=True)
    started = time.monotonic()
    assert executed(reference.run()) == set(names)
    full_run_s = time.monotonic() - started
    _, expected = _project_state(reference.root)
    assert expected is not None

    kills = 0
    runs = 0
    while kills < size.kills:
        runs += 1
        fresh, _ = _project_state(p.root)
        if len(fresh) == len(names):  # finished between kills: start over, to kill again
            _clear(p.root)
            fresh = set()
        jobs = rng.choice(["1", "2"])
        signum = rng.choice([signal.SIGKILL, signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
        before = len(_log(p.root))
        run = Background(p, "run", "-j", jobs, "--json")
        context = f"seed {seed}, run {runs}, -j {jobs}, {signum.name}"
        try:
            time.sleep(rng.uniform(0, 0.7 * full_run_s))
            run.signal(signum)
            rc = run.wait()
            assert survivors(run.tag) == [], f"{context}: processes left behind"
        finally:
            run.cleanup()
        # -signum (or 1 for a Ctrl-C inside Python's `site`): it came before lp's code started
        python_start = rc == -signum or (signum == signal.SIGINT and rc == 1)
        assert rc in (0, 128 + signum) or python_start, f"{context}\n{run}"
        if python_start:
            assert PACKAGE_DIR not in run.err, f"{context}\n{run}"
        kills += rc != 0
        again = set(_log(p.root)[before:]) & fresh
        assert not again, f"{context}: stored before the run, executed again: {sorted(again)}"

    fresh, _ = _project_state(p.root)
    before = len(_log(p.root))
    data = p.run("-j", rng.choice(["1", "2"]))
    assert not set(_log(p.root)[before:]) & fresh, f"seed {seed}: final run redid stored tasks"
    assert set(executed(data)) == set(names) - fresh
    _, got = _project_state(p.root)
    assert got == expected, f"seed {seed}: results differ from a from-scratch run"


LIBRARY = """
import os
import sys
import time

import little_pipelines as lp

LOG = sys.argv[1]


def make(name, dependencies):
    # (by default a library result lasts one session, that is one process: keep it)
    task = lp.Task(name, dependencies=dependencies, expire_results=lp.expire.never())

    @task.process
    def run(this):
        fd = os.open(LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        os.write(fd, (name + "\\n").encode())
        os.close(fd)
        time.sleep(0.05)
        return [this.pipeline.get_result(d) for d in dependencies] + [name]

    return task


pipeline = lp.Pipeline("shared").add(make("Zero", []), make("One", ["Zero"]), make("Two", ["One"]))
report = pipeline.execute()
print(pipeline.get_result("Two"))
sys.exit(report.exit_code)
"""


def test_four_runs_a_shell_and_two_library_scripts_at_once_run_each_task_once(
    tmp_path: Path,
) -> None:
    """Every front door takes the run lock: 4 `lp run` and an `lp shell` on one project, and
    two scripts executing one library pipeline, all at once; each task executes once."""
    p = Project(tmp_path)
    names = _generate(p.root, Size(tasks=20, kills=0, big_every=5, big_bytes=100_000, delay_s=0.02))
    (tmp_path / "library.py").write_text(LIBRARY)
    library_log = tmp_path / "library.log"
    env = make_env(p.home)

    def start(command: list[str], stdin: int | None = subprocess.DEVNULL) -> subprocess.Popen:
        return subprocess.Popen(
            command, cwd=p.root, env=env, stdin=stdin, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    runs = [start([*lp_command(), "run", "--json"]) for _ in range(4)]
    shell = start([*lp_command(), "shell"], stdin=subprocess.PIPE)
    scripts = [start([sys.executable, str(tmp_path / "library.py"), str(library_log)])]
    scripts.append(start([sys.executable, str(tmp_path / "library.py"), str(library_log)]))
    _, shell_err = shell.communicate("execute\nexit\n", timeout=120)
    outcomes = [proc.communicate(timeout=120) for proc in runs + scripts]

    assert shell.returncode == 0, shell_err
    for proc, (out, err) in zip(runs, outcomes, strict=False):
        assert proc.returncode == 0, err
        assert json.loads(out)["ok"] is True
    for proc, (out, err) in zip(scripts, outcomes[len(runs) :], strict=True):
        assert proc.returncode == 0, err
        assert out.strip() == "[[['Zero'], 'One'], 'Two']"
    waited = [err for _, err in outcomes[: len(runs)] if "waiting for another lp process" in err]
    assert waited, "the runs did not overlap: nothing was tested"
    assert sorted(_log(p.root)) == sorted(names), "a project task executed twice (or never)"
    assert sorted(library_log.read_text().split()) == ["One", "Two", "Zero"]
    assert set(p.states().values()) == {("fresh", None)}
