"""Canonical result digests (values.py): equal values agree in every process, unequal differ."""

from __future__ import annotations

import copy
import json
import os
import pickle
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from little_pipelines.fingerprint.values import canonical, value_digest

HERE = Path(__file__).resolve().parent


@dataclass
class Box:
    """A plain object whose state holds a set: walked through its __reduce_ex__."""

    name: str
    tags: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Point:
    x: int
    y: int


atoms = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.binary(max_size=8)
)
hashables = st.recursive(
    atoms,
    lambda inner: st.tuples(inner, inner) | st.frozensets(inner, max_size=4),
    max_leaves=8,
)
values = st.recursive(
    hashables,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.dictionaries(hashables, inner, max_size=4)
        | st.sets(hashables, max_size=6)
        | st.builds(Box, st.text(max_size=4), st.sets(st.text(max_size=4), max_size=6))
        | st.builds(Point, st.integers(), st.integers())
    ),
    max_leaves=20,
)

CHILD = """
import pickle, sys, json
from little_pipelines.fingerprint.values import value_digest
items = pickle.loads(sys.stdin.buffer.read())
print(json.dumps([value_digest(v) for v in items]))
"""


def digests_in_a_process(items: list[Any], seed: int) -> list[str]:
    """The digests of `items` (rebuilt from their pickle) in a new process with this hash seed."""
    env = {**os.environ, "PYTHONHASHSEED": str(seed)}
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, "-c", CHILD],
        input=pickle.dumps(items),
        env=env,
        capture_output=True,
        check=True,
        timeout=60,
    )
    return json.loads(done.stdout)


@settings(max_examples=3, deadline=None)
@given(st.lists(values, min_size=25, max_size=25))
def test_equal_values_have_equal_digests_under_any_hash_seed(items):
    here = [value_digest(v) for v in items]
    assert digests_in_a_process(items, 1) == here
    assert digests_in_a_process(items, 2) == here


def test_sets_of_strings_agree_across_seeds_where_their_pickles_do_not():
    words = [{f"w{i}" for i in range(50)}, Box("b", {f"t{i}" for i in range(50)})]
    assert digests_in_a_process(words, 3) == [value_digest(v) for v in words]


@settings(max_examples=120, deadline=None)
@given(values, values)
def test_unequal_values_have_different_digests(a, b):
    if a != b:
        assert value_digest(a) != value_digest(b)


@settings(max_examples=50, deadline=None)
@given(values)
def test_a_copy_has_the_digest_of_the_original(value):
    assert value_digest(copy.deepcopy(value)) == value_digest(value)
    assert value_digest(pickle.loads(pickle.dumps(value))) == value_digest(value)


def test_dict_order_counts_because_it_is_observable():
    assert value_digest({"a": 1, "b": 2}) != value_digest({"b": 2, "a": 1})


def test_types_count_where_values_compare_equal():
    digests = {value_digest(v) for v in (1, 1.0, True, [1], (1,), {1}, frozenset({1}))}
    assert len(digests) == 7
    assert value_digest(0.0) != value_digest(-0.0)


def test_sharing_counts_because_a_mutation_would_show_it():
    inner = [1]
    assert value_digest([inner, inner]) != value_digest([inner, [1]])
    assert value_digest([inner, inner]) == value_digest(copy.deepcopy([inner, inner]))


def test_cycles_and_long_number_lists_are_digested():
    loop: list[Any] = [1]
    loop.append(loop)
    assert value_digest(loop) == value_digest(copy.deepcopy(loop))
    assert value_digest(list(range(1000))) != value_digest(list(range(1001)))
    assert value_digest([1.5] * 100) != value_digest([1.5] * 99 + [2.5])


class Frame:
    """Stands for a DataFrame-like type that says how it is compared."""

    def __init__(self, rows: list[int], noise: object) -> None:
        self.rows = rows
        self.noise = noise  # not part of the value

    def __lp_digest__(self) -> bytes:
        return repr(self.rows).encode()


class Table:
    def __init__(self, cells: tuple[int, ...]) -> None:
        self.cells = cells
        self.cache = object()


@canonical.register(Table)
def _table(table: Table) -> str:
    return ",".join(map(str, table.cells))


def test_types_can_say_how_they_are_compared():
    assert value_digest(Frame([1, 2], object())) == value_digest(Frame([1, 2], object()))
    assert value_digest(Frame([1, 2], None)) != value_digest(Frame([2, 1], None))
    assert value_digest(Table((1, 2))) == value_digest(Table((1, 2)))
    assert value_digest(Table((1, 2))) != value_digest(Table((1, 3)))
    assert value_digest(Table((1, 2))) != value_digest(Frame([1, 2], None))


@dataclass(eq=False)
class Handle:
    """Hashable by identity and mutable: inside a set its sharing cannot be kept."""

    n: int


def test_what_the_walk_cannot_vouch_for_falls_back_to_the_pickle():
    h = Handle(1)
    value = {h}
    assert value_digest(value).startswith("p")  # the pickle's digest
    assert value_digest(value) == value_digest(value)
    assert value_digest({Point(1, 2)}).startswith("c")  # frozen: no sharing to keep
