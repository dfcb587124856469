"""TaskGraph: validation messages (duplicates, unknown names, cycles) and task selection."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from little_pipelines.engine.graph import TaskGraph, topological_order
from little_pipelines.engine.spec import TaskSpec
from little_pipelines.errors import (
    CycleError,
    DuplicateTaskError,
    PipelineValidationError,
    TaskNotFoundError,
    UnknownDependencyError,
)


def spec(name: str, *deps: str, file: str | None = None, line: int | None = None) -> TaskSpec:
    return TaskSpec(name, lambda upstream, this: name, "v1", deps=deps, file=file, line=line)


def test_duplicate_names_name_both_locations():
    with pytest.raises(DuplicateTaskError) as info:
        TaskGraph(
            [
                spec("load", file="tasks_a.py", line=3),
                spec("load", file="sub/tasks_b.py", line=17),
            ]
        )
    message = str(info.value)
    assert "'load'" in message
    assert "tasks_a.py:3" in message
    assert "sub/tasks_b.py:17" in message
    assert isinstance(info.value, PipelineValidationError)


def test_unknown_dependency_names_task_location_and_suggests():
    with pytest.raises(UnknownDependencyError) as info:
        TaskGraph(
            [
                spec("clean_orders"),
                spec("report", "clean_ordrs", file="tasks_sales.py", line=14),
            ]
        )
    message = str(info.value)
    assert "'report'" in message
    assert "tasks_sales.py:14" in message
    assert "'clean_ordrs'" in message
    assert "did you mean 'clean_orders'? A parameter that names" in message  # no `?.`
    assert info.value.file == "tasks_sales.py"
    assert info.value.line == 14


def test_unknown_dependency_without_close_match_makes_no_suggestion():
    with pytest.raises(UnknownDependencyError) as info:
        TaskGraph([spec("alpha"), spec("beta", "zzzzzz")])
    assert "did you mean" not in str(info.value)
    assert "(tasks: alpha)." in str(info.value)  # the tasks it could need: not itself


def test_cycle_is_printed_as_a_closed_path():
    with pytest.raises(CycleError) as info:
        TaskGraph([spec("a", "c"), spec("b", "a"), spec("c", "b"), spec("free")])
    cycle = info.value.cycle
    assert cycle[0] == cycle[-1]
    assert set(cycle) == {"a", "b", "c"}
    assert len(cycle) == 4
    assert " -> ".join(cycle) in str(info.value)
    # each step of the printed path is a real edge: x -> y means x needs y
    deps = {"a": {"c"}, "b": {"a"}, "c": {"b"}}
    for before, after in itertools.pairwise(cycle):
        assert after in deps[before]


def test_self_dependency_is_a_cycle():
    with pytest.raises(CycleError) as info:
        TaskGraph([spec("a", "a")])
    assert "a -> a" in str(info.value)


def test_order_puts_every_task_after_its_dependencies():
    graph = TaskGraph(
        [spec("report", "clean", "rates"), spec("clean", "load"), spec("load"), spec("rates")]
    )
    order = graph.order
    assert sorted(order) == ["clean", "load", "rates", "report"]
    assert order.index("load") < order.index("clean") < order.index("report")
    assert order.index("rates") < order.index("report")
    assert [s.name for s in graph] == order


def diamond() -> TaskGraph:
    #   load -> clean -> report
    #   load -> rates -> report ; other is unrelated
    return TaskGraph(
        [
            spec("report", "clean", "rates"),
            spec("rates", "load"),
            spec("clean", "load"),
            spec("load"),
            spec("other"),
        ]
    )


def test_upstream_selects_targets_and_everything_they_need_in_order():
    graph = diamond()
    assert graph.upstream(["clean"]) == ["load", "clean"]
    selected = graph.upstream(["report"])
    assert set(selected) == {"load", "clean", "rates", "report"}
    assert selected == [n for n in graph.order if n in selected]
    assert graph.upstream(["report"], include_targets=False) == [
        n for n in graph.order if n in {"load", "clean", "rates"}
    ]
    assert graph.upstream(["other"]) == ["other"]


def test_dependents_select_everything_downstream_in_order():
    graph = diamond()
    selected = graph.dependents(["load"])
    assert set(selected) == {"load", "clean", "rates", "report"}
    assert selected == [n for n in graph.order if n in selected]
    assert graph.dependents(["rates"]) == ["rates", "report"]
    assert graph.dependents(["report"]) == ["report"]


def test_unknown_name_in_selection_is_task_not_found_with_suggestion():
    graph = diamond()
    with pytest.raises(TaskNotFoundError) as info:
        graph.upstream(["reprot"])
    assert isinstance(info.value, KeyError)
    assert "did you mean 'report'?" in str(info.value)
    with pytest.raises(TaskNotFoundError):
        graph.dependents(["nope"])
    with pytest.raises(TaskNotFoundError):
        graph["nope"]


def test_a_graph_of_the_same_tasks_keeps_its_order_and_checks_the_rest_anew():
    first = TaskGraph([spec("c", "b"), spec("a"), spec("b", "a")])
    again = [spec("c", "b"), spec("a"), spec("b", "a")]  # new specs, same shape
    same = first.with_specs(again)
    assert same.order == first.order == ["a", "b", "c"]
    assert [s for s in same] == [again[1], again[2], again[0]]  # the new specs are used
    assert first.with_specs([spec("c"), spec("a"), spec("b", "a")]).order != first.order
    with pytest.raises(CycleError):
        first.with_specs([spec("c", "b"), spec("a", "c"), spec("b", "a")])
    with pytest.raises(DuplicateTaskError):
        first.with_specs([spec("a"), spec("a"), spec("b", "a")])


@given(
    st.dictionaries(
        st.sampled_from("abcdefgh"),
        st.lists(st.sampled_from("abcdefgh"), max_size=3).map(tuple),
        max_size=8,
    )
)
def test_topological_order_is_graphlibs_order(deps: dict[str, tuple[str, ...]]) -> None:
    """The run order stays the one graphlib gave; a cycle is found alike (None)."""
    import graphlib

    try:
        expected: list[str] | None = list(graphlib.TopologicalSorter(deps).static_order())
    except graphlib.CycleError:
        expected = None
    assert topological_order(deps) == expected
