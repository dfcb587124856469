"""`-k EXPR` (engine/keywords.py): pytest's expression syntax over task names and files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from e2e_helpers import Project, executed
from hypothesis import given
from hypothesis import strategies as st

from little_pipelines.engine.keywords import KeywordError, matcher

TASK = ("clean_orders", "tasks_sales")  # a task's words: its name and its file's stem


@pytest.mark.parametrize(
    ("expression", "selected"),
    [
        ("clean", True),
        ("CLEAN", True),  # case does not matter, as in pytest
        ("sales", True),  # the file counts too
        ("report", False),
        ("not report", True),
        ("clean and not orders", False),
        ("report or orders", True),
        ("not (report or load)", True),
        ("(clean and sales) and not x", True),
    ],
)
def test_an_expression_selects_as_pytest_would(expression: str, selected: bool) -> None:
    assert matcher(expression)(TASK) is selected


@pytest.mark.parametrize(
    ("expression", "says"),
    [
        ("", "the expression is empty"),
        ("clean and", "it ends too soon"),
        ("(clean or load", "it ends too soon"),
        ("clean load", "unexpected 'load'"),
        ("and clean", "expected a name, found 'and'"),
        ("clean or )", "expected a name, found ')'"),
    ],
)
def test_a_broken_expression_says_what_is_wrong(expression: str, says: str) -> None:
    with pytest.raises(KeywordError, match=re.escape(says)):
        matcher(expression)


words = st.text("abcdef_", min_size=1, max_size=6)


@given(name=words, word=words, other=words)
def test_not_and_or_mean_what_they_say(name: str, word: str, other: str) -> None:
    task = (name, "tasks_x")
    one, two = matcher(word)(task), matcher(other)(task)
    assert matcher(f"not {word}")(task) is (not one)
    assert matcher(f"{word} and {other}")(task) is (one and two)
    assert matcher(f"{word} or not {other}")(task) is (one or not two)
    assert one is (word in name or word in "tasks_x")


SALES = """\
def task_orders():
    return [1, 2]


def task_clean_orders(orders):
    return orders


def task_report(clean_orders):
    return len(clean_orders)


def task_lonely():
    return 42
"""


def test_run_k_runs_what_matches_with_its_upstream(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("tasks_sales.py", SALES)
    assert executed(p.run("-k", "report")) == {"orders", "clean_orders", "report"}
    p.lp("clean", "-q")
    assert executed(p.run("-k", "not orders and not report")) == {"lonely"}
    assert executed(p.run("-k", "clean", "--force")) == {"orders", "clean_orders"}
    listed = p.lp("list", "-k", "orders and not clean")
    assert listed.rc == 0
    assert [line.split()[0] for line in listed.out.splitlines()[1:]] == ["orders"]


def test_run_k_that_matches_nothing_exits_5_and_a_bad_one_exits_2(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("tasks_sales.py", SALES)
    none = p.lp("run", "-k", "nothing_like_it")
    assert none.rc == 5 and "no task matches -k 'nothing_like_it'" in none.flat_err
    assert p.run("-k", "nothing_like_it", rc=5)["tasks"] == []
    bad = p.lp("run", "-k", "report and")
    assert bad.rc == 2 and "-k 'report and': it ends too soon" in bad.flat_err
