"""Odd but real projects: exits at import, damaged results, typos in options, imported files."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from e2e_helpers import Project, statuses


def test_a_tasks_file_that_exits_at_import_is_an_error_with_its_place(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("tasks_a.py", "import sys\n\nsys.exit(0)\n\ndef task_a():\n    return 1\n")
    result = p.lp("run", "--json")
    assert result.rc == 2
    data = result.json
    assert data["error"]["file"] == "tasks_a.py"
    assert data["error"]["line"] == 3
    assert "SystemExit" in data["error"]["message"]


def test_a_damaged_stored_result_names_the_task_and_the_fix(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("tasks_a.py", "def task_a():\n    return [1, 2]\n\ndef task_b(a):\n    return len(a)\n")
    p.run()
    with sqlite3.connect(p.root / ".little_pipelines" / "cache.db") as db:
        db.execute("UPDATE Cache SET value = ? WHERE key = ?", (b"garbage", "result:a"))
    assert p.states()["a"] == ("damaged result", "new")
    shown = p.lp("show", "a")
    assert shown.rc == 2
    assert "the stored result of 'a' is damaged" in shown.flat_err
    assert "lp run a" in shown.flat_err
    p.replace("tasks_a.py", "len(a)", "len(a) + 1")
    data = p.run()
    assert statuses(data) == {"a": ("executed", "new"), "b": ("executed", "code")}
    assert any("'a'" in w and "damaged" in w for w in data["warnings"])
    assert p.lp("show", "a").out.strip() == "[1, 2]"


def test_a_typo_in_a_task_option_is_an_error(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write(
        "tasks_a.py",
        """
        import little_pipelines as lp

        @lp.task(input=["data.csv"])
        def task_a():
            return 1
        """,
    )
    result = p.lp("list")
    assert result.rc == 2
    assert "tasks_a.py:3" in result.flat_err
    assert "has no option 'input' — did you mean 'inputs'?" in result.flat_err


def test_files_read_by_importing_still_follow_their_helpers(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("helpers.py", "def f():\n    return 1\n")
    p.write(
        "tasks_dyn.py",
        """
        import little_pipelines as lp
        from helpers import f

        INPUTS = ["data.csv"]

        @lp.task(inputs=INPUTS)
        def task_dyn():
            return f()
        """,
    )
    p.write("data.csv", "x\n")
    p.write(
        "sub/tasks_obj.py",
        """
        import little_pipelines as lp
        from helpers import f

        obj = lp.Task("obj", expire_results=lp.expire.never())

        @obj.process
        def run(this):
            return f() + 1
        """,
    )
    assert statuses(p.run()) == {"dyn": ("executed", "new"), "obj": ("executed", "new")}
    assert statuses(p.run()) == {"dyn": ("cached", None), "obj": ("cached", None)}
    p.replace("helpers.py", "return 1", "return 2")
    assert statuses(p.run()) == {"dyn": ("executed", "code"), "obj": ("executed", "code")}
