"""Debugging a failed task as in pytest: `-l/--show-locals` and `--pdb`.

`--pdb` is driven through a pseudo-terminal: a real `lp` process stops at the debugger's
prompt in the failing task's frame, answers a question about a local, and goes on.
"""

from __future__ import annotations

from pathlib import Path

from e2e_helpers import Project, statuses
from pty_helpers import Terminal

BROKEN = """\
def task_rows():
    return [3, 1, 2]


def task_total(rows):
    limit = 5
    long_text = "x" * 500
    return check(sum(rows), limit)


def check(total, limit):
    if total > limit:
        raise ValueError(f"total {total} is over {limit}")
    return total


def task_fine():
    return "ok"
"""


def test_show_locals_puts_each_frames_locals_in_the_failure(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("tasks_x.py", BROKEN)
    plain = p.lp("run")
    assert plain.rc == 1 and "limit = 5" not in plain.err
    for args in (("-l",), ("--show-locals", "-j", "2")):
        shown = p.lp("run", *args)
        assert shown.rc == 1
        text = shown.err
        assert "rows      = [3, 1, 2]" in text  # task_total's frame, names aligned
        assert "limit     = 5" in text
        assert "long_text = 'xxxx" in text and "x" * 200 not in text  # cut short
        assert "total = 6" in text  # check's frame
        assert text.index("in task_total") < text.index("rows      =") < text.index("in check")


def test_pdb_stops_in_the_failing_frame_and_goes_on(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("tasks_x.py", BROKEN)
    term = Terminal("run", "--pdb", cwd=p.root, home=p.home)
    term.expect(r"\(Pdb\) ")
    assert "ValueError: total 6 is over 5" in term.text
    term.send(b"p total, limit\n")
    term.expect(r"\(6, 5\)")
    term.send(b"up\n")
    term.expect(r"task_total")
    term.send(b"p rows\n")
    term.expect(r"\[3, 1, 2\]")
    term.send(b"c\n")
    assert term.wait() == 1
    assert "2 executed, 0 cached, 1 failed" in term.text
    assert statuses(p.run(rc=1))["fine"] == ("cached", None)  # the run went on after it


def test_pdb_is_for_lps_own_process(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("tasks_x.py", BROKEN)
    for args in (("-j", "2"), ("--json",), ("--executor", "dask", "--address", "tcp://x:1")):
        refused = p.lp("run", "--pdb", *args)
        assert refused.rc == 2
        assert "--pdb stops in the debugger in lp's own process" in refused.flat_err
    p.write("pyproject.toml", "[tool.little_pipelines]\njobs = 2\n")
    p.write("tasks_x.py", BROKEN.replace("if total > limit", "if total > 10"))
    accepted = p.lp("run", "--pdb")  # the jobs setting gives way to it
    assert accepted.rc == 0 and "3 executed, 0 cached, 0 failed" in accepted.err
