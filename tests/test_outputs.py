"""`@lp.task(outputs=[...])`: files a task writes, checked after it returns and on every run.

A deleted or hand-edited output reruns its task with reason `outputs`; a task whose inputs
name another task's output runs after it without naming it; two tasks writing one file is an
error naming both; `lp clean --outputs` deletes them.
"""

from __future__ import annotations

from pathlib import Path

from e2e_helpers import Project, executed, statuses

REPORT = """\
import pathlib

import little_pipelines as lp

ROOT = pathlib.Path(__file__).parent


def task_numbers():
    return [3, 1, 2]


@lp.task(outputs=["output/report.txt"])
def task_report(numbers):
    (ROOT / "output").mkdir(exist_ok=True)
    (ROOT / "output" / "report.txt").write_text(f"total {sum(numbers)}\\n")


@lp.task(inputs=["output/report.txt"])
def task_publish(this):
    return (this.root / "output" / "report.txt").read_text().upper()
"""


def test_a_missing_or_edited_output_reruns_its_task_with_reason_outputs(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("tasks_report.py", REPORT)
    assert executed(p.run()) == {"numbers", "report", "publish"}
    assert p.read("output/report.txt") == "total 6\n"
    assert executed(p.run()) == set()
    (p.root / "output" / "report.txt").unlink()
    assert statuses(p.run()) == {
        "numbers": ("cached", None),
        "report": ("executed", "outputs"),
        "publish": ("cached", None),  # the file came back as it was: early cutoff
    }
    p.write("output/report.txt", "total 99\n")  # edited by hand
    why = p.lp("why", "report")
    assert "'report' (tasks_report.py:13) would run: outputs" in why.out
    assert "changed since the task wrote it: output/report.txt" in why.out
    data = p.run()
    assert statuses(data)["report"] == ("executed", "outputs")
    assert statuses(data)["publish"] == ("cached", None)
    assert p.read("output/report.txt") == "total 6\n"


def test_inputs_naming_an_output_run_after_the_task_that_writes_it(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("tasks_report.py", REPORT)
    listed = p.listing()
    assert listed["publish"]["deps"] == ["report"]  # not a parameter, yet upstream
    assert listed["report"]["outputs"] == ["output/report.txt"]
    p.run("publish")  # its upstream, found through the file, runs first
    assert p.lp("show", "publish").out.strip() == "TOTAL 6"
    p.replace("tasks_report.py", 'f"total {sum(numbers)}', 'f"sum {sum(numbers)}')
    assert statuses(p.run("publish")) == {
        "numbers": ("cached", None),
        "report": ("executed", "code"),
        "publish": ("executed", "inputs"),
    }
    assert p.lp("show", "publish").out.strip() == "SUM 6"


def test_outputs_with_workers_reach_the_task_that_reads_them(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("tasks_report.py", REPORT)
    assert executed(p.run("-j", "2")) == {"numbers", "report", "publish"}
    assert p.lp("show", "publish").out.strip() == "TOTAL 6"


def test_a_task_that_does_not_write_its_output_fails_and_says_which(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write(
        "tasks_x.py",
        "import little_pipelines as lp\n\n\n@lp.task(outputs=['out/a.csv'])\n"
        "def task_a():\n    return 1\n\n\ndef task_b(a):\n    return a\n",
    )
    data = p.run(rc=1)
    assert statuses(data) == {"a": ("failed", "new"), "b": ("upstream_failed", None)}
    failure = next(t for t in data["tasks"] if t["name"] == "a")
    assert "task 'a' did not write its output out/a.csv" in failure["error"]["message"]
    assert p.listing()["a"]["state"] == "failed"


def test_two_tasks_writing_one_file_is_an_error_naming_both(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write(
        "tasks_x.py",
        "import little_pipelines as lp\n\n\n@lp.task(outputs='out/a.csv')\ndef task_a():\n"
        "    pass\n\n\n@lp.task(outputs=['out/../out/a.csv'])\ndef task_b():\n    pass\n",
    )
    result = p.lp("run")
    assert result.rc == 2
    assert "tasks_x.py:10: out/../out/a.csv is an output of task 'b' and of task 'a'" in (
        result.flat_err
    )
    assert "(tasks_x.py:5)" in result.flat_err


def test_an_output_is_a_file_not_a_pattern(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write(
        "tasks_x.py",
        "import little_pipelines as lp\n\n\n@lp.task(outputs=['out/*.csv'])\ndef task_a():\n"
        "    pass\n",
    )
    result = p.lp("list")
    assert result.rc == 2
    assert "tasks_x.py:4: @lp.task output 'out/*.csv' is not a file's path" in result.flat_err


def test_clean_outputs_deletes_them_and_the_next_run_writes_them_again(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("tasks_report.py", REPORT)
    p.run()
    kept = p.lp("clean", "numbers", "--outputs")
    assert kept.rc == 0 and "deleted 0 output file(s)" in kept.err
    cleaned = p.lp("clean", "--outputs")
    assert cleaned.rc == 0 and "deleted 1 output file(s)" in cleaned.err
    assert not p.exists("output/report.txt")
    assert executed(p.run()) == {"numbers", "report", "publish"}
    assert p.exists("output/report.txt")


def test_literal_outputs_import_nothing_and_others_import_and_say_so(tmp_path: Path) -> None:
    p = Project(tmp_path)
    mark = '\n(ROOT / "imports.log").open("a").write("imported\\n")'
    root = "ROOT = pathlib.Path(__file__).parent"
    marked = REPORT.replace(root, root + mark)
    p.write("tasks_report.py", marked)
    p.run()
    imported = p.read("imports.log").count("imported")
    p.write("output/report.txt", "hand edit\n")
    assert p.listing()["report"]["reason"] == "outputs"
    assert "imported" not in p.lp("list", "-v").flat_err
    assert p.read("imports.log").count("imported") == imported
    p.replace("tasks_report.py", 'outputs=["output/report.txt"]', "outputs=[REPORT_FILE]")
    p.replace(
        "tasks_report.py",
        "def task_numbers",
        'REPORT_FILE = "output/report.txt"\n\n\ndef task_numbers',
    )
    listing = p.lp("list", "-v")
    assert "the options of task_report are not literals" in listing.flat_err
    assert p.listing()["publish"]["deps"] == ["report"]


def test_a_task_whose_inputs_cover_its_own_output_is_fresh_after_it_runs(tmp_path: Path) -> None:
    """Its output is no input of its own: else every run would find its inputs changed."""
    p = Project(tmp_path)
    p.write("data/rows.csv", "a,b\n")
    p.write(
        "tasks_x.py",
        "import little_pipelines as lp\n\n\n"
        "@lp.task(inputs=['data'], outputs=['data/summary.txt'])\n"
        "def task_summary(this):\n"
        "    rows = (this.root / 'data' / 'rows.csv').read_text()\n"
        "    (this.root / 'data' / 'summary.txt').write_text(str(len(rows)))\n",
    )
    assert p.run()["counts"]["executed"] == 1
    assert p.run()["counts"]["executed"] == 0
    p.write("data/rows.csv", "a,b\nc,d\n")
    assert statuses(p.run()) == {"summary": ("executed", "inputs")}


def test_an_output_left_from_an_earlier_version_does_not_count_as_written(
    tmp_path: Path,
) -> None:
    """The task changed to write another file: the old one must not pass for its output."""
    p = Project(tmp_path)
    p.write("tasks_report.py", REPORT)
    p.run()
    p.replace("tasks_report.py", '/ "report.txt").write_text', '/ "other.txt").write_text')
    data = p.run(rc=1)
    assert statuses(data)["report"] == ("failed", "code")
    assert statuses(data)["publish"] == ("upstream_failed", None)
    failure = next(t for t in data["tasks"] if t["name"] == "report")["error"]["message"]
    assert "did not write its output output/report.txt in this run" in failure


def test_outputs_are_found_by_their_normal_path_and_clean_says_what_it_cannot_delete(
    tmp_path: Path,
) -> None:
    p = Project(tmp_path)
    p.write(
        "tasks_x.py",
        "import pathlib\n\nimport little_pipelines as lp\n\n\n"
        "@lp.task(outputs=['sub/../norm.txt', 'kept'])\ndef task_a(this):\n"
        "    (this.root / 'norm.txt').write_text('n')\n"
        "    (this.root / 'kept').mkdir(exist_ok=True)\n"
        "    (this.root / 'kept' / 'x').write_text('x')\n",
    )
    first = p.run(rc=1)  # 'kept' is a folder: no file the task wrote
    assert "did not write its output kept" in first["tasks"][0]["error"]["message"]
    p.replace("tasks_x.py", "'sub/../norm.txt', 'kept'", "'sub/../norm.txt'")
    assert statuses(p.run()) == {"a": ("executed", "new")}  # (its last run failed)
    p.replace("tasks_x.py", "outputs=['sub/../norm.txt']", "outputs=['sub/../norm.txt', 'kept']")
    cleaned = p.lp("clean", "--outputs")
    assert cleaned.rc == 0
    assert "could not delete kept" in cleaned.err and "deleted 1 output file(s)" in cleaned.err
    assert not p.exists("norm.txt")


def test_a_writer_named_as_a_parameter_too_is_one_dependency(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write(
        "tasks_report.py",
        REPORT.replace("def task_publish(this)", "def task_publish(report, this)"),
    )
    assert p.listing()["publish"]["deps"] == ["report"]
