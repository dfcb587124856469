"""`@lp.task.parametrize(...)`: one function, many tasks, each cached and invalidated alone.

The instances are `name[id]`; a downstream parameter named like the function receives
`{id: result}`, one named like an instance's id that instance's result; `lp run name` runs
every instance; literal marks are read without importing, others by importing (and `-v`
says so).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e_helpers import Project, executed, statuses

REGIONS = """\
import little_pipelines as lp


def task_rates():
    return {"east": 2, "west": 3, "north": 5}


@lp.task.parametrize("region", ["east", "west", "north"])
@lp.task(inputs=["data/{region}.csv"])
def task_clean(rates, region, this):
    rows = (this.root / "data" / f"{region}.csv").read_text().split()
    return sum(int(r) for r in rows) * rates[region]


def task_total(clean):
    return {"sum": sum(clean.values()), "ids": sorted(clean)}


def task_east_report(east):
    return f"east: {east}"
"""


def regions(tmp_path: Path, *, process: bool = False) -> Project:
    p = Project(tmp_path, process=process)
    p.write("tasks_regions.py", REGIONS)
    for region, rows in (("east", "1 2"), ("west", "10"), ("north", "100")):
        p.write(f"data/{region}.csv", rows + "\n")
    return p


def test_instances_run_cache_and_invalidate_alone(tmp_path: Path) -> None:
    p = regions(tmp_path, process=True)  # real `lp` processes
    first = p.run()
    assert executed(first) == {
        "rates", "clean[east]", "clean[west]", "clean[north]", "total", "east_report",
    }  # fmt: skip
    assert p.lp("show", "total").out.strip() == "{'sum': 536, 'ids': ['east', 'north', 'west']}"
    assert p.lp("show", "east_report").out.strip() == "east: 6"
    assert executed(p.run()) == set()
    p.write("data/west.csv", "10\n20\n")  # one region's input: that instance and the aggregate
    assert statuses(p.run()) == {
        "rates": ("cached", None),
        "clean[east]": ("cached", None),
        "clean[west]": ("executed", "inputs"),
        "clean[north]": ("cached", None),
        "total": ("executed", "upstream"),
        "east_report": ("cached", None),
    }
    assert p.lp("show", "total").out.strip() == "{'sum': 596, 'ids': ['east', 'north', 'west']}"


def test_a_new_value_runs_only_its_instance_and_what_reads_them_all(tmp_path: Path) -> None:
    p = regions(tmp_path)
    p.run()
    p.replace("tasks_regions.py", '"north"]', '"north", "south"]')
    p.replace("tasks_regions.py", '"north": 5}', '"north": 5, "south": 7}')
    p.write("data/south.csv", "1\n")
    got = statuses(p.run())
    assert got["clean[south]"] == ("executed", "new")
    assert got["rates"] == ("executed", "code")
    # rates' result changed, so every instance that reads it runs; the code of clean did not
    assert {got[f"clean[{r}]"][1] for r in ("east", "west", "north")} == {"upstream"}
    p.replace("tasks_regions.py", '"north", "south"]', '"north", "south", "west2"]')
    p.replace("tasks_regions.py", '"south": 7}', '"south": 7, "west2": 1}')
    p.write("data/west2.csv", "1\n")
    p.run()
    p.replace("tasks_regions.py", ', "west2"]', "]")  # a value dropped: its task goes
    assert "clean[west2]" not in p.listing()
    why = p.lp("why", "total").out
    assert "no longer upstream of it: clean[west2]" in why
    assert executed(p.run()) == {"total"}


def test_editing_the_function_reruns_every_instance(tmp_path: Path) -> None:
    p = regions(tmp_path)
    p.run()
    p.replace("tasks_regions.py", "* rates[region]", "* rates[region] * 2")
    got = statuses(p.run())
    assert {got[f"clean[{r}]"] for r in ("east", "west", "north")} == {("executed", "code")}


def test_a_function_name_runs_all_its_instances_and_one_instance_runs_alone(
    tmp_path: Path,
) -> None:
    p = regions(tmp_path)
    assert executed(p.run("clean")) == {"rates", "clean[east]", "clean[west]", "clean[north]"}
    assert executed(p.run("clean[east]", "--force")) == {"rates", "clean[east]"}
    why = p.lp("why", "clean[west]")
    assert why.rc == 0
    assert "'clean[west]' (tasks_regions.py:10) is fresh" in why.out
    assert "parametrized: region='west' (one of the 3 tasks of 'clean')" in why.out
    shown = p.lp("show", "clean")
    assert shown.rc == 2
    assert "'clean' is parametrized: name one of its 3 tasks" in shown.flat_err


def test_selection_graph_and_list_know_instances(tmp_path: Path) -> None:
    p = regions(tmp_path)
    assert executed(p.run("-k", "clean and not east")) == {"rates", "clean[west]", "clean[north]"}
    assert executed(p.run("-k", "east")) == {"clean[east]", "east_report"}
    listed = p.listing()
    assert listed["total"]["deps"] == ["clean[east]", "clean[west]", "clean[north]"]
    assert listed["east_report"]["deps"] == ["clean[east]"]
    assert listed["clean[north]"]["group"] == "clean"
    assert listed["clean[north]"]["values"] == "region='north'"
    assert listed["total"]["group"] is None
    graph = p.lp("graph").out
    assert "total [never run]  <- clean[east], clean[west], clean[north]" in graph


STACKED = """\
import little_pipelines as lp


@lp.task.parametrize("year", [2023, 2024])
@lp.task.parametrize("kind, scale", [("a", 1), ("b", 2)], ids=["alpha", None])
def task_combo(kind, scale, year):
    return f"{kind}{scale * year}"


def task_all(combo):
    return combo
"""


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_stacked_marks_make_every_combination_with_pytests_ids(tmp_path: Path, jobs: str) -> None:
    p = Project(tmp_path)
    p.write("tasks_combo.py", STACKED)
    ran = executed(p.run("-j", jobs))
    assert ran == {
        "combo[alpha-2023]", "combo[alpha-2024]", "combo[b-2-2023]", "combo[b-2-2024]", "all",
    }  # fmt: skip
    assert p.lp("show", "all").out.strip() == (
        "{'alpha-2023': 'a2023', 'alpha-2024': 'a2024', 'b-2-2023': 'b4046', 'b-2-2024': 'b4048'}"
    )


def test_marks_that_are_not_literals_are_read_by_importing_and_v_says_so(
    tmp_path: Path,
) -> None:
    p = Project(tmp_path)
    mark = "pathlib.Path(__file__).with_name('imports.log').open('a').write('imported\\n')\n"
    p.write("tasks_combo.py", "import pathlib\n" + mark + STACKED)
    listing = p.lp("list", "-v")
    assert listing.rc == 0
    assert "imported" not in listing.flat_err
    assert not p.exists("imports.log")  # literal marks: nothing imported
    p.replace("tasks_combo.py", "[2023, 2024]", "YEARS")
    years = "\nYEARS = range(2023, 2026)\n\n\n@lp.task.parametrize"
    p.replace("tasks_combo.py", "\n\n@lp.task.parametrize", years)
    listing = p.lp("list", "-v", "--json")
    assert "the parametrize values of task_combo are not literals" in listing.err
    p.run()
    names = [t["name"] for t in listing.json["tasks"]]
    assert "combo[alpha-2025]" in names
    assert p.exists("imports.log")
    assert "b4050" in p.lp("show", "combo[b-2-2025]").out


@pytest.mark.parametrize(
    ("mark", "says"),
    [
        ('"region", []', "has no values: it would make no task"),
        ('"place", ["a"]', "names 'place', which is not a parameter of the function"),
        ('"region", ["a", "b"], ids=["x"]', "has 2 rows of values but 1 ids"),
        ('"region", ["a"], ids=["a/b"]', "id 'a/b' is not a usable id"),
        ('"region, rates", ["a"]', "needs a row of 2 values for each task, not 'a'"),
        ('"region", ["a"], idz=["x"]', "has no option 'idz' (names, values, ids)"),
        ('"region", {"a", "b"}', "not a set (a set's order changes from one process"),
    ],
)
def test_a_wrong_mark_is_an_error_naming_the_file_and_line(
    tmp_path: Path, mark: str, says: str
) -> None:
    p = Project(tmp_path)
    p.write(
        "tasks_t.py",
        "import little_pipelines as lp\n\n\n"
        f"@lp.task.parametrize({mark})\ndef task_clean(region, rates=None):\n    pass\n",
    )
    result = p.lp("list")
    assert result.rc == 2, result
    assert "tasks_t.py:4" in result.flat_err
    assert says in result.flat_err


def test_an_input_naming_no_parametrized_name_is_an_error(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write(
        "tasks_t.py",
        "import little_pipelines as lp\n\n\n"
        '@lp.task.parametrize("r", ["a"])\n@lp.task(inputs=["data/{region}.csv"])\n'
        "def task_clean(r):\n    pass\n",
    )
    result = p.lp("list")
    assert result.rc == 2
    assert "tasks_t.py:4: task 'clean': 'data/{region}.csv' names {region}, which is not a" in (
        result.flat_err
    )


def test_an_id_shared_by_two_functions_is_no_parameter_and_a_clash_is_an_error(
    tmp_path: Path,
) -> None:
    p = Project(tmp_path)
    p.write(
        "tasks_t.py",
        """\
        import little_pipelines as lp


        @lp.task.parametrize("x", ["east", "west"])
        def task_a(x):
            return x


        @lp.task.parametrize("x", ["east"])
        def task_b(x):
            return x


        def task_report(east):
            return east
        """,
    )
    result = p.lp("list")
    assert result.rc == 2
    assert "parameter 'east' of task 'report' is the id of several parametrized tasks" in (
        result.flat_err
    )
    p.replace("tasks_t.py", "def task_report(east)", "def task_a(east)")
    result = p.lp("list")
    assert result.rc == 2
    assert "'a'" in result.flat_err and "tasks_t.py" in result.flat_err


def test_duplicate_ids_get_pytests_suffixes(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write(
        "tasks_t.py",
        "import little_pipelines as lp\n\n\n"
        '@lp.task.parametrize("x", ["a", "a", 1, 1, (1, 2)])\ndef task_f(x):\n    return x\n',
    )
    assert list(p.listing()) == ["f[a0]", "f[a1]", "f[1_0]", "f[1_1]", "f[x4]"]
    p.run()
    assert p.lp("show", "f[x4]").out.strip() == "(1, 2)"


def test_watch_reruns_the_instance_whose_input_was_saved(tmp_path: Path) -> None:
    from test_watch import WatchProcess, write

    p = regions(tmp_path)
    watching = WatchProcess(p.root)
    try:
        first = watching.next_run()
        assert len(first["tasks"]) == 6
        write(p.root / "data" / "north.csv", "100\n1\n")
        run = watching.until(lambda r: r["trigger"] == ["data/north.csv"])
        ran = {
            t["name"]: (t["status"], t["reason"]) for t in run["tasks"] if t["status"] != "cached"
        }
        assert ran == {"clean[north]": ("executed", "inputs"), "total": ("executed", "upstream")}
        assert watching.stop() == 0
    finally:
        if watching.proc.poll() is None:
            watching.proc.kill()


def test_instances_run_on_a_dask_cluster(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    p = regions(tmp_path)
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        data = p.run("--executor", "dask", "--address", cluster.scheduler_address)
    assert len(executed(data)) == 6
    assert p.lp("show", "total").out.strip() == "{'sum': 536, 'ids': ['east', 'north', 'west']}"


def test_function_values_count_by_the_code_they_reach(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write(
        "helpers.py", "def double(v):\n    return v * 2\n\n\ndef triple(v):\n    return v * 3\n"
    )
    p.write(
        "tasks_f.py",
        "import little_pipelines as lp\nfrom helpers import double, triple\n\n\n"
        '@lp.task.parametrize("op", [double, triple])\ndef task_apply(op):\n    return op(10)\n',
    )
    assert executed(p.run()) == {"apply[double]", "apply[triple]"}
    p.replace("helpers.py", "v * 2", "v * 200")
    got = statuses(p.run())
    assert got["apply[double]"] == ("executed", "code")
    assert p.lp("show", "apply[double]").out.strip() == "2000"


def test_reordered_values_rerun_what_reads_them_all_in_their_new_order(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write(
        "tasks_o.py",
        "import little_pipelines as lp\n\n\n"
        '@lp.task.parametrize("r", ["east", "west"])\ndef task_reg(r):\n    return r\n\n\n'
        "def task_first(reg):\n    return list(reg)\n",
    )
    p.run()
    p.replace("tasks_o.py", '["east", "west"]', '["west", "east"]')
    assert "its upstream tasks come in another order now" in p.lp("why", "first").out
    got = statuses(p.run())
    assert got["first"] == ("executed", "upstream")
    assert got["reg[east]"] == got["reg[west]"] == ("cached", None)
    assert p.lp("show", "first").out.strip() == "['west', 'east']"


def test_each_instance_gets_its_own_copy_of_a_mutable_value(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write(
        "tasks_m.py",
        "import little_pipelines as lp\n\n\n"
        '@lp.task.parametrize("seen", [[]], ids=["s"])\n'
        '@lp.task.parametrize("k", ["a", "b"])\n'
        "def task_c(seen, k):\n    seen.append(k)\n    return list(seen)\n",
    )
    p.run()
    assert p.lp("show", "c[b-s]").out.strip() == "['b']"
    assert p.lp("show", "c[a-s]").out.strip() == "['a']"


def test_an_lp_task_named_like_a_parametrized_function_is_a_duplicate(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write(
        "tasks_d.py",
        "import little_pipelines as lp\n\nclean = lp.Task('clean')\n\n\n"
        '@lp.task.parametrize("r", ["a"])\ndef task_clean(r):\n    return r\n',
    )
    result = p.lp("list")
    assert result.rc == 2
    assert "clean" in result.flat_err and "an lp.Task object" in result.flat_err
