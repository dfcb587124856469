"""`lp list`, `graph`, `why`, `show`, `clean`, `--version`, `--help` and `lp.load` end to end."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from e2e_helpers import Project, executed, lp_command, make_env, statuses

import little_pipelines

TASKS = """
    import little_pipelines as lp


    @lp.task(inputs=["data/orders.csv"])
    def task_orders(this):
        return (this.root / "data/orders.csv").read_text().split()


    def task_clean_orders(orders):
        return [o for o in orders if o != "0"]


    def task_report(clean_orders, title="Sales"):
        return {"title": title, "n": len(clean_orders), "orders": clean_orders}


    def task_lonely():
        return 42
"""


def sales(tmp_path: Path, *, run: bool = True) -> Project:
    p = Project(tmp_path)
    p.write("data/orders.csv", "1 0 2\n")
    p.write("tasks_sales.py", TASKS)
    if run:
        p.run()
    return p


# lp list ----------------------------------------------------------------------------------------


def test_list_json_states(tmp_path: Path) -> None:
    p = sales(tmp_path, run=False)
    rows = p.listing()
    assert sorted(rows) == ["clean_orders", "lonely", "orders", "report"]
    order = list(rows)
    assert order.index("orders") < order.index("clean_orders") < order.index("report")
    assert {n: (r["state"], r["reason"]) for n, r in rows.items()} == {
        n: ("never run", "new") for n in rows
    }
    assert rows["clean_orders"]["file"] == "tasks_sales.py"
    assert rows["clean_orders"]["line"] == 9
    assert rows["clean_orders"]["deps"] == ["orders"]
    assert rows["report"]["deps"] == ["clean_orders"]
    assert rows["lonely"]["last_duration_s"] is None
    assert rows["lonely"]["expiry"] == "—"  # no result: nothing to expire ("never" misleads)

    p.run()
    p.replace("tasks_sales.py", 'o != "0"', 'o not in ("0", "")')
    rows = p.listing()
    assert {n: (r["state"], r["reason"]) for n, r in rows.items()} == {
        "orders": ("fresh", None),
        "clean_orders": ("stale", "code"),
        "report": ("stale", "upstream"),
        "lonely": ("fresh", None),
    }
    assert isinstance(rows["lonely"]["last_duration_s"], float)
    assert rows["lonely"]["expiry"] == "never"

    (p.root / "data/orders.csv").write_text("1 2 3\n")
    assert p.states()["orders"] == ("stale", "inputs")


def test_list_table(tmp_path: Path) -> None:
    p = sales(tmp_path)
    p.replace("tasks_sales.py", "return 42", "return 43")
    p.write("tasks_new.py", "def task_brand_new():\n    return 0\n")
    result = p.lp("list")
    assert result.rc == 0, str(result)
    text = result.out  # on stdout, so `lp list | grep stale` works
    for column in ("task", "file:line", "needs", "state", "expiry", "last run"):
        assert column in text
    lines = {line.split()[0]: line for line in text.splitlines() if line.strip()}
    assert "tasks_sales.py:9" in lines["clean_orders"]
    assert "orders" in lines["clean_orders"].split("tasks_sales.py:9")[1]
    assert "fresh" in lines["clean_orders"]
    assert "stale (code)" in lines["lonely"]
    assert "never run" in lines["brand_new"]
    assert re.search(r"\d+ms|\d\.\d\ds", lines["lonely"])


# lp graph ---------------------------------------------------------------------------------------


def test_graph_formats(tmp_path: Path) -> None:
    p = sales(tmp_path)
    p.replace("tasks_sales.py", "return 42", "return 43")
    text, mermaid, dot, bad = p.lp_many(
        ("graph",),
        ("graph", "--format", "mermaid"),
        ("graph", "--format", "dot"),
        ("graph", "--format", "png"),
    )
    assert text.rc == 0, str(text)
    assert "clean_orders [fresh]  <- orders" in text.out
    assert "lonely [stale (code)]" in text.out

    assert mermaid.rc == 0, str(mermaid)
    assert mermaid.out.startswith(("graph", "flowchart"))
    assert re.search(r"orders\s*-->\s*clean_orders", mermaid.out)
    assert re.search(r"clean_orders\s*-->\s*report", mermaid.out)
    assert "stale (code)" in mermaid.out

    assert dot.rc == 0, str(dot)
    assert dot.out.startswith("digraph")
    assert '"orders" -> "clean_orders"' in dot.out
    assert dot.out.rstrip().endswith("}")

    assert bad.rc == 2


# lp why -----------------------------------------------------------------------------------------


def test_why(tmp_path: Path) -> None:
    p = sales(tmp_path)
    fresh = p.lp("why", "report")
    assert fresh.rc == 0, str(fresh)
    assert "fresh" in fresh.out and "tasks_sales.py:13" in fresh.out

    # a code change shows the changed lines as a diff
    p.replace("tasks_sales.py", 'o != "0"', 'o != "zero"')
    why = p.lp("why", "clean_orders")
    assert why.rc == 0, str(why)
    assert "code" in why.out
    # the lines as written, quotes and all
    assert re.search(r'^\s*-.*o != "0"', why.out, re.M), why.out
    assert re.search(r'^\s*\+.*o != "zero"', why.out, re.M), why.out
    # downstream: the chain back to the cause
    chain = p.lp("why", "report")
    assert "upstream" in chain.out
    assert "'clean_orders'" in chain.out and 'o != "zero"' in chain.out

    # an input file names the file
    p.replace("tasks_sales.py", 'o != "zero"', 'o != "0"')
    (p.root / "data/orders.csv").write_text("5 6\n")
    why = p.lp("why", "report")
    assert why.rc == 0
    assert "inputs" in why.out and "data/orders.csv" in why.out
    assert "'orders'" in why.out

    unknown = p.lp("why", "reprot")
    assert unknown.rc == 2
    assert "did you mean 'report'" in unknown.flat_err


def test_why_helper_change_and_expiry(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("helpers.py", "def tax(x):\n    return x * 1.2\n")
    p.write(
        "tasks_w.py",
        """
        import datetime
        import little_pipelines as lp
        from helpers import tax

        def task_total():
            return tax(100)

        @lp.task(expire=lp.expire.at_datetime(datetime.datetime(2001, 2, 3)))
        def task_old():
            return 1
        """,
    )
    p.run()
    p.replace("helpers.py", "x * 1.2", "x * 1.25")
    why = p.lp("why", "total")
    assert "code" in why.out
    assert re.search(r"^\s*-.*x \* 1\.2$", why.out, re.M), why.out
    assert re.search(r"^\s*\+.*x \* 1\.25$", why.out, re.M), why.out
    why = p.lp("why", "old")
    assert "expired" in why.out


# lp show ----------------------------------------------------------------------------------------


def test_show(tmp_path: Path) -> None:
    p = sales(tmp_path)
    p.write("tasks_late.py", "def task_late():\n    return 1\n")
    shown, lonely, missing, unknown = p.lp_many(
        ("show", "report"), ("show", "lonely"), ("show", "late"), ("show", "lonley")
    )
    assert shown.rc == 0, str(shown)
    assert eval(shown.out) == {"title": "Sales", "n": 2, "orders": ["1", "2"]}
    assert lonely.out.strip() == "42"
    assert missing.rc == 2
    assert "lp run late" in missing.flat_err
    assert unknown.rc == 2
    assert "did you mean 'lonely'" in unknown.flat_err


def test_show_result_of_a_class_from_the_tasks_file(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write(
        "tasks_obj.py",
        """
        from dataclasses import dataclass

        @dataclass
        class Point:
            x: int
            y: int

        def task_point():
            return Point(1, 2)
        """,
    )
    p.run()
    shown = p.lp("show", "point")
    assert shown.rc == 0, str(shown)
    assert "Point(x=1, y=2)" in shown.out


def test_show_result_of_a_class_from_a_helper_module(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write(
        "models.py",
        """
        from dataclasses import dataclass

        @dataclass
        class Order:
            id: int
        """,
    )
    p.write("tasks_m.py", "import models\n\ndef task_order():\n    return models.Order(7)\n")
    p.run()
    shown = p.lp("show", "order")
    assert shown.rc == 0, str(shown)
    assert "Order(id=7)" in shown.out


# lp clean ---------------------------------------------------------------------------------------


def test_clean(tmp_path: Path) -> None:
    p = sales(tmp_path)
    named = p.lp("clean", "report", "lonely")
    assert named.rc == 0, str(named)
    assert p.states() == {
        "orders": ("fresh", None),
        "clean_orders": ("fresh", None),
        "report": ("never run", "new"),
        "lonely": ("never run", "new"),
    }
    assert executed(p.run()) == {"report", "lonely"}

    unknown = p.lp("clean", "reprot")
    assert unknown.rc == 2
    assert "did you mean 'report'" in unknown.flat_err
    assert set(p.states().values()) == {("fresh", None)}

    everything = p.lp("clean")
    assert everything.rc == 0, str(everything)
    assert set(p.states().values()) == {("never run", "new")}
    assert executed(p.run()) == {"orders", "clean_orders", "report", "lonely"}


# version and help -------------------------------------------------------------------------------


def test_version_and_help(tmp_path: Path) -> None:
    p = Project(tmp_path)
    version, top, run_help = p.lp_many(("--version",), ("--help",), ("run", "--help"))
    assert version.rc == 0
    assert little_pipelines.__version__ in version.out

    assert top.rc == 0
    for command in ("run", "watch", "list", "graph", "why", "show", "clean", "shell"):
        assert re.search(rf"^\W*{command}\b", top.out, re.M), command
    for option in ("--root", "--version"):
        assert option in top.out

    assert run_help.rc == 0
    for option in ("--force", "--dry-run", "--exitfirst", "--no-upstream", "--json", "--root"):
        assert option in run_help.out, option
    for flag in ("-f", "-n", "-x", "-C"):
        assert re.search(rf"{flag}\b", run_help.out), flag
    assert "\x1b" not in top.out + run_help.out

    proc = subprocess.run(
        [sys.executable, "-m", "little_pipelines", "--help"],
        cwd=p.root,
        env=make_env(p.home),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0
    assert proc.stdout == top.out


def test_unknown_command_and_option_are_usage_errors(tmp_path: Path) -> None:
    p = Project(tmp_path)
    assert [r.rc for r in p.lp_many(("runn",), ("run", "--frce"))] == [2, 2]


def test_common_options_after_every_command(tmp_path: Path) -> None:
    p = sales(tmp_path, run=False)
    calls = [("list", "-q"), ("graph", "-v"), ("why", "report", "-q"), ("clean", "lonely", "-v")]
    for args, result in zip(calls, p.lp_many(*calls), strict=True):
        assert result.rc == 0, (args, str(result))


def test_common_options_before_the_command(tmp_path: Path) -> None:
    p = sales(tmp_path, run=False)
    calls = [("-q", "list"), ("-v", "graph"), ("-q", "why", "report")]
    for args, result in zip(calls, p.lp_many(*calls), strict=True):
        assert result.rc == 0, (args, str(result))
    assert p.lp("-v", "run", "lonely").rc == 0


# lp.load ----------------------------------------------------------------------------------------

SCRIPT = """
    import little_pipelines as lp

    print(repr(lp.load("report")))
    try:
        lp.load("reprot")
    except lp.TaskNotFoundError as exc:
        print("unknown:", exc)
    try:
        lp.load("late")
    except lp.TaskNotFoundError as exc:
        print("missing:", exc)
"""


def test_load_from_a_script_in_the_project(tmp_path: Path) -> None:
    p = sales(tmp_path)
    p.write("pyproject.toml", "[tool.little_pipelines]\n")  # so the root is found upward
    p.write("tasks_late.py", "def task_late():\n    return 1\n")
    p.write("analysis/notebook.py", SCRIPT)
    for cwd in (p.root, p.root / "analysis"):
        proc = subprocess.run(
            [sys.executable, str(p.root / "analysis/notebook.py")],
            cwd=cwd,
            env=make_env(p.home),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.splitlines()
        assert eval(lines[0]) == {"title": "Sales", "n": 2, "orders": ["1", "2"]}
        assert lines[1].startswith("unknown:") and "did you mean 'report'" in lines[1]
        assert lines[2].startswith("missing:") and "lp run late" in lines[2]


def test_load_with_an_explicit_root(tmp_path: Path) -> None:
    p = sales(tmp_path)
    script = tmp_path / "elsewhere.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import little_pipelines as lp
            print(lp.load("lonely", root={str(p.root)!r}))
            """
        )
    )
    proc = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=make_env(p.home),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "42"
    assert statuses(p.run())["lonely"] == ("cached", None)


def test_lp_show_prints_text_as_text_and_other_values_pretty_unwrapped(tmp_path: Path) -> None:
    p = Project(tmp_path)
    long_line = "east 81.25 " * 20  # 220 characters: off a terminal nothing wraps it
    p.write(
        "tasks_show.py",
        f"""
        def task_text():
            return "east 81.25\\nnorth 133.8\\n"

        def task_line():
            return {long_line!r}

        def task_rows():
            return [{{"region": "east", "total": 81.25}}] * 3
        """,
    )
    p.run()
    text, line, rows = p.lp_many(("show", "text"), ("show", "line"), ("show", "rows"))
    assert text.out == "east 81.25\nnorth 133.8\n"  # the text itself, not its repr
    assert line.out == long_line + "\n"
    assert rows.out.splitlines() == [
        "[{'region': 'east', 'total': 81.25},",
        " {'region': 'east', 'total': 81.25},",
        " {'region': 'east', 'total': 81.25}]",
    ]


def test_lp_why_names_each_file_of_the_diff_once(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("helpers.py", "RATE = 2\n\n\ndef scale(x):\n    return x * RATE\n")
    p.write("tasks_a.py", "from helpers import scale\n\n\ndef task_a():\n    return scale(1)\n")
    p.run()
    p.replace("helpers.py", "RATE = 2", "RATE = 3")
    why = p.lp("why", "a").out
    assert why.count("# helpers.py") == 1, why  # both definitions, under one header
    assert "-RATE = 2" in why and "+RATE = 3" in why


def test_lp_why_shows_the_diff_of_an_lp_task_process(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write(
        "tasks_q.py",
        textwrap.dedent("""
            import little_pipelines as lp

            quality = lp.Task("quality")

            @quality.process
            def run(this):
                return this.judge(10)

            @quality.process
            def judge(this, n):
                return n / 100
        """),
    )
    p.run()
    p.replace("tasks_q.py", "n / 100", "n / 2000")
    why = p.lp("why", "quality").out
    assert "would run: code — its code changed:" in why
    assert "-    return n / 100" in why and "+    return n / 2000" in why, why


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("run", "--jobs", "0"), "Invalid value for '--jobs' / '-j': must be 1 or more"),
        (("graph", "--format", "svg"), "'svg' is not one of 'text', 'mermaid', 'dot'"),
        (("why",), "Missing argument 'task'."),
    ],
)
def test_usage_errors_are_plain_lines_in_plain_words(
    tmp_path: Path, args: tuple[str, ...], says: str
) -> None:
    result = Project(tmp_path, process=True).lp(*args)  # a pipe, as in CI logs
    assert result.rc == 2
    assert says in result.err and "Usage: lp " in result.err
    assert "╭" not in result.err and "Input should" not in result.err
    assert "Value error" not in result.err and "[tasks]" not in result.err


def complete(p: Project, line: str, cwd: Path | None = None) -> tuple[int, list[str]]:
    """What bash completion offers for `line` (the last word is the one being completed)."""
    words = line.split(" ")
    env = {**make_env(p.home), "_LP_COMPLETE": "complete_bash"}
    env |= {"COMP_WORDS": line, "COMP_CWORD": str(len(words) - 1)}
    done = subprocess.run(
        lp_command(), cwd=cwd or p.root, env=env, capture_output=True, text=True, timeout=60
    )
    return done.returncode, sorted(done.stdout.split())


def test_task_names_complete_in_the_shell(tmp_path: Path) -> None:
    p = sales(tmp_path, run=False)
    assert complete(p, "lp run ") == (0, ["clean_orders", "lonely", "orders", "report"])
    assert complete(p, "lp why c") == (0, ["clean_orders"])
    assert complete(p, "lp show r") == (0, ["report"])
    assert complete(p, "lp clean report ") == (0, ["clean_orders", "lonely", "orders"])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert complete(p, f"lp -C {p.root} run l", cwd=elsewhere) == (0, ["lonely"])
    assert complete(p, "lp ru") == (0, ["run"])


def test_a_broken_project_completes_nothing_and_prints_nothing(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("tasks_bad.py", "def task_a(:\n")
    assert complete(p, "lp run ") == (0, [])


def test_verbose_names_the_tasks_files_lp_had_to_import(tmp_path: Path) -> None:
    p = sales(tmp_path)
    p.write(
        "tasks_q.py",
        "import little_pipelines as lp\n\nq = lp.Task('q')\n\n"
        "@q.process\ndef run(this):\n    return 1\n",
    )
    note = "note: imported tasks_q.py to read its tasks: it defines lp.Task objects"
    for args in (("list",), ("graph",), ("why", "q"), ("show", "report"), ("run",)):
        assert note in p.lp(*args, "-v").flat_err, args
        assert note in p.lp("-v", *args).flat_err, args  # before the command too
        assert "note:" not in p.lp(*args).flat_err, args
    p.write("tasks_q.py", "X = 1\n")
    assert "note:" not in p.lp("list", "-v").flat_err  # literal files are read, not imported


def test_quiet_is_accepted_everywhere_and_offered_where_it_says_less(tmp_path: Path) -> None:
    p = sales(tmp_path)
    for command in ("list", "graph", "why", "show"):
        assert "--quiet" not in p.lp(command, "--help").out
        args = (command, "report") if command in ("why", "show") else (command,)
        assert p.lp(*args, "-q").rc == 0
    assert "--quiet" in p.lp("clean", "--help").out
    assert p.lp("clean", "report", "-q").err == ""


def test_lp_show_of_a_result_whose_module_is_gone_says_what_is_missing(tmp_path: Path) -> None:
    # (as a DataFrame shown where pandas is not installed)
    p = Project(tmp_path)
    p.write("shapes.py", "class Box:\n    pass\n")
    p.write("tasks_b.py", "import shapes\n\n\ndef task_box():\n    return shapes.Box()\n")
    p.run()
    (p.root / "shapes.py").unlink()
    shown = p.lp("show", "box")
    assert shown.rc == 2 and "internal error" not in shown.flat_err
    assert "the stored result of 'box' needs the module 'shapes'" in shown.flat_err


def test_plain_output_is_never_wrapped_to_a_width(tmp_path: Path) -> None:
    long = "word " * 60  # 300 characters on one line
    p = Project(tmp_path, process=True)  # a real pipe, as in CI logs
    p.write(
        "tasks_long.py",
        f"def task_text():\n    return {long!r}\n\n\n"
        f"def task_bad():\n    raise ValueError({long!r})\n",
    )
    run = p.lp("run")
    assert run.rc == 1
    assert any(line.endswith(long.strip()) for line in run.err.splitlines()), run.err
    assert p.lp("show", "text").out == long + "\n"
