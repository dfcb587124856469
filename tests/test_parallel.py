"""`lp run --jobs N`: independent tasks in worker processes, same cache and output."""

from __future__ import annotations

import json
from pathlib import Path

from e2e_helpers import Project, statuses

import little_pipelines

# Each task writes its own flag, then waits for the other's: both finish only if they run at
# the same time. The wait is bounded so a broken scheduler fails the test instead of hanging.
RENDEZVOUS = """
    import time
    from pathlib import Path

    def meet(this, me, other):
        (this.root / f"{me}.flag").write_text("here")
        for _ in range(1000):
            if (this.root / f"{other}.flag").exists():
                return me
            time.sleep(0.01)
        raise TimeoutError(f"{me} never met {other}: tasks did not run in parallel")

    def task_left(this):
        this.logger.info("left is waiting")
        return meet(this, "left", "right")

    def task_right(this):
        return meet(this, "right", "left")

    def task_both(left, right):
        return left + "+" + right
"""


def test_independent_tasks_run_at_the_same_time(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("tasks_meet.py", RENDEZVOUS)
    data = p.run("--jobs", "2")
    assert statuses(data) == {
        "left": ("executed", "new"),
        "right": ("executed", "new"),
        "both": ("executed", "new"),
    }
    assert p.lp("show", "both").out.strip() == "left+right"
    assert "left is waiting" in p.read(".little_pipelines/logs/left.log")
    again = p.run("-j", "2")
    assert {s for s, _ in statuses(again).values()} == {"cached"}


def test_a_failure_in_a_worker_fails_alone(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write(
        "tasks_w.py",
        """
        def task_bad():
            return {}["missing"]

        def task_after(bad):
            return bad

        def task_lambda():
            return lambda: 1

        def task_fine():
            return 1
        """,
    )
    data = p.run("-j", "2", rc=1)
    got = {t["name"]: t for t in data["tasks"]}
    assert got["bad"]["status"] == "failed"
    assert got["bad"]["error"]["type"] == "KeyError"
    assert got["after"]["status"] == "upstream_failed"
    assert got["lambda"]["status"] == "failed"
    assert "task 'lambda' returned a function" in got["lambda"]["error"]["message"]
    assert got["fine"]["status"] == "executed"
    human = p.lp("run", "-j", "2")
    assert human.rc == 1
    assert "tasks_w.py" in human.err and 'return {}["missing"]' in human.err
    assert str(Path(little_pipelines.__file__).parent) not in human.err  # no frame of ours
    assert "little_pipelines/engine" not in human.err


def test_results_holding_project_classes_cross_to_workers(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write(
        "tasks_p.py",
        """
        from dataclasses import dataclass

        @dataclass
        class Point:
            x: int

        def task_p():
            return Point(1)
        """,
    )
    p.write("tasks_q.py", "def task_q(p):\n    return p.x + 1\n")
    p.run()
    p.lp("clean", "q")
    data = p.run("-j", "2")
    assert statuses(data) == {"p": ("cached", None), "q": ("executed", "new")}
    assert p.lp("show", "q").out.strip() == "2"


def test_a_worker_that_dies_fails_its_task_and_the_run_reports(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write(
        "tasks_d.py",
        """
        import os

        def task_die():
            os._exit(3)

        def task_after(die):
            return die

        def task_other():
            return 1
        """,
    )
    data = p.run("-j", "2", rc=1)
    got = statuses(data)
    assert got["die"][0] == "failed"
    assert got["after"][0] == "upstream_failed"
    die = next(t for t in data["tasks"] if t["name"] == "die")
    assert die["error"]["type"] == "WorkerDied"
    assert die["error"]["message"].startswith("task 'die' ended its worker process (exit code 3)")
    assert got["other"] == ("executed", "new")


QUICK = """
    import os
    import little_pipelines as lp

    @lp.task(inputs=["n.txt"])
    def task_count(this):
        return int((this.root / "n.txt").read_text())

    def task_where(count):
        return count, os.getpid()
"""


def test_a_task_known_to_be_quick_runs_in_lps_own_process(tmp_path: Path) -> None:
    """With -j, a task whose unchanged code ran in under 2 ms last time is not worth a round
    trip to a worker; a new task, or one whose code changed, still goes to one."""
    import os

    p = Project(tmp_path)  # `lp` runs in this process: its pid is ours
    p.write("n.txt", "1")
    p.write("tasks_quick.py", QUICK)
    first = p.run("-j", "2")
    assert statuses(first) == {"count": ("executed", "new"), "where": ("executed", "new")}
    assert p.lp("show", "where").out.strip() != f"(1, {os.getpid()})"  # new: in a worker
    p.write("n.txt", "2")
    second = p.run("-j", "2")
    assert statuses(second) == {
        "count": ("executed", "inputs"),
        "where": ("executed", "upstream"),
    }
    assert p.lp("show", "where").out.strip() == f"(2, {os.getpid()})"  # quick: here
    p.replace("tasks_quick.py", "return count, os.getpid()", "return count + 0, os.getpid()")
    third = p.run("-j", "2")
    assert statuses(third)["where"] == ("executed", "code")
    assert p.lp("show", "where").out.strip() != f"(2, {os.getpid()})"  # changed: a worker


def test_with_json_what_tasks_print_anywhere_goes_to_stderr(tmp_path: Path) -> None:
    # stdout carries one JSON object, whatever a task prints, in a worker or in a program
    p = Project(tmp_path, process=True)
    p.write(
        "tasks_p.py",
        "import os\n\n\ndef task_a():\n    print('hello from a')\n"
        "    os.system('echo from a shell')\n    return 1\n\n\n"
        "def task_b():\n    print('hello from b')\n    return 2\n",
    )
    for args in (("-j", "2", "-s"), ("-s",), ("-j", "2"), ()):
        p.lp("clean", "-q")
        result = p.lp("run", "--json", *args)
        assert json.loads(result.out)["counts"]["executed"] == 2, result.out
        if "-s" in args:  # let through: to stderr
            for line in ("hello from a", "from a shell", "hello from b"):
                assert line in result.err, (args, result.err)
        else:  # captured: into the task's log
            assert "hello from a" not in result.err
            assert "hello from a" in p.read(".little_pipelines/logs/a.log")
