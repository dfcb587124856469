"""The file-convention runner (SPEC 3) end to end: root, discovery, tasks, options, imports.

Projects are written into tmp_path and read back through the real `lp` command.
"""

from __future__ import annotations

import json
from pathlib import Path

from e2e_helpers import Project, executed, statuses

ONE = "def task_{name}():\n    return {value!r}\n"


def one(name: str, value: object = 1) -> str:
    return ONE.format(name=name, value=value)


# root and name ----------------------------------------------------------------------------------


def test_root_is_found_upward_from_a_subfolder(tmp_path: Path) -> None:
    p = Project(tmp_path, "shop")
    p.write("pyproject.toml", '[project]\nname = "x"\n\n[tool.little_pipelines]\nname = "sales"\n')
    p.write("tasks_top.py", one("top"))
    p.write("pipelines/deep/tasks_deep.py", one("deep"))
    (p.root / "pipelines/deep/empty").mkdir()
    data = p.run(cwd=p.root / "pipelines/deep/empty")
    assert data["root"] == str(p.root.resolve())
    assert data["pipeline"] == "sales"
    assert executed(data) == {"top", "deep"}
    files = {t["name"]: t["file"] for t in data["tasks"]}
    assert files == {"top": "tasks_top.py", "deep": "pipelines/deep/tasks_deep.py"}
    assert (p.state / "cache.db").exists()
    assert not (p.root / "pipelines/deep/empty/.little_pipelines").exists()


def test_pyproject_without_the_table_is_not_a_root(tmp_path: Path) -> None:
    outer = Project(tmp_path, "outer")
    outer.write("pyproject.toml", '[project]\nname = "outer"\n')
    outer.write("tasks_outer.py", one("outer"))
    outer.write("inner/tasks_inner.py", one("inner"))
    data = outer.run(cwd=outer.root / "inner")
    assert data["root"] == str((outer.root / "inner").resolve())
    assert data["pipeline"] == "inner"  # the folder's name
    assert executed(data) == {"inner"}


def test_root_option(tmp_path: Path) -> None:
    p = Project(tmp_path, "proj")
    p.write("tasks_a.py", one("a"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for args in (("run", "--json", "--root", str(p.root)), ("run", "--json", "-C", "../proj")):
        result = p.lp(*args, cwd=elsewhere)
        assert result.rc == 0, str(result)
        assert result.json["root"] == str(p.root.resolve())
        assert result.json["pipeline"] == "proj"
    result = p.lp("-C", str(p.root), "list", "--json", cwd=elsewhere)
    assert [t["name"] for t in result.json["tasks"]] == ["a"]
    assert not (elsewhere / ".little_pipelines").exists()


# discovery --------------------------------------------------------------------------------------

POISON = """\
raise RuntimeError("a skipped tasks file was imported")


def task_{name}():
    return 1
"""


def test_discovery_recurses_and_skips_ignored_folders(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("pyproject.toml", '[tool.little_pipelines]\nexclude = ["scratch/*", "tasks_wip*.py"]\n')
    p.write("tasks_top.py", one("top"))
    p.write("a/b/c/tasks_deep.py", one("deep"))
    p.write("a/not_a_tasks_file.py", one("not_discovered"))
    p.write("a/task_singular.py", one("singular"))
    skipped = {
        ".hidden/tasks_h.py": "hidden",
        "a/.cache/tasks_h2.py": "hidden2",
        "__pycache__/tasks_p.py": "pycache",
        "node_modules/pkg/tasks_n.py": "node",
        "lib/site-packages/tasks_s.py": "sitepkg",
        "build/tasks_b.py": "build",
        "a/dist/tasks_d.py": "dist",
        "env/tasks_v.py": "venv",
        "env/lib/tasks_v2.py": "venv2",
        "scratch/tasks_x.py": "scratch",
        "scratch/deeper/tasks_y.py": "scratch2",
        "a/tasks_wip_draft.py": "wip",
    }
    p.write("env/pyvenv.cfg", "home = /usr/bin\n")
    for rel, name in skipped.items():
        p.write(rel, POISON.format(name=name))
    p.write("build/more/tasks_broken.py", "def task_x(:\n")  # not even parsed
    rows = p.listing()
    assert sorted(rows) == ["deep", "top"]
    assert rows["deep"]["file"] == "a/b/c/tasks_deep.py"
    data = p.run()
    assert executed(data) == {"deep", "top"}


def test_paths_setting_limits_the_search(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("pyproject.toml", '[tool.little_pipelines]\npaths = ["pipelines", "more"]\n')
    p.write("tasks_root.py", one("at_root"))
    p.write("pipelines/tasks_p.py", "import helpers\n\ndef task_p():\n    return helpers.X\n")
    p.write("more/sub/tasks_m.py", one("m"))
    p.write("helpers.py", "X = 5\n")
    data = p.run()
    assert statuses(data) == {"p": ("executed", "new"), "m": ("executed", "new")}
    assert {t["file"] for t in data["tasks"]} == {"pipelines/tasks_p.py", "more/sub/tasks_m.py"}
    p.write("helpers.py", "X = 6\n")
    assert statuses(p.run()) == {"p": ("executed", "code"), "m": ("cached", None)}


def test_cache_dir_and_jobs_settings(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("pyproject.toml", '[tool.little_pipelines]\ncache_dir = "state/lp"\njobs = 2\n')
    p.write(
        "tasks_a.py",
        """
        def task_a(this):
            this.logger.info("logged")
            return 1
        """,
    )
    assert executed(p.run()) == {"a"}
    assert not p.state.exists()
    assert "logged" in (p.root / "state/lp/logs/a.log").read_text()
    assert executed(p.run()) == set()


def test_duplicate_task_names_across_files(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("tasks_a.py", "X = 1\n\n\ndef task_load():\n    return 1\n")
    p.write("sub/tasks_b.py", "def task_load():\n    return 2\n")
    result = p.lp("run")
    assert result.rc == 2, str(result)
    assert "'load'" in result.flat_err
    assert "tasks_a.py:4" in result.flat_err and "sub/tasks_b.py:1" in result.flat_err
    assert p.lp("list").rc == 2


def test_same_file_names_in_two_folders_do_not_collide(tmp_path: Path) -> None:
    p = Project(tmp_path)
    for folder in ("north", "south"):
        p.write(
            f"{folder}/tasks_load.py",
            f"""
            SOURCE = "{folder}"

            def _read():
                return SOURCE

            def task_load_{folder}():
                return _read()
            """,
        )
    p.write(
        "tasks_both.py",
        "def task_both(load_north, load_south):\n    return [load_north, load_south]\n",
    )
    data = p.run()
    assert executed(data) == {"load_north", "load_south", "both"}
    assert p.lp("show", "both").out.strip() == "['north', 'south']"
    p.replace("south/tasks_load.py", 'SOURCE = "south"', 'SOURCE = "SOUTH"')
    assert executed(p.run()) == {"load_south", "both"}


# tasks and dependencies -------------------------------------------------------------------------


def test_parameters_name_upstream_tasks_and_defaults_are_kept(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write(
        "tasks_d.py",
        """
        def task_orders():
            return [3, 4]

        def task_total(orders, factor=10, orders_override=None):
            return sum(orders) * factor

        def task_label(total, orders=None):
            return f"{total} from {orders}"
        """,
    )
    data = p.run()
    assert data["tasks"][0]["name"] == "orders"
    listed, total, label = p.lp_many(("list", "--json"), ("show", "total"), ("show", "label"))
    rows = {row["name"]: row for row in listed.json["tasks"]}
    assert rows["total"]["deps"] == ["orders"]
    assert sorted(rows["label"]["deps"]) == ["orders", "total"]  # a default naming a task
    assert total.out.strip() == "70"
    assert label.out.strip() == "70 from [3, 4]"


def test_this_gives_name_logger_and_root(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write(
        "sub/tasks_this.py",
        """
        import json

        def task_me(this):
            this.logger.info("hello from {}", this.name)
            this.logger.warning("careful")
            (this.root / "me.json").write_text(json.dumps([this.name, str(this.root)]))
            return 1

        def task_you(me, this):
            return this.name
        """,
    )
    data = p.run()
    assert statuses(data) == {"me": ("executed", "new"), "you": ("executed", "new")}
    assert json.loads(p.read("me.json")) == ["me", str(p.root.resolve())]
    log = (p.state / "logs" / "me.log").read_text()
    assert "hello from me" in log and "careful" in log
    assert not (p.state / "logs" / "you.log").exists()  # a task that never logs has no file
    shown, listed = p.lp_many(("show", "you"), ("list", "--json"))
    assert shown.out.strip() == "you"
    assert listed.json["tasks"][1]["deps"] == ["me"]


def test_task_decorator_forms(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("data/a.txt", "a")
    p.write(
        "tasks_opts.py",
        """
        import little_pipelines as lp
        from little_pipelines import task

        @lp.task
        def task_bare():
            return 1

        @task(cache=False)
        def task_imported_name():
            return 2

        @lp.task(inputs="data/a.txt", expire=lp.expire.never())
        def task_single_input(this):
            return (this.root / "data/a.txt").read_text()
        """,
    )
    assert executed(p.run()) == {"bare", "imported_name", "single_input"}
    assert statuses(p.run()) == {
        "bare": ("cached", None),
        "imported_name": ("executed", "always"),
        "single_input": ("cached", None),
    }
    (p.root / "data/a.txt").write_text("b")
    assert statuses(p.run())["single_input"] == ("executed", "inputs")


def test_options_that_are_not_literals_still_work(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("data/a.txt", "a")
    p.write(
        "tasks_dyn.py",
        """
        import little_pipelines as lp

        INPUTS = ["data/a.txt"]

        @lp.task(inputs=INPUTS)
        def task_reader(this):
            return (this.root / "data/a.txt").read_text()
        """,
    )
    assert executed(p.run()) == {"reader"}
    assert executed(p.run()) == set()
    (p.root / "data/a.txt").write_text("b")
    assert statuses(p.run()) == {"reader": ("executed", "inputs")}


def test_tasks_files_import_project_modules(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("mylib/__init__.py", "")
    p.write("mylib/util.py", "def shout(s):\n    return s.upper()\n")
    p.write("helpers.py", "def task_not_a_task():\n    return 0\n\nGREETING = 'hi'\n")
    p.write(
        "pipelines/tasks_greet.py",
        """
        from helpers import GREETING, task_not_a_task
        from mylib.util import shout

        def task_greet():
            return shout(GREETING)
        """,
    )
    data = p.run()
    # an imported task_ function is not a task of the importing file
    assert statuses(data) == {"greet": ("executed", "new")}
    assert p.lp("show", "greet").out.strip() == "HI"
    p.replace("mylib/util.py", "s.upper()", "s.upper() + '!'")
    assert statuses(p.run()) == {"greet": ("executed", "code")}


def test_task_objects_join_the_graph(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write(
        "tasks_mixed.py",
        """
        import little_pipelines as lp

        raw = lp.Task("raw", expire_results=lp.expire.never())

        @raw.process
        def run(this):
            return [1, 2, 3]


        def task_total(raw):
            return sum(raw)


        summary = lp.Task("summary", dependencies=["total"], expire_results=lp.expire.never())

        @summary.process
        def run(this):
            return f"total={this.pipeline.get_result('total')}"
        """,
    )
    data = p.run()
    assert statuses(data) == {
        "raw": ("executed", "new"),
        "total": ("executed", "new"),
        "summary": ("executed", "new"),
    }
    names = [t["name"] for t in data["tasks"]]
    assert names == ["raw", "total", "summary"]
    assert all(t["file"] == "tasks_mixed.py" for t in data["tasks"])
    assert executed(p.run()) == set()
    total, summary, listed = p.lp_many(("show", "total"), ("show", "summary"), ("list", "--json"))
    assert total.out.strip() == "6"
    assert summary.out.strip() == "total=6"
    rows = {row["name"]: row for row in listed.json["tasks"]}
    assert rows["total"]["deps"] == ["raw"]
    assert rows["summary"]["deps"] == ["total"]


def test_task_object_with_default_expiry_reruns_each_session(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write(
        "tasks_obj.py",
        """
        import little_pipelines as lp

        raw = lp.Task("raw")

        @raw.process
        def run(this):
            return 1

        def task_after(raw):
            return raw + 1
        """,
    )
    p.run()
    assert statuses(p.run()) == {"raw": ("executed", "expired"), "after": ("cached", None)}
