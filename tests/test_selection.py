"""Selecting tasks as pytest selects tests: tags with `-m`, `--lf` and `--failed-first`.

(`-k` has its own file, test_keywords.py.) Tags are read from the file's syntax when they are
literals, so listing and selecting by them imports nothing; when they are not, the file is
imported and `-v` says so.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from e2e_helpers import Project, executed
from hypothesis import given
from hypothesis import strategies as st

from little_pipelines.engine.keywords import KeywordError, matcher

TAGGED = """\
import pathlib

import little_pipelines as lp

with open(pathlib.Path(__file__).with_name("imports.log"), "a") as _log:
    _log.write("imported\\n")


def task_raw():
    return [3, 1, 2]


@lp.task(tags=["db", "slow"])
def task_load(raw):
    return sorted(raw)


@lp.task(tags="report")
def task_report(load):
    return sum(load)


def task_lonely():
    return 42
"""


def imports(p: Project) -> int:
    return p.read("imports.log").count("imported") if p.exists("imports.log") else 0


def test_m_runs_the_tagged_tasks_with_their_upstream(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("tasks_sales.py", TAGGED)
    assert executed(p.run("-m", "slow")) == {"raw", "load"}
    assert executed(p.run("-m", "report")) == {"report"}  # its upstream is cached now
    p.lp("clean", "-q")
    assert executed(p.run("-m", "not db")) == {"raw", "load", "report", "lonely"}
    p.lp("clean", "-q")
    assert executed(p.run("-m", "db and not report")) == {"raw", "load"}
    assert executed(p.run("-m", "db or report", "--force")) == {"raw", "load", "report"}


def test_m_and_k_together_keep_what_both_select(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("tasks_sales.py", TAGGED)
    assert executed(p.run("-m", "db or report", "-k", "rep")) == {"raw", "load", "report"}
    listed = p.listing()
    assert listed["lonely"]["state"] == "never run"


def test_tags_show_in_list_and_why_and_literal_tags_import_nothing(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("tasks_sales.py", TAGGED)
    listing = p.lp("list")
    assert listing.rc == 0
    header, *rows = listing.out.splitlines()
    assert header.split()[-1] == "tags"
    assert [r.split()[0] for r in rows if r.rstrip().endswith("db, slow")] == ["load"]
    data = p.lp("list", "--json").json
    assert {t["name"]: t["tags"] for t in data["tasks"]} == {
        "raw": [],
        "load": ["db", "slow"],
        "report": ["report"],
        "lonely": [],
    }
    selected = p.lp("list", "-m", "slow or report", "--json").json
    assert [t["name"] for t in selected["tasks"]] == ["load", "report"]
    why = p.lp("why", "load")
    assert "tags: db, slow" in why.out
    assert "imported" not in p.lp("list", "-v").flat_err
    p.run("-m", "db")  # it runs a task, so the file is imported now
    assert imports(p) == 1
    assert p.lp("list", "-m", "db").rc == 0
    assert imports(p) == 1  # listing and deciding by tags imported nothing


def test_tags_that_are_not_literals_are_read_by_importing_and_v_says_so(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write(
        "tasks_sales.py",
        TAGGED.replace('tags=["db", "slow"]', "tags=SLOW").replace(
            "def task_raw", 'SLOW = ["db", "slow"]\n\n\ndef task_raw'
        ),
    )
    listing = p.lp("list", "-v", "-m", "slow")
    assert listing.rc == 0
    assert [line.split()[0] for line in listing.out.splitlines()[1:]] == ["load"]
    assert "the options of task_load are not literals" in listing.flat_err
    assert imports(p) == 1
    assert executed(p.run("-m", "slow")) == {"raw", "load"}


@pytest.mark.parametrize(
    ("tags", "says"),
    [
        ('["two words"]', "tag 'two words' is not a word -m can select by"),
        ('["not"]', "tag 'not' is not a word -m can select by"),
        ("[1]", "tags must be a word or a list of words, not [1]"),
    ],
)
def test_a_bad_tag_is_an_error_naming_the_file_and_line(
    tmp_path: Path, tags: str, says: str
) -> None:
    p = Project(tmp_path)
    p.write(
        "tasks_t.py",
        f"import little_pipelines as lp\n\n\n@lp.task(tags={tags})\ndef task_a():\n    return 1\n",
    )
    result = p.lp("list")
    assert result.rc == 2
    assert says in result.flat_err
    assert "tasks_t.py:4" in result.flat_err


def test_a_misspelt_option_suggests_tags(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write(
        "tasks_t.py",
        "import little_pipelines as lp\n\n\n@lp.task(tag=['x'])\ndef task_a():\n    return 1\n",
    )
    result = p.lp("list")
    assert result.rc == 2
    assert "@lp.task has no option 'tag' — did you mean 'tags'?" in result.flat_err


def test_m_that_selects_nothing_exits_5_and_a_bad_one_exits_2(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("tasks_sales.py", TAGGED)
    none = p.lp("run", "-m", "nightly")
    assert none.rc == 5 and "no task matches -m 'nightly'" in none.flat_err
    bad = p.lp("run", "-m", "db and")
    assert bad.rc == 2
    assert "-m 'db and': it ends too soon (write tags joined by and, or, not" in bad.flat_err
    assert p.lp("list", "-m", "(db").rc == 2


def test_m_matches_whole_tags_only(tmp_path: Path) -> None:
    """pytest's -m names marks whole: `-m slo` is no mark of a `slow` test."""
    assert matcher("slow", option="-m")(("slow", "db"))
    assert not matcher("slo", option="-m")(("slow",))
    assert not matcher("Slow", option="-m")(("slow",))
    with pytest.raises(KeywordError, match=re.escape("-m '': the expression is empty")):
        matcher("", option="-m")


def _expressions(tags: list[str]) -> st.SearchStrategy[tuple[str, object]]:
    """An expression as text, with a tree that says what it means."""
    words = st.sampled_from(tags).map(lambda t: (t, t))

    def grow(inner: st.SearchStrategy[tuple[str, object]]) -> st.SearchStrategy:
        return (
            inner.map(lambda e: (f"not {e[0]}", ("not", e[1])))
            | st.tuples(inner, inner).map(
                lambda p: (f"({p[0][0]} and {p[1][0]})", ("and", p[0][1], p[1][1]))
            )
            | st.tuples(inner, inner).map(
                lambda p: (f"({p[0][0]} or {p[1][0]})", ("or", p[0][1], p[1][1]))
            )
        )

    return st.recursive(words, grow, max_leaves=6)


def _means(tree: object, tags: frozenset[str]) -> bool:
    if isinstance(tree, str):
        return tree in tags
    assert isinstance(tree, tuple)
    if tree[0] == "not":
        return not _means(tree[1], tags)
    left, right = _means(tree[1], tags), _means(tree[2], tags)
    return left and right if tree[0] == "and" else left or right


@given(
    _expressions(["db", "slow", "nightly"]),
    st.frozensets(st.sampled_from(["db", "slow", "nightly"])),
)
def test_m_means_what_the_boolean_expression_means(
    expression: tuple[str, object], tags: frozenset[str]
) -> None:
    text, tree = expression
    assert matcher(text, option="-m")(tags) is _means(tree, tags)


FLAKY = """\
import pathlib


def task_raw():
    return 1


def task_parse(raw):
    if pathlib.Path(__file__).with_name("broken").exists():
        raise ValueError("bad row")
    return raw + 1


def task_report(parse):
    return parse * 10


def task_other(raw):
    return raw - 1
"""


def test_lf_reruns_what_failed_and_what_it_blocked(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("tasks_x.py", FLAKY)
    p.write("broken", "")
    first = p.run(rc=1)
    assert {t["name"]: t["status"] for t in first["tasks"]}["report"] == "upstream_failed"
    listed = p.lp("list", "--lf")
    assert [line.split()[0] for line in listed.out.splitlines()[1:]] == ["parse", "report"]
    (p.root / "broken").unlink()
    again = p.run("--lf")
    assert executed(again) == {"parse", "report"}
    assert {t["name"] for t in again["tasks"]} == {"raw", "parse", "report"}  # with upstream
    quiet = p.lp("run", "--lf")
    assert quiet.rc == 0
    assert "--lf: no task failed last time, so every selected task runs" in quiet.out + quiet.err


def test_ff_runs_what_failed_first_and_then_the_rest(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("tasks_x.py", FLAKY)
    p.write("broken", "")
    p.run(rc=1)
    (p.root / "broken").unlink()
    p.replace("tasks_x.py", "return raw - 1", "return raw - 2")  # `other` must run too
    order = [t["name"] for t in p.run("--ff")["tasks"]]
    assert order == ["raw", "parse", "report", "other"]
    assert [t["name"] for t in p.run("--force")["tasks"]] == ["raw", "parse", "other", "report"]


def test_an_expression_nested_too_deeply_is_a_clear_error(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("tasks_sales.py", TAGGED)
    deep = "(" * 3000 + "db" + ")" * 3000
    for option in ("-m", "-k"):
        result = p.lp("list", option, deep)
        assert result.rc == 2 and "it is nested too deeply" in result.flat_err
        assert "internal error" not in result.flat_err
