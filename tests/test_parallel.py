"""`lp run --jobs N`: independent tasks in worker processes, same cache and output."""

from __future__ import annotations

from pathlib import Path

from e2e_helpers import Project, statuses

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
    assert p.lp("show", "both").out.strip() == "'left+right'"
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
    assert "little_pipelines/" not in human.err


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
