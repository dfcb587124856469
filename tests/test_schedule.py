"""Schedule: one loop, dependency order, the given order among the ready, bounded slots."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from little_pipelines.engine.schedule import Schedule


@st.composite
def dags(draw: Any) -> tuple[list[str], dict[str, list[str]]]:
    """A random DAG in a topological order: each name depends on some earlier ones."""
    n = draw(st.integers(1, 12))
    names = [f"t{i}" for i in range(n)]
    deps = {
        name: draw(st.lists(st.sampled_from(names[:i]), unique=True)) if i else []
        for i, name in enumerate(names)
    }
    return names, deps


@given(dags())
def test_work_done_here_follows_the_given_order(
    dag: tuple[list[str], dict[str, list[str]]],
) -> None:
    order, deps = dag
    seen: list[str] = []
    rest = Schedule(order, deps).run(lambda name: seen.append(name), lambda name, f: None)
    assert seen == order and rest == []


@settings(max_examples=30, deadline=None)
@given(dags(), st.integers(1, 3))
def test_work_sent_elsewhere_starts_after_its_dependencies_and_within_the_slots(
    dag: tuple[list[str], dict[str, list[str]]], slots: int
) -> None:
    order, deps = dag
    finished: set[str] = set()
    peak = 0
    schedule = Schedule(order, deps)
    with ThreadPoolExecutor(slots) as pool:

        def start(name: str) -> Future[str]:
            nonlocal peak
            assert set(deps[name]) <= finished, f"{name} started before {deps[name]}"
            peak = max(peak, len(schedule.running) + 1)
            return pool.submit(lambda: name)

        def finish(name: str, future: Future[Any]) -> None:
            assert future.result() == name
            finished.add(name)

        assert schedule.run(start, finish, slots=slots) == []
    assert finished == set(order)
    assert peak <= slots


def test_once_halted_nothing_more_starts_and_the_rest_is_returned() -> None:
    order = ["a", "b", "c", "d"]
    deps = {"a": [], "b": ["a"], "c": [], "d": ["c"]}
    seen: list[str] = []
    rest = Schedule(order, deps).run(
        lambda name: seen.append(name), lambda name, f: None, halted=lambda: len(seen) == 2
    )
    assert seen == ["a", "b"]
    assert rest == ["c", "d"]


def test_dependencies_outside_the_selection_are_ignored() -> None:
    seen: list[str] = []
    Schedule(["b", "c"], {"b": ["a"], "c": ["b"]}).run(lambda n: seen.append(n), lambda n, f: None)
    assert seen == ["b", "c"]
