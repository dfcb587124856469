"""project/params.py: parametrize marks, their ids and combinations, as pytest makes them."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

import little_pipelines as lp
from little_pipelines.project.params import ATTRIBUTE, Binding, expand, fill, make_mark

values = st.lists(
    st.one_of(st.integers(-3, 3), st.sampled_from(["a", "b", "a/b", ""]), st.none()),
    min_size=1,
    max_size=4,
)


@given(st.lists(values, min_size=1, max_size=3))
def test_stacked_marks_make_each_combination_once_with_unique_ids(rows: list[list[object]]) -> None:
    marks = [make_mark(f"p{i}", r) for i, r in enumerate(rows)]
    found = expand(marks)
    assert len(found) == len(list(itertools.product(*rows)))
    assert len({i.id for i in found}) == len(found)
    combos = [tuple(i.values[f"p{k}"] for k in range(len(rows))) for i in found]
    assert combos == list(itertools.product(*rows))  # nearest the def varies slowest
    assert all("/" not in i.id and "[" not in i.id for i in found)


def test_ids_follow_pytest() -> None:
    mark = make_mark("x", ["east", 2, 1.5, None, True, ("t",), "", len])
    assert mark.ids == ("east", "2", "1.5", "None", "True", "x5", "x6", "len")
    assert make_mark("a, b", [(1, "u"), (2, "v")]).ids == ("1-u", "2-v")
    assert make_mark("a", [1, 2], ids=lambda v: f"n{v}" if v == 1 else None).ids == ("n1", "2")


def test_decorators_stack_nearest_first() -> None:
    @lp.task.parametrize("year", [2023, 2024])
    @lp.task.parametrize("region", ["east", "west"])
    def task_f(region: str, year: int) -> str:
        return f"{region}{year}"

    assert [i.id for i in expand(getattr(task_f, ATTRIBUTE))] == [
        "east-2023", "east-2024", "west-2023", "west-2024",
    ]  # fmt: skip


def test_a_binding_fills_values_groups_and_single_instances() -> None:
    @lp.task.parametrize("region", ["east", "west"])
    def task_f(region: str, clean: dict[str, int], one: int) -> None: ...

    group = (("east", "clean[east]"), ("west", "clean[west]"))
    binding = Binding("f[west]", (("clean", group), ("one", "clean[east]")), ("west", None))
    upstream = {"clean[east]": 1, "clean[west]": 2}
    filled = binding(task_f, upstream)
    assert filled == {"region": "west", "clean": {"east": 1, "west": 2}, "one": 1}
    stale = Binding("f[north]", (), ("north", None))
    with pytest.raises(RuntimeError, match="changed while lp was reading its file"):
        stale(task_f, {})


def test_fill_puts_values_into_paths_and_leaves_other_braces() -> None:
    assert fill(("data/{region}.csv", "{other}/x", "*.txt"), {"region": "east"}) == (
        "data/east.csv", "{other}/x", "*.txt",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("x", "abc"), "values must be a list"),
        (("x y", [1]), "is not a parameter's name"),
        (("x, x", [(1, 2)]), "repeat a name"),
        ((3, [1]), "names must be a name"),
        (("x", [1], "one"), "ids must be a list of ids"),
        (("x", [1], [""]), "is not a usable id"),
        (("x", [1], lambda v: "../up"), "ids gave '../up' for 1, which is not a usable id"),
        (("this", [1]), "cannot fill 'this': lp fills it"),
    ],
)
def test_bad_marks_say_what_is_wrong(args: tuple[object, ...], error: str) -> None:
    with pytest.raises((TypeError, ValueError), match=error):
        make_mark(*args)


def test_values_that_differ_from_those_lp_read_are_refused() -> None:
    @lp.task.parametrize("x", ["a", "b"])
    def task_f(x: str) -> str:
        return x

    read = expand(getattr(task_f, ATTRIBUTE))[1]
    wrong = Binding("f[b]", (), ("b", "a digest of other values"))
    with pytest.raises(RuntimeError, match="differ from one process to the next"):
        wrong(task_f, {})
    from little_pipelines.project.params import values_digest

    right = Binding("f[b]", (), ("b", values_digest(read)[0]))
    assert right(task_f, {}) == {"x": "b"}
