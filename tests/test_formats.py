"""Result formats: pickle by default, Parquet for data frames, JSON on request, and your own.

A stored Parquet result is a Parquet file (its bytes are the format's own), its digest is
taken from those bytes (so an equal frame cuts its dependents off), `lp show` prints its
head and `lp.load` returns the frame; `store=` chooses; `lp.register_format` adds a format.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from e2e_helpers import Project, executed, statuses

import little_pipelines as lp
from little_pipelines.store import formats
from little_pipelines.store.cache import ResultCache


def stored(p: Project, name: str) -> tuple[str, bytes]:
    """A task's stored result as it is on disk: its format and bytes."""
    cache = ResultCache(p.state)
    try:
        entry = cache.entry(name)
        assert entry is not None
        return entry.extra.get("store", "pickle"), cache.load_bytes(name, entry)
    finally:
        cache.close()


JSON = """\
import little_pipelines as lp


@lp.task(store="json")
def task_settings():
    return {"rate": 0.5, "regions": ["east", "west"]}


def task_use(settings):
    return settings["regions"]
"""


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_json_result_is_json_on_disk_and_reads_back(tmp_path: Path, jobs: str) -> None:
    p = Project(tmp_path)
    p.write("tasks_s.py", JSON)
    assert executed(p.run("-j", jobs)) == {"settings", "use"}
    fmt, data = stored(p, "settings")
    assert fmt == "json"
    assert json.loads(data) == {"rate": 0.5, "regions": ["east", "west"]}
    assert p.lp("show", "use").out.strip() == "['east', 'west']"
    assert lp.load("settings", root=p.root) == {"rate": 0.5, "regions": ["east", "west"]}
    assert p.listing()["settings"]["store"] == "json"
    assert "its result is stored as json" in p.lp("why", "settings").out


def test_a_value_its_store_cannot_write_fails_its_task_saying_why(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write(
        "tasks_s.py",
        "import little_pipelines as lp\n\n\n"
        '@lp.task(store="json")\ndef task_a():\n    return {1, 2}\n\n\n'
        '@lp.task(store="parquet")\ndef task_b():\n    return [1]\n\n\n'
        "def task_c():\n    return 1\n",
    )
    data = p.run(rc=1)
    errors = {t["name"]: t["error"]["message"] for t in data["tasks"] if t["error"]}
    assert "store='json' cannot write a set" in errors["a"]
    assert "store='parquet' takes a pandas or polars DataFrame, not a list" in errors["b"]
    assert "c" not in errors
    p.replace("tasks_s.py", "def task_c():", '@lp.task(store="arrow")\ndef task_c():')
    result = p.lp("run")  # a format no one registered: before anything runs
    assert result.rc == 2
    assert "tasks_s.py:15: @lp.task store='arrow' is no format" in result.flat_err
    assert p.states()["c"] == ("stale", "code")  # nothing ran


@pytest.mark.parametrize(
    ("store", "says"), [("3", "store must name a format"), ('""', "store must name a format")]
)
def test_a_store_that_names_nothing_is_an_error_at_its_line(
    tmp_path: Path, store: str, says: str
) -> None:
    p = Project(tmp_path)
    source = f"import little_pipelines as lp\n\n\n@lp.task(store={store})\ndef task_a(): ...\n"
    p.write("tasks_s.py", source)
    result = p.lp("list")
    assert result.rc == 2
    assert f"tasks_s.py:4: @lp.task {says}" in result.flat_err


def test_literal_store_imports_nothing_and_another_imports_and_says_so(tmp_path: Path) -> None:
    p = Project(tmp_path)
    mark = "pathlib.Path(__file__).with_name('imports.log').open('a').write('imported\\n')\n"
    p.write("tasks_s.py", "import pathlib\n" + mark + JSON)
    assert "imported" not in p.lp("list", "-v").flat_err
    assert not p.exists("imports.log")
    p.replace("tasks_s.py", '@lp.task(store="json")', "@lp.task(store=FORMAT)")
    p.replace("tasks_s.py", "\n\n@lp.task", '\nFORMAT = "json"\n\n\n@lp.task')
    listing = p.lp("list", "-v", "--json")
    assert "the options of task_settings are not literals" in listing.err
    assert {t["name"]: t["store"] for t in listing.json["tasks"]}["settings"] == "json"
    assert p.exists("imports.log")


CUSTOM = """\
import little_pipelines as lp


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y


@lp.register_format
class PointFormat:
    name = "point"

    def dumps(self, value):
        return f"{value.x},{value.y}".encode()

    def loads(self, data):
        return Point(*map(int, data.decode().split(",")))


@lp.task(store="point")
def task_origin():
    return Point(1, 2)


def task_moved(origin):
    return (origin.x + 10, origin.y)
"""


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_registered_format_stores_its_type_everywhere(tmp_path: Path, jobs: str) -> None:
    p = Project(tmp_path, process=True)
    p.write("tasks_p.py", CUSTOM)
    assert executed(p.run("-j", jobs)) == {"origin", "moved"}
    assert stored(p, "origin") == ("point", b"1,2")
    p.replace("tasks_p.py", "return Point(1, 2)", "return Point(1, 2)  # the same point")
    p.replace("tasks_p.py", "def task_origin():", "def task_origin():\n    print('again')")
    got = statuses(p.run("-j", jobs))
    assert got == {"origin": ("executed", "code"), "moved": ("cached", None)}  # equal bytes
    p.replace("tasks_p.py", "(origin.x + 10, origin.y)", "(origin.x + 20, origin.y)")
    assert statuses(p.run("-j", jobs))["moved"] == ("executed", "code")  # read it back
    assert p.lp("show", "moved").out.strip() == "(21, 2)"


class Named:
    """A format class at the top of a module, named like one of lp's own."""

    name = "json"

    def dumps(self, value: Any) -> bytes:
        return b""

    def loads(self, data: bytes) -> Any:
        return None


def test_register_format_checks_what_it_is_given() -> None:
    with pytest.raises(TypeError, match="takes a format's class"):
        lp.register_format(Named())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'json' is lp's own format's name"):
        lp.register_format(Named)

    class Inner(Named):
        name = "inner"

    with pytest.raises(TypeError, match=r"define .*Inner at the top of a module"):
        lp.register_format(Inner)
    assert formats.dumps((1, 2), None) == ("pickle", formats.BUILTIN["pickle"].dumps((1, 2)))


TWO_FORMATS = """import little_pipelines as lp


@lp.register_format
class {cls}:
    name = "num"

    def dumps(self, value):
        return str(value).encode()

    def loads(self, data):
        return int(data)


@lp.task(store="num")
def task_{task}():
    return 1
"""


def test_two_classes_registered_under_one_name_are_an_error(tmp_path: Path) -> None:
    p = Project(tmp_path, process=True)
    p.write("tasks_a.py", TWO_FORMATS.format(cls="A", task="a"))
    p.write("tasks_b.py", TWO_FORMATS.format(cls="B", task="b"))
    result = p.lp("run")
    assert result.rc == 2
    assert "'num' is the name of " in result.flat_err
    assert "give B another name" in result.flat_err or "give A another name" in result.flat_err


def test_a_copied_project_reads_its_own_files(tmp_path: Path) -> None:
    """A copy of a project folder, cache included, does not trust the original's files."""
    p = Project(tmp_path / "one")
    p.write(
        "fmt.py", CUSTOM.split("\n\n\ndef task_origin")[0].replace('@lp.task(store="point")', "")
    )
    p.write(
        "tasks_c.py",
        "import little_pipelines as lp\nimport fmt\n\n\ndef task_a():\n    return 1\n\n\n"
        '@lp.task(store="point")\ndef task_p():\n    return fmt.Point(1, 2)\n\n\n'
        "def task_q(p):\n    return p.x\n",
    )
    p.run()
    for path in p.root.rglob("*"):  # settled stamps: the memo trusts them
        os.utime(path, (time.time() - 60, time.time() - 60))
    p.run()
    copy = p.copy(tmp_path / "two")
    copy.replace("tasks_c.py", "return 1", "return 2")
    old = 'Point(*map(int, data.decode().split(",")))'
    copy.replace("fmt.py", old, "Point(7, 7)")
    got = statuses(copy.run())
    assert got["a"] == ("executed", "code")
    assert got["p"] == ("executed", "code") and got["q"] == ("executed", "upstream")
    assert copy.lp("show", "q").out.strip() == "7"
    assert statuses(p.run()) == {
        "a": ("cached", None),
        "p": ("cached", None),
        "q": ("cached", None),
    }


FRAMES = """\
import little_pipelines as lp
import pandas as pd


def task_sales():
    return pd.DataFrame({"region": ["east", "west"] * 30, "amount": range(60)})


def task_total(sales):
    return int(sales["amount"].sum())


@lp.task(store="pickle")
def task_pickled(sales):
    return sales.head(2)
"""


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_pandas_frame_round_trips_through_parquet_and_is_cut_off_when_equal(
    tmp_path: Path, jobs: str
) -> None:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    p = Project(tmp_path, process=jobs == "2")  # (real processes, and in this one)
    p.write("tasks_f.py", FRAMES)
    assert executed(p.run("-j", jobs)) == {"sales", "total", "pickled"}
    fmt, data = stored(p, "sales")
    assert fmt == "parquet"
    assert data[:4] == data[-4:] == b"PAR1"  # a Parquet file, as other tools read it
    assert stored(p, "pickled")[0] == "pickle"
    frame = lp.load("sales", root=p.root)
    pd.testing.assert_frame_equal(
        frame, pd.DataFrame({"region": ["east", "west"] * 30, "amount": range(60)})
    )
    shown = p.lp("show", "sales").out
    assert "... the first 10 of 60 rows (2 columns); lp.load() gives the whole frame" in shown
    assert shown.count("east") == 5
    # the same frame made another way: its bytes are equal, so what reads it is cut off
    p.replace("tasks_f.py", '["east", "west"] * 30', '["east", "west"] * 15 * 2')
    assert statuses(p.run("-j", jobs)) == {
        "sales": ("executed", "code"),
        "total": ("cached", None),
        "pickled": ("cached", None),
    }
    p.replace("tasks_f.py", "range(60)", "range(1, 61)")
    assert statuses(p.run("-j", jobs))["total"] == ("executed", "upstream")
    assert p.lp("show", "total").out.strip() == "1830"
    assert "its result is stored as parquet" in p.lp("why", "sales").out


def test_a_polars_frame_is_stored_as_parquet_and_read_back_as_polars(tmp_path: Path) -> None:
    pl = pytest.importorskip("polars")
    p = Project(tmp_path)
    p.write(
        "tasks_f.py",
        "import polars as pl\n\n\ndef task_f():\n    return pl.DataFrame({'a': [1, 2]})\n\n\n"
        "def task_g(f):\n    return f['a'].sum()\n",
    )
    assert executed(p.run()) == {"f", "g"}
    fmt, data = stored(p, "f")
    assert fmt == "parquet/polars" and data[:4] == b"PAR1"
    assert lp.load("f", root=p.root).equals(pl.DataFrame({"a": [1, 2]}))
    assert p.lp("show", "g").out.strip() == "3"


def test_a_frame_parquet_cannot_hold_is_pickled_without_store(tmp_path: Path) -> None:
    pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    p = Project(tmp_path)
    p.write(
        "tasks_f.py",
        "import pandas as pd\n\n\ndef task_f():\n    return pd.DataFrame({'m': [1, 'a', 2.5]})\n",
    )
    p.run()
    assert stored(p, "f")[0] == "pickle"


def test_a_change_to_a_registered_formats_code_reruns_its_tasks(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("tasks_p.py", CUSTOM)
    p.run()
    old = 'Point(*map(int, data.decode().split(",")))'
    p.replace("tasks_p.py", old, 'Point(*(int(v) * 100 for v in data.decode().split(",")))')
    assert "the code of the format its result is stored in (PointFormat, in" in (
        p.lp("why", "origin").out
    )
    got = statuses(p.run())
    assert got == {"origin": ("executed", "code"), "moved": ("executed", "upstream")}
    assert p.lp("show", "moved").out.strip() == "(110, 200)"
    assert executed(p.run()) == set()


def test_a_frame_parquet_would_change_is_pickled_and_comes_back_as_it_was(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    p = Project(tmp_path)
    p.write(
        "tasks_f.py",
        "import pandas as pd\n\n\ndef task_f():\n"
        "    return pd.DataFrame({'o': pd.Series([1, None], dtype=object)})\n\n\n"
        "def task_g():\n    return pd.DataFrame({'n': [1.5, 2.5]}, index=[3, 7])\n",
    )
    p.run()
    assert stored(p, "f")[0] == "pickle"
    assert stored(p, "g")[0] == "parquet"
    frame = lp.load("f", root=p.root)
    assert frame["o"].dtype == object and list(frame["o"]) == [1, None]
    pd.testing.assert_frame_equal(
        lp.load("g", root=p.root), pd.DataFrame({"n": [1.5, 2.5]}, index=[3, 7])
    )


@pytest.mark.parametrize(
    "column",
    [
        "[decimal.Decimal('1.1'), decimal.Decimal('2.25')]",
        "[{'j': 3, 'k': 4}, {'k': 1, 'j': 2}]",
    ],
)
def test_objects_parquet_would_change_are_pickled(tmp_path: Path, column: str) -> None:
    pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    p = Project(tmp_path)
    p.write(
        "tasks_f.py",
        "import decimal\n\nimport pandas as pd\n\n\n"
        f"def task_f():\n    return pd.DataFrame({{'o': {column}}})\n",
    )
    p.run()
    assert stored(p, "f")[0] == "pickle"
    assert repr(list(lp.load("f", root=p.root)["o"])) == column.replace("decimal.", "")


def test_a_format_moved_to_another_module_may_take_its_name_again(tmp_path: Path) -> None:
    """As in `lp watch`: a class moved out of an edited module, now defined in another."""
    import importlib.util
    import sys

    source = TWO_FORMATS.format(cls="Moved", task="x").replace('"num"', '"moved"')

    def load(name: str) -> None:
        path = tmp_path / f"{name}.py"
        path.write_text(source)
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)

    try:
        load("lp_fmt_first")
        with pytest.raises(ValueError, match=r"'moved' is the name of lp_fmt_first\.Moved"):
            load("lp_fmt_second")
        del sys.modules["lp_fmt_first"].Moved  # imported again without it
        load("lp_fmt_second")
        assert type(formats.find("moved")).__module__ == "lp_fmt_second"
    finally:
        sys.modules.pop("lp_fmt_first", None)
        sys.modules.pop("lp_fmt_second", None)
        formats._registered.pop("moved", None)


SCALED = """\
import little_pipelines as lp


@lp.register_format
class Scaled:
    name = "scaled"

    def dumps(self, value):
        return str(value * {scale}).encode()

    def loads(self, data):
        return int(data) // {scale}


@lp.task(store="scaled")
def task_n():
    return 1
"""


def test_a_result_is_read_by_the_format_class_that_stored_it(tmp_path: Path) -> None:
    """One process, two projects with a format of one name: each result is read by its own."""
    import sys

    a, b = Project(tmp_path / "a"), Project(tmp_path / "b")
    a.write("tasks_a.py", SCALED.format(scale=1))
    b.write("tasks_b.py", SCALED.format(scale=1000))
    a.run()
    b.run()
    try:
        assert lp.load("n", root=b.root) == 1  # `scaled` is b's class in this process now
        assert lp.load("n", root=a.root) == 1  # read by a's, imported again to read it
    finally:
        formats._registered.pop("scaled", None)
        for name, module in list(sys.modules.items()):
            if str(getattr(module, "__file__", "") or "").startswith(str(tmp_path)):
                del sys.modules[name]
