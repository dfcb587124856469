"""Processes and signals: what `lp` leaves behind when it is killed, and tasks that misbehave.

Real `lp` processes, because processes are the point. Tasks write a pid file and then block;
each test waits for the file (an event, not a sleep), then signals.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from e2e_helpers import Project, make_env, statuses
from proc_helpers import Background, alive, survivors, wait_for_file

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")

# `first` runs in lp's process; `left` and `right` block in the two workers until released.
HOLD = """
    import os
    import time
    from pathlib import Path

    HERE = Path(__file__).parent

    def hold(name):
        (HERE / f"{name}.tmp").write_text(str(os.getpid()))
        os.replace(HERE / f"{name}.tmp", HERE / f"{name}.pid")
        for _ in range(6000):
            if (HERE / "release").exists():
                return name
            time.sleep(0.01)
        raise TimeoutError(name)

    def task_first():
        return 1

    def task_left(first):
        return hold("left")

    def task_right(first):
        return hold("right")

    def task_joined(left, right):
        return left + right
"""

SIGNALS = {
    signal.SIGINT: "interrupted (SIGINT)",
    signal.SIGTERM: "terminated (SIGTERM)",
    signal.SIGHUP: "hung up (SIGHUP)",
}


def _held(p: Project, *names: str) -> list[int]:
    return [int(wait_for_file(p.root / f"{name}.pid")) for name in names]


@pytest.mark.parametrize(
    "signum", [signal.SIGKILL, signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=lambda s: s.name
)
def test_a_signal_to_lp_leaves_no_process_and_stores_nothing_partial(
    tmp_path: Path, signum: signal.Signals
) -> None:
    p = Project(tmp_path)
    p.write("tasks_hold.py", HOLD)
    run = Background(p, "run", "-j", "2", "--json")
    try:
        workers = _held(p, "left", "right")
        run.signal(signum)
        rc = run.wait()
        assert alive([run.pid, *workers]) == [], str(run)
        assert survivors(run.tag) == [], str(run)
    finally:
        run.cleanup()
    if signum is signal.SIGKILL:
        assert rc == -signal.SIGKILL
    else:
        assert rc == 128 + signum, str(run)
        assert run.err == f"lp: {SIGNALS[signum]}\n"
        data = json.loads(run.out)
        assert data["ok"] is False
        assert statuses(data) == {
            "first": ("executed", "new"),
            "left": ("failed", "new"),
            "right": ("failed", "new"),
            "joined": ("skipped", None),  # never started, and listed all the same
        }
    states = p.states()
    assert states["first"] == ("fresh", None)
    assert states["left"][0] in ("failed", "never run")
    assert states["right"][0] in ("failed", "never run")
    assert states["joined"][0] == "never run"


def test_a_double_ctrl_c_still_gives_exit_130_and_one_line(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("tasks_hold.py", HOLD)
    run = Background(p, "run", "--json")  # in lp's own process this time
    try:
        _held(p, "left")
        run.signal(signal.SIGINT)
        run.signal(signal.SIGINT)
        rc = run.wait()
    finally:
        run.cleanup()
    assert rc == 130, str(run)
    assert run.err == "lp: interrupted (SIGINT)\n"
    assert statuses(json.loads(run.out))["left"] == ("failed", "new")


# Python code that runs `lp ARGS` through the real entry point, with a Ctrl-C arriving just
# as MODULE is about to be imported: the instants of start-up, one by one.
START_UP = """
import os, signal, sys

class CtrlC:
    def find_spec(self, name, path=None, target=None):
        if name == MODULE:
            os.kill(os.getpid(), signal.SIGINT)
        return None

sys.meta_path.insert(0, CtrlC())
from little_pipelines.__main__ import main
main(ARGS)
"""


@pytest.mark.parametrize(
    ("module", "args"),
    [
        # (`lp run`, `lp list` and `--version` start without typer and rich: graph needs them)
        ("typer", ["graph"]),
        ("little_pipelines.ui.cli", ["graph"]),
        ("little_pipelines.ui.running", ["run"]),
        ("little_pipelines.ui.fast", ["list"]),
        ("little_pipelines.ui.help", ["run", "--help"]),
        ("little_pipelines.project.project", ["list"]),
        ("little_pipelines.project.discovery", ["list"]),
        ("diskcache", ["list"]),
        ("sqlite3", ["list"]),
    ],
)
def test_ctrl_c_during_start_up_exits_130_with_one_line(
    tmp_path: Path, module: str, args: list[str]
) -> None:
    (tmp_path / "tasks_main.py").write_text("def task_a():\n    return 1\n")
    code = START_UP.replace("MODULE", repr(module)).replace("ARGS", repr(args))
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=make_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 130, result.stderr
    assert result.stderr == "lp: interrupted (SIGINT)\n"
    assert result.stdout == ""


def test_a_worker_killed_mid_task_fails_only_that_task(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("tasks_hold.py", HOLD)
    p.write(
        "tasks_more.py",
        """
        def task_after_left(left):
            return left

        def task_later_1(first):
            return 1

        def task_later_2(first):
            return 2
        """,
    )
    run = Background(p, "run", "-j", "2", "--json")
    try:
        left, _ = _held(p, "left", "right")
        import os

        os.kill(left, signal.SIGKILL)
        alive([left])
        (p.root / "release").write_text("")
        rc = run.wait()
    finally:
        run.cleanup()
    assert rc == 1, str(run)
    data = json.loads(run.out)
    assert statuses(data) == {
        "first": ("executed", "new"),
        "left": ("failed", "new"),
        "right": ("executed", "new"),
        "joined": ("upstream_failed", None),
        "after_left": ("upstream_failed", None),
        "later_1": ("executed", "new"),
        "later_2": ("executed", "new"),
    }
    error = next(t["error"] for t in data["tasks"] if t["name"] == "left")
    assert error == {
        "type": "WorkerDied",
        "message": "task 'left' ended its worker process (killed by SIGKILL) before returning;"
        " the other tasks go on in a new worker",
    }


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_base_exceptions_fail_their_task_alone(tmp_path: Path, jobs: str) -> None:
    p = Project(tmp_path)
    p.write(
        "tasks_raise.py",
        """
        class Custom(BaseException):
            pass

        def task_base():
            raise Custom("not an Exception")

        def task_generator_exit():
            raise GeneratorExit("closed")

        def task_system_exit():
            raise SystemExit(4)

        def task_fine():
            return 1

        def task_after(base):
            return base
        """,
    )
    data = p.run("-j", jobs, rc=1)
    assert statuses(data) == {
        "base": ("failed", "new"),
        "generator_exit": ("failed", "new"),
        "system_exit": ("failed", "new"),
        "fine": ("executed", "new"),
        "after": ("upstream_failed", None),
    }
    errors = {t["name"]: t["error"] for t in data["tasks"] if t["status"] == "failed"}
    assert errors == {
        "base": {"type": "Custom", "message": "not an Exception"},
        "generator_exit": {"type": "GeneratorExit", "message": "closed"},
        "system_exit": {"type": "SystemExit", "message": "4"},
    }


THREAD = """
    import threading
    import time

    def task_spawner():
        threading.Thread(target=time.sleep, args=(120,), name="poller").start()
        return 1

    def task_next(spawner):
        return spawner + 1
"""


def test_a_task_that_leaves_a_thread_running_does_not_keep_lp_alive(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("tasks_thread.py", THREAD)
    data = p.run()  # times out (a failure) if lp waits for the thread
    assert statuses(data) == {"spawner": ("executed", "new"), "next": ("executed", "new")}
    warning = "task 'spawner' left 1 thread(s) running (poller); lp does not wait for them"
    assert data["warnings"] == [warning]
    human = p.lp("run", "-f")
    assert human.rc == 0, str(human)
    assert f"warning: {warning}" in human.flat_err


def test_os_exit_in_a_task_is_reported_by_lp_list_and_the_next_run(tmp_path: Path) -> None:
    p = Project(tmp_path, process=True)
    p.write(
        "tasks_exit.py",
        """
        import os
        from pathlib import Path

        FLAG = Path(__file__).parent / "exited-once"

        def task_first():
            return 1

        def task_bye(first):
            if not FLAG.exists():
                FLAG.write_text("")
                os._exit(0)
            return 2
        """,
    )
    first = p.lp("run", "--json")
    assert (first.rc, first.out) == (0, "")  # os._exit cannot be intercepted: lp is gone
    assert p.states() == {"first": ("fresh", None), "bye": ("failed", "new")}
    second = p.lp("run", "--json")
    assert second.rc == 0, str(second)
    notice = (
        "the last run ended inside task 'bye' (os._exit(), a crash, or a kill):"
        " it counts as failed and runs again"
    )
    assert f"warning: {notice}" in second.flat_err  # said before the task runs
    data = second.json
    assert data["warnings"] == [notice]
    assert statuses(data) == {"first": ("cached", None), "bye": ("executed", "new")}


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_task_that_forks_is_stored_and_reported_once(tmp_path: Path, jobs: str) -> None:
    p = Project(tmp_path)
    p.write(
        "tasks_fork.py",
        """
        import os

        def task_forker(this):
            child = os.fork()
            this.logger.info("parent" if child else "child")
            return "parent" if child else "child"

        def task_after(forker):
            return forker + "!"
        """,
    )
    data = p.run("-j", jobs)  # two JSON objects on stdout would fail here
    assert statuses(data) == {"forker": ("executed", "new"), "after": ("executed", "new")}
    assert p.lp("show", "after").out.strip() == "parent!"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_watch_stops_on_sigterm_with_143_and_on_ctrl_c_with_0(
    tmp_path: Path, signum: signal.Signals
) -> None:
    p = Project(tmp_path)
    p.write("tasks_w.py", "def task_a():\n    return 1\n")
    watch = Background(p, "watch", "--json")
    try:
        deadline = time.monotonic() + 30
        while '"ok": true' not in watch.out and time.monotonic() < deadline:
            time.sleep(0.02)  # the first run's JSON line: watching has begun
        watch.signal(signum)
        rc = watch.wait()
        assert survivors(watch.tag) == []
    finally:
        watch.cleanup()
    if signum is signal.SIGTERM:
        assert (rc, watch.err) == (143, "lp: terminated (SIGTERM)\n")
    else:
        assert (rc, watch.err) == (0, "")


STUBBORN = """
    import time
    from pathlib import Path

    HERE = Path(__file__).parent

    def task_stubborn():
        (HERE / "started").write_text("yes")
        while True:
            try:
                time.sleep(60)
            except BaseException:  # swallows the interruption
                (HERE / "swallowed").write_text("yes")
                if (HERE / "give-up").exists():
                    return 1

    def task_after(stubborn):
        return stubborn + 1
"""


def test_a_task_that_swallows_the_signal_still_stops_the_run(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("tasks_stubborn.py", STUBBORN)
    p.write("give-up", "")
    run = Background(p, "run", "--json")
    try:
        wait_for_file(p.root / "started")
        run.signal(signal.SIGTERM)
        rc = run.wait()
    finally:
        run.cleanup()
    assert rc == 143, str(run)
    data = json.loads(run.out)
    got = [(t["name"], t["status"]) for t in data["tasks"]]
    assert got == [("stubborn", "executed"), ("after", "skipped")]  # `after` never started
    assert run.err == "lp: terminated (SIGTERM)\n"


def test_a_signal_after_the_grace_period_ends_a_stuck_lp_at_once(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("tasks_stubborn.py", STUBBORN)
    run = Background(p, "run", "--json")  # the task swallows the first signal and goes on
    try:
        wait_for_file(p.root / "started")
        run.signal(signal.SIGTERM)
        wait_for_file(p.root / "swallowed")
        time.sleep(0.6)  # past the grace period: a deliberate second signal, not a bounce
        run.signal(signal.SIGTERM)
        rc = run.wait()
        assert survivors(run.tag) == []
    finally:
        run.cleanup()
    assert rc == 143, str(run)
    assert run.err == "lp: terminated again: exiting now\n"
