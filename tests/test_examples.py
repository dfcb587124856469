"""The original README's examples, run verbatim as real scripts (SPEC section 1)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

EXAMPLE_1_TASKS = textwrap.dedent(
    """
    from time import sleep
    import little_pipelines as lp

    task1 = lp.Task("TaskOne")
    @task1.process
    def run(this):
        sleep(0.1)
        return 1

    task2 = lp.Task("TaskTwo")
    @task2.process
    def extract(this):
        sleep(1.5)
        return 1
    @task2.process
    def transform(this, ext: int):
        sleep(1)
        return ext + 1
    @task2.process
    def run(this):
        raw_data = this.extract()
        data = this.transform(raw_data)
        return data

    task3 = lp.Task("TaskThree", expire_results=lp.expire.on_complete("TaskThree"))
    @task3.process
    def run(this):
        sleep(.3)
        return 3

    sum_task = lp.Task("Sum", dependencies=["TaskOne", "TaskTwo", "TaskThree"])
    @sum_task.process
    def run(this):
        sleep(.25)
        r1 = this.pipeline.get_result("TaskOne")
        r2 = this.pipeline.get_result("TaskTwo")
        r3 = this.pipeline.get_result("TaskThree")
        return r1 + r2 + r3
    """
)

EXAMPLE_1_DRIVER = textwrap.dedent(
    """
    def run():
        pipeline = lp.Pipeline("Example1")
        pipeline.add(task1, task2, task3, sum_task)
        pipeline.execute()
        print("Final Result: ", pipeline.get_result("Sum"))  # 6
        return

    run()
    """
)

# Only the driver differs: it reports which tasks executed, and runs twice.
EXAMPLE_1_TWICE_DRIVER = textwrap.dedent(
    """
    def run():
        pipeline = lp.Pipeline("Example1")
        pipeline.add(task1, task2, task3, sum_task)
        report = pipeline.execute()
        print("Final Result: ", pipeline.get_result("Sum"))  # 6
        print([t.name for t in report.tasks if t.status == "executed"])
        return

    run()
    run()
    """
)

EXAMPLE_2_TASKS = textwrap.dedent(
    """
    import little_pipelines as lp

    zero = lp.Task("Zero")
    @zero.process
    def run(this):  # 'run' is a required decorated function
        return ["Some", "values"]

    one = lp.Task(name="One", dependencies=["Zero"])
    @one.process
    def preflight(this):  # Some optional process
        return "OK"
    @one.process
    def run(this):  # 'this' is a self-like reference to the Task instance
        status = this.preflight()
        data: list[str] = this.pipeline.get_result("Zero")
        data.extend(["more", "values", status])
        return data
    """
)

EXAMPLE_2_DRIVER = textwrap.dedent(
    """
    pipeline = lp.Pipeline("tests")
    pipeline.add(one, zero)  # Order doesn't matter
    pipeline.execute()
    print(pipeline.get_result("One"))  # ['Some', 'values', 'more', 'values', 'OK']
    """
)

EXAMPLE_2_LOOP_DRIVER = textwrap.dedent(
    """
    pipeline = lp.Pipeline("tests")
    pipeline.add(one, zero)  # Order doesn't matter
    for task in pipeline.tasks:
        task.run()
    print(pipeline.get_result("Zero")[:2])
    print(pipeline.get_result("One"))
    """
)

EXPECTED_2 = "['Some', 'values', 'more', 'values', 'OK']"


def run_example(tmp_path: Path, home: Path, name: str, source: str) -> str:
    """Write `source` to a file and run it as a script; returns its stdout."""
    ast.parse(source)  # a broken example must fail here, not as an odd subprocess error
    path = tmp_path / name
    path.write_text(source, encoding="utf-8")
    env = {**os.environ, "LITTLE_PIPELINES_HOME": str(home)}
    done = subprocess.run(
        [sys.executable, str(path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_example_1_prints_the_sum(tmp_path, lp_home):
    out = run_example(tmp_path, lp_home, "example1.py", EXAMPLE_1_TASKS + EXAMPLE_1_DRIVER)
    assert "Final Result:  6" in out
    assert (lp_home / "Example1").is_dir()
    assert {p.name for p in (lp_home / "Example1" / "logs").iterdir()} == {
        "TaskOne.log",
        "TaskTwo.log",
        "TaskThree.log",
        "Sum.log",
    }


def test_example_1_second_execute_reruns_only_the_on_complete_task(tmp_path, lp_home):
    out = run_example(tmp_path, lp_home, "example1.py", EXAMPLE_1_TASKS + EXAMPLE_1_TWICE_DRIVER)
    lines = out.strip().splitlines()
    assert len(lines) == 4
    assert lines[0] == lines[2] == "Final Result:  6"
    # first execute: everything is new (the order of independent tasks is not part of the contract)
    assert sorted(ast.literal_eval(lines[1])) == ["Sum", "TaskOne", "TaskThree", "TaskTwo"]
    assert ast.literal_eval(lines[1])[-1] == "Sum"
    # second execute: only the on_complete task; its result is unchanged, so Sum is cached
    assert lines[3] == "['TaskThree']"


AFTERWARDS = 'print(pipeline.get_result("Zero"))\n'


def test_example_2_prints_the_values(tmp_path, lp_home):
    source = EXAMPLE_2_TASKS + EXAMPLE_2_DRIVER + AFTERWARDS
    # `One` extended the list it got from get_result("Zero"): its own copy, as in the original
    expected = [EXPECTED_2, "['Some', 'values']"]
    assert run_example(tmp_path, lp_home, "example2.py", source).splitlines() == expected
    # and again, in a new process, over the existing cache
    assert run_example(tmp_path, lp_home, "example2.py", source).splitlines() == expected
    assert (lp_home / "tests" / "cache.db").is_file()
    assert {p.name for p in (lp_home / "tests" / "logs").iterdir()} == {"Zero.log", "One.log"}


def test_example_2_tasks_run_by_a_bare_loop(tmp_path, lp_home):
    source = EXAMPLE_2_TASKS + EXAMPLE_2_LOOP_DRIVER + AFTERWARDS
    out = run_example(tmp_path, lp_home, "loop.py", source)
    assert out.strip().splitlines() == ["['Some', 'values']", EXPECTED_2, "['Some', 'values']"]
