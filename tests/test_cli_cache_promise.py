"""The caching promise (SPEC 5) end to end: exactly the tasks that must run, run.

A project is run once, a real file is edited, and `lp run --json` must execute exactly the
expected tasks with the expected reasons. The no-import promise is checked with a tasks file
whose import leaves a mark.
"""

from __future__ import annotations

from pathlib import Path

from e2e_helpers import Project, executed, statuses

MAIN = '''
    """Sales tasks."""
    import helpers
    import helpers as h
    from helpers import BONUS, triple

    RATE = 2


    def local_helper(x):
        return x + 1


    def task_a():
        # where it all starts
        return 1


    def task_b(a):
        return local_helper(a)


    def task_c(b):
        return b * RATE


    def task_d():
        return helpers.double(10)


    def task_e(d):
        return d + 1


    def task_f():
        return 'unrelated'


    def task_g():
        return triple(5)


    def task_h():
        return helpers.Scaler(3).scale(2)


    def task_i():
        return BONUS + h.triple(0)
'''

HELPERS = """
    BONUS = 7


    def _scale(x, k):
        return x * k


    def double(x):
        return _scale(x, 2)


    def triple(x):
        return x + x + x


    class Scaler:
        def __init__(self, k):
            self.k = k

        def scale(self, x):
            return x * self.k
"""

ALL = set("abcdefghi")


def matrix_project(tmp_path: Path) -> Project:
    p = Project(tmp_path)
    p.write("tasks_main.py", MAIN)
    p.write("helpers.py", HELPERS)
    first = p.run()
    assert statuses(first) == {n: ("executed", "new") for n in ALL}
    return p


EDITS = {
    "comment": ("tasks_main.py", "# where it all starts", "# where it all begins\n    # (v2)"),
    "module docstring": ("tasks_main.py", '"""Sales tasks."""', '"""Sales tasks, reworded."""'),
    "function docstring": (
        "tasks_main.py",
        "def task_a():\n",
        'def task_a():\n    """The first task."""\n',
    ),
    "helper docstring": (
        "helpers.py",
        "def double(x):\n",
        'def double(x):\n    """Twice x."""\n',
    ),
    "blank lines": ("tasks_main.py", "RATE = 2\n", "\n\nRATE = 2\n\n\n"),
    "formatting": (
        "tasks_main.py",
        "return local_helper(a)",
        "return local_helper(\n        a,\n    )  # reformatted",
    ),
    "quotes": ("tasks_main.py", "'unrelated'", '"unrelated"'),
    "helper comment": ("helpers.py", "return x * k", "return x * k  # the scale"),
}


COSMETIC_ROUNDS = [
    ["comment", "module docstring", "function docstring"],
    ["blank lines", "formatting", "quotes"],
    ["helper docstring", "helper comment"],
]


def test_cosmetic_edits_run_nothing(tmp_path: Path) -> None:
    p = matrix_project(tmp_path)
    for edits in COSMETIC_ROUNDS:  # a few edits per run keeps the test fast
        for edit in edits:
            p.replace(*EDITS[edit])
        data = p.run()
        assert executed(data) == set(), (edits, statuses(data))
        assert data["counts"]["cached"] == len(ALL), edits


UP = "upstream"
CHANGES = {
    # an edited task runs, and its dependents when its result changes
    "task": ("tasks_main.py", "return 1", "return 5", {"a": "code", "b": UP, "c": UP}),
    # a helper in the same file: exactly its users
    "same-file helper": ("tasks_main.py", "x + 1", "x + 2", {"b": "code", "c": UP}),
    # a module constant: exactly its users
    "constant": ("tasks_main.py", "RATE = 2", "RATE = 3", {"c": "code"}),
    # an unrelated task in the same file: only itself
    "unrelated task": ("tasks_main.py", "'unrelated'", "'other'", {"f": "code"}),
    # an imported project-module helper, reached through another helper
    "imported helper": ("helpers.py", "x * k", "x * k + 1", {"d": "code", "e": UP}),
    # `from helpers import triple` (and `h.triple` through an alias)
    "from-imported helper": ("helpers.py", "x + x + x", "3 * x", {"g": "code", "i": "code"}),
    # a constant imported from a project module
    "imported constant": ("helpers.py", "BONUS = 7", "BONUS = 8", {"i": "code"}),
    # a method of a project class
    "class method": ("helpers.py", "x * self.k", "self.k * x", {"h": "code"}),
}


def test_code_changes_run_exactly_their_users(tmp_path: Path) -> None:
    p = matrix_project(tmp_path)
    for change, (file, old, new, expected) in CHANGES.items():
        p.replace(file, old, new)
        data = p.run()
        got = {n: r for n, (s, r) in statuses(data).items() if s == "executed"}
        assert got == expected, change
    assert statuses(p.run()) == {n: ("cached", None) for n in ALL}


def test_early_cutoff_serves_dependents_from_cache(tmp_path: Path) -> None:
    p = matrix_project(tmp_path)
    p.replace("tasks_main.py", "return 1", "return 2 - 1")
    data = p.run()
    assert statuses(data)["a"] == ("executed", "code")
    assert executed(data) == {"a"}
    assert statuses(data)["b"] == ("cached", None)


def test_changing_a_default_reruns_the_task(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write(
        "tasks_d.py",
        """
        def task_greet(who="world"):
            return f"hello {who}"

        def task_shout(greet):
            return greet.upper()
        """,
    )
    p.run()
    p.replace("tasks_d.py", '"world"', '"there"')
    assert statuses(p.run()) == {"greet": ("executed", "code"), "shout": ("executed", "upstream")}
    assert p.lp("show", "shout").out.strip() == "HELLO THERE"


def test_input_file_changes(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("data/orders.csv", "id,qty\n1,2\n")
    p.write("data/extra/a.txt", "a")
    p.write(
        "tasks_in.py",
        """
        import little_pipelines as lp

        @lp.task(inputs=["data/orders.csv"])
        def task_orders(this):
            return (this.root / "data/orders.csv").read_text().splitlines()

        def task_count(orders):
            return len(orders)

        @lp.task(inputs=["data/extra/*.txt"])
        def task_extras(this):
            return sorted(p.name for p in (this.root / "data/extra").glob("*.txt"))

        def task_other():
            return 0

        @lp.task(inputs=["data/later.csv"])
        def task_later(this):
            return (this.root / "data/later.csv").exists()
        """,
    )
    p.run()
    assert executed(p.run()) == set()

    (p.root / "data/orders.csv").write_text("id,qty\n1,2\n2,5\n")
    assert statuses(p.run()) == {
        "orders": ("executed", "inputs"),
        "count": ("executed", "upstream"),
        "extras": ("cached", None),
        "other": ("cached", None),
        "later": ("cached", None),
    }
    # same content written again: nothing
    (p.root / "data/orders.csv").write_text("id,qty\n1,2\n2,5\n")
    assert executed(p.run()) == set()
    # a new file matching the glob
    (p.root / "data/extra/b.txt").write_text("b")
    assert executed(p.run()) == {"extras"}
    # a file outside every input
    p.write("data/unrelated.csv", "x")
    assert executed(p.run()) == set()
    # a named input that did not exist appears
    p.write("data/later.csv", "now here")
    assert statuses(p.run())["later"] == ("executed", "inputs")


def test_an_input_folder_counts_the_files_inside_it(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("data/x.csv", "1")
    p.write(
        "tasks_dir.py",
        """
        import little_pipelines as lp

        @lp.task(inputs=["data"])
        def task_folder(this):
            return sorted(f.read_text() for f in (this.root / "data").rglob("*.csv"))
        """,
    )
    p.run()
    p.write("data/x.csv", "2")
    assert statuses(p.run()) == {"folder": ("executed", "inputs")}
    p.write("data/sub/y.csv", "3")
    assert statuses(p.run()) == {"folder": ("executed", "inputs")}


def test_the_project_skip_rules_apply_to_inputs(tmp_path: Path) -> None:
    """`exclude` and `cache_dir` (lp's own files) never count as inputs, even of `.`."""
    p = Project(tmp_path)
    p.write("pyproject.toml", '[tool.little_pipelines]\nexclude = ["tmp*"]\ncache_dir = "state"\n')
    p.write("data/x.csv", "1")
    p.write(
        "tasks_dir.py",
        "import little_pipelines as lp\n\n@lp.task(inputs=['.'])\ndef task_all():\n    return 1\n",
    )
    assert statuses(p.run()) == {"all": ("executed", "new")}
    p.write("tmp_scratch.csv", "scratch")
    p.write("data/tmp/b.csv", "scratch")
    assert statuses(p.run()) == {"all": ("cached", None)}  # (and the run wrote into state/)
    p.write("data/x.csv", "2")
    assert statuses(p.run()) == {"all": ("executed", "inputs")}


EXPIRING = """
    import datetime
    import little_pipelines as lp

    @lp.task(expire=lp.expire.at_datetime(datetime.datetime(2000, 1, 1)))
    def task_past():
        return 1

    @lp.task(expire=lp.expire.from_now(days=1))
    def task_tomorrow():
        return 2

    @lp.task(expire=lp.expire.after_session())
    def task_session():
        return 3

    @lp.task(expire=lp.expire.on_complete())
    def task_once():
        return 4

    def task_uses_once(once):
        return once + 1
"""


def test_expiry(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("tasks_exp.py", EXPIRING)
    p.run()
    states = p.states()
    assert states["past"] == ("stale", "expired")
    assert states["tomorrow"] == ("fresh", None)
    assert states["session"] == ("stale", "expired")
    assert states["once"] == ("stale", "expired")
    assert statuses(p.run()) == {
        "past": ("executed", "expired"),
        "tomorrow": ("cached", None),
        "session": ("executed", "expired"),
        "once": ("executed", "expired"),
        "uses_once": ("cached", None),  # same result again: early cutoff
    }


def test_cache_false_runs_every_time(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write(
        "tasks_nc.py",
        """
        import little_pipelines as lp

        @lp.task(cache=False)
        def task_now():
            return "same"

        def task_after(now):
            return now * 2

        def task_fixed():
            return 1

        def task_nothing():
            return None

        def task_uses_nothing(nothing):
            return nothing is None
        """,
    )
    assert executed(p.run()) == {"now", "after", "fixed", "nothing", "uses_nothing"}
    assert statuses(p.run()) == {
        "now": ("executed", "always"),
        "after": ("cached", None),
        "fixed": ("cached", None),
        "nothing": ("cached", None),  # a None result is a result like any other
        "uses_nothing": ("cached", None),
    }
    assert statuses(p.run("--dry-run"))["now"] == ("would_run", "always")


FAILING = """
    import pathlib

    def task_src():
        return 1

    def task_mid(src):
        return src + 1

    def task_down(mid):
        return mid + 1

    def task_indep():
        return "indep"
"""


def test_a_failure_stores_nothing_and_blocks_only_its_dependents(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("tasks_f.py", FAILING)
    p.run()
    before = p.snapshot()
    p.replace("tasks_f.py", "return src + 1", "raise ValueError('bad mid')")
    p.replace("tasks_f.py", 'return "indep"', 'return "indep v2"')
    data = p.run(rc=1)
    assert statuses(data) == {
        "src": ("cached", None),
        "mid": ("failed", "code"),
        "down": ("upstream_failed", None),
        "indep": ("executed", "code"),
    }
    mid = next(t for t in data["tasks"] if t["name"] == "mid")
    assert mid["error"] == {"type": "ValueError", "message": "bad mid"}
    after = p.snapshot()
    assert after["src"] == before["src"]
    assert after["down"] == ("stale", "upstream", before["down"][2])  # its result kept
    assert after["mid"][0] == "failed"  # its old result is out of use
    assert p.lp("show", "mid").rc == 2
    # back to the original code: it must run again, not be served the old result
    p.replace("tasks_f.py", "raise ValueError('bad mid')", "return src + 1")
    data = p.run()
    assert statuses(data)["mid"] == ("executed", "new")
    assert statuses(data)["down"] == ("cached", None)  # same result as before the failure


def test_a_run_reads_only_the_results_it_needs(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write(
        "helpers.py",
        """
        import pathlib


        def _revive(n):
            with open(pathlib.Path(__file__).with_name("unpickled.log"), "a") as f:
                f.write("read\\n")
            return Big(n)


        class Big:
            def __init__(self, n):
                self.n = n

            def __reduce__(self):
                return (_revive, (self.n,))
        """,
    )
    p.write(
        "tasks_big.py",
        """
        import helpers

        def task_big():
            return helpers.Big(5)

        def task_small(big):
            return big.n

        def task_other():
            return 1
        """,
    )
    p.run()
    # `small` got its own copy of `big`, unpickled from the stored bytes (SPEC 3)
    assert p.read("unpickled.log") == "read\n"
    (p.root / "unpickled.log").unlink()
    p.replace("tasks_big.py", "return 1", "return 2")
    assert executed(p.run()) == {"other"}
    assert not p.exists("unpickled.log"), "a cached result no executing task needs was read"
    p.replace("tasks_big.py", "return big.n", "return big.n + 1")
    assert executed(p.run()) == {"small"}
    assert p.read("unpickled.log") == "read\n"


# the no-import promise -------------------------------------------------------------------------

SLOW = """
    import pathlib

    with open(pathlib.Path(__file__).with_name("imports.log"), "a") as _log:
        _log.write("imported\\n")


    def task_slow_a():
        return 1


    def task_slow_b(slow_a):
        return slow_a + 1
"""


def test_deciding_what_is_fresh_does_not_import_tasks_files(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("tasks_slow.py", SLOW)
    p.write("tasks_other.py", "def task_other():\n    return 1\n")

    def imports() -> int:
        return p.read("imports.log").count("imported") if p.exists("imports.log") else 0

    commands = [("list",), ("graph",), ("why", "slow_b"), ("run", "--dry-run")]
    for args in commands:
        assert p.lp(*args).rc == 0, args
        assert imports() == 0, f"lp {' '.join(args)} imported the tasks file"

    assert executed(p.run()) == {"slow_a", "slow_b", "other"}
    assert imports() == 1, "the tasks file is imported when its tasks must run"

    for args in [*commands, ("run",), ("show", "slow_b")]:
        assert p.lp(*args).rc == 0, args
        assert imports() == 1, f"lp {' '.join(args)} imported the tasks file"

    p.replace("tasks_other.py", "return 1", "return 2")
    assert executed(p.run()) == {"other"}
    assert imports() == 1, "running another file's task imported this one"

    p.replace("tasks_slow.py", "return slow_a + 1", "return slow_a + 2")
    assert executed(p.run()) == {"slow_b"}
    assert imports() == 2


def test_dotted_access_to_a_package_module_reruns_exactly_its_users(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("mylib/__init__.py", "from .util import shout\n")
    p.write(
        "mylib/util.py",
        """
        def shout(s):
            return s.upper()


        def whisper(s):
            return s.lower()
        """,
    )
    p.write(
        "tasks_pkg.py",
        """
        import mylib.util
        from mylib import shout

        def task_loud():
            return shout("x")

        def task_quiet():
            return mylib.util.whisper("Y")
        """,
    )
    p.run()
    p.replace("mylib/util.py", "s.lower()", "s.lower() + '?'")
    assert executed(p.run()) == {"quiet"}
    p.replace("mylib/util.py", "s.upper()", "s.upper() + '!'")
    assert statuses(p.run()) == {"loud": ("executed", "code"), "quiet": ("cached", None)}
