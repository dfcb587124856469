"""What static reading found is remembered across processes, and forgotten when files change.

A file whose stamp had settled (two seconds old) is compared by its stamp, a younger one by
its content (coarse file clocks); most tests age the project's files with os.utime so that
their stamps decide.
"""

from __future__ import annotations

import os
import sys
import textwrap
import time
from pathlib import Path

import pytest

from little_pipelines.engine.plan import decide
from little_pipelines.project.discovery import read_file
from little_pipelines.project.memo import ReadCache
from little_pipelines.project.project import Project


@pytest.fixture(autouse=True)
def own_modules(tmp_path):
    """These tests run projects in this process: keep each test's helper modules its own."""
    path = list(sys.path)
    yield
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if file and Path(file).is_relative_to(tmp_path):
            del sys.modules[name]
    sys.path[:] = path


def write(path: Path, text: str, age_s: float = 60) -> None:
    """Write a file and make it (and its folder) look `age_s` seconds old."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    age(path, age_s)
    age(path.parent, age_s)


def age(path: Path, age_s: float = 60) -> None:
    when = time.time() - age_s
    os.utime(path, (when, when))


def make_project(root: Path) -> None:
    """A project whose files, state folder included, have settled."""
    (root / ".little_pipelines").mkdir()
    write(root / "helpers.py", "RATE = 2\n\ndef scale(x):\n    return x * RATE\n")
    write(
        root / "tasks_main.py",
        """
        from helpers import scale

        def task_raw():
            return [1, 2]

        def task_scaled(raw):
            return [scale(x) for x in raw]
        """,
    )


def reasons(root: Path) -> dict[str, str | None]:
    project = Project(root)
    try:
        return {k: v and str(v) for k, v in decide(project.graph, project.cache).items()}
    finally:
        project.cache.close()


def test_reading_is_remembered_and_used(tmp_path):
    make_project(tmp_path)
    project = Project(tmp_path)
    project.run()
    assert project.cache.raw.get("discovery:tasks_main.py") is not None
    remembered = ReadCache(project.cache, tmp_path).get(tmp_path / "tasks_main.py")
    assert remembered is not None
    assert [t.name for t in remembered.tasks] == ["raw", "scaled"]
    fresh = read_file(project.index, tmp_path / "tasks_main.py", tmp_path)
    assert [t.code for t in remembered.tasks] == [t.code for t in fresh.tasks]
    project.cache.close()
    assert reasons(tmp_path) == {"raw": None, "scaled": None}


def test_a_helper_edit_is_seen_through_the_remembered_reading(tmp_path):
    make_project(tmp_path)
    Project(tmp_path).run()
    write(tmp_path / "helpers.py", "RATE = 3\n\ndef scale(x):\n    return x * RATE\n", age_s=30)
    assert reasons(tmp_path) == {"raw": None, "scaled": "code"}


def test_a_new_helper_module_in_the_root_invalidates(tmp_path):
    make_project(tmp_path)
    Project(tmp_path).run()
    # a new module shadowing nothing still changes the root folder: the reading is redone
    (tmp_path / "other.py").write_text("X = 1\n")
    project = Project(tmp_path)
    assert ReadCache(project.cache, tmp_path).get(tmp_path / "tasks_main.py") is None
    project.cache.close()


def test_a_file_just_written_is_remembered_by_its_content(tmp_path):
    make_project(tmp_path)
    tasks = tmp_path / "tasks_main.py"
    tasks.write_text("def task_raw():\n    return 1\n")  # now: its stamp proves nothing yet
    age(tmp_path)
    project = Project(tmp_path)
    project.run()
    memo = ReadCache(project.cache, tmp_path)
    remembered = memo.get(tasks)  # the same bytes: no need to parse them again
    assert remembered is not None and [t.name for t in remembered.tasks] == ["raw"]
    tasks.write_text("def task_raw():\n    return 2\n")  # same size, maybe the same mtime
    assert memo.get(tasks) is None
    project.cache.close()


def test_a_save_that_replaces_a_file_rereads_that_file_only(tmp_path):
    """Editors and `sed -i` write a new file and rename it over the old one: the folder
    changes too, but its importable names do not, so the other files' readings stand."""
    make_project(tmp_path)
    write(tmp_path / "tasks_other.py", "def task_other():\n    return 0\n")
    Project(tmp_path).run()
    fresh = tmp_path / "tasks_main.py.new"
    more = "\n\ndef task_more():\n    return 3\n"
    fresh.write_text((tmp_path / "tasks_main.py").read_text() + more)
    fresh.replace(tmp_path / "tasks_main.py")
    project = Project(tmp_path)
    memo = ReadCache(project.cache, tmp_path)
    assert memo.get(tmp_path / "tasks_other.py") is not None
    assert memo.get(tmp_path / "tasks_main.py") is None
    assert reasons(tmp_path) == {"raw": None, "scaled": None, "other": None, "more": "new"}
    project.cache.close()


def test_a_module_that_only_passes_a_name_through_is_watched_too(tmp_path):
    (tmp_path / ".little_pipelines").mkdir()
    write(tmp_path / "impl.py", "def f():\n    return 'impl'\n")
    write(tmp_path / "impl2.py", "def f():\n    return 'impl2'\n")
    write(tmp_path / "helpers.py", "from impl import f\n")
    write(tmp_path / "tasks_main.py", "from helpers import f\n\ndef task_a():\n    return f()\n")
    Project(tmp_path).run()
    write(tmp_path / "helpers.py", "from impl2 import f\n", age_s=30)
    assert reasons(tmp_path) == {"a": "code"}


def test_a_same_size_rewrite_with_its_old_mtime_is_seen(tmp_path):
    """`cp -p`, `rsync -t`, `os.utime`: a file's mtime can be put back; its ctime cannot."""
    make_project(tmp_path)
    Project(tmp_path).run()
    helpers = tmp_path / "helpers.py"
    st = os.stat(helpers)
    helpers.write_text(helpers.read_text().replace("RATE = 2", "RATE = 5"))  # same size
    os.utime(helpers, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert os.stat(helpers).st_size == st.st_size
    assert reasons(tmp_path) == {"raw": None, "scaled": "code"}


def test_a_remembered_reading_gives_back_instances_and_options_as_read(tmp_path):
    (tmp_path / ".little_pipelines").mkdir()
    write(
        tmp_path / "tasks_p.py",
        """
        import little_pipelines as lp

        @lp.task.parametrize("r", ["east", ("w", 2)])
        @lp.task(inputs=["data/{r}.csv"], store="json")
        def task_clean(r):
            return str(r)

        def task_all(clean):
            return clean
        """,
    )
    project = Project(tmp_path)
    project.run()
    fresh = read_file(project.index, tmp_path / "tasks_p.py", tmp_path)
    remembered = ReadCache(project.cache, tmp_path).get(tmp_path / "tasks_p.py")
    assert remembered is not None
    fields = [f for f in fresh.tasks[0].__dataclass_fields__ if f not in ("live", "marked_code")]
    for kept, read in zip(remembered.tasks, fresh.tasks, strict=True):
        assert {f: getattr(kept, f) for f in fields} == {f: getattr(read, f) for f in fields}
    assert [t.name for t in remembered.tasks] == ["clean[east]", "clean[r1]", "all"]
    project.cache.close()
    assert reasons(tmp_path) == {"clean[east]": None, "clean[r1]": None, "all": None}


@pytest.mark.parametrize(("field", "value"), [("reader", "0.0.1/1"), ("root", "/elsewhere")])
def test_a_reading_by_another_version_or_for_another_root_is_not_used(tmp_path, field, value):
    make_project(tmp_path)
    project = Project(tmp_path)
    project.run()
    key = "discovery:tasks_main.py"
    memo = project.cache.get_data(key)
    assert ReadCache(project.cache, tmp_path).get(tmp_path / "tasks_main.py") is not None
    project.cache.put_data(key, {**memo, field: value})
    assert ReadCache(project.cache, tmp_path).get(tmp_path / "tasks_main.py") is None
    project.cache.close()
