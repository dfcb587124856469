"""Planner: the caching promise as one rule, and a plan that assumes what must run changes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from little_pipelines.engine.graph import TaskGraph
from little_pipelines.engine.plan import Planner, decide, process_session
from little_pipelines.engine.spec import TaskSpec
from little_pipelines.outcomes import Reason
from little_pipelines.store.cache import ResultCache
from little_pipelines.store.entries import Entry, serialize

NOW = 5000.0


def spec(name: str, *deps: str, **fields: Any) -> TaskSpec:
    return TaskSpec(name, lambda upstream, this: None, fields.pop("code", "v1"), deps, **fields)


def entry(**changes: Any) -> Entry:
    fields: dict[str, Any] = {
        "code": "v1",
        "inputs": "",
        "upstream": {},
        "result": "r",
        "stored_at": 1000.0,
        "duration_s": 0.1,
    }
    fields.update(changes)
    return Entry(**fields)


@pytest.fixture
def planner(tmp_path: Path) -> Planner:
    graph = TaskGraph([spec("up"), spec("t", "up")])
    found = Planner(graph, ResultCache(tmp_path / "c"), clock=lambda: NOW, root=tmp_path)
    found.digests["up"] = "up-result"
    return found


@pytest.mark.parametrize(
    ("task", "stored", "reason"),
    [
        (spec("t", "up"), entry(upstream={"up": "up-result"}), None),
        (spec("t", "up"), None, Reason.NEW),
        (spec("t", "up", code="v2"), entry(upstream={"up": "up-result"}), Reason.CODE),
        (spec("t", "up"), entry(upstream={"up": "older"}), Reason.UPSTREAM),
        (spec("t", "up"), entry(upstream={}), Reason.UPSTREAM),
        (spec("t", "up", cache=False), entry(upstream={"up": "up-result"}), Reason.ALWAYS),
        (
            spec("t", "up"),
            entry(upstream={"up": "up-result"}, expires_at=NOW),
            Reason.EXPIRED,
        ),
        (spec("t", "up"), entry(upstream={"up": "up-result"}, expires_at=NOW + 1), None),
        (
            spec("t", "up"),
            entry(upstream={"up": "up-result"}, session="an earlier process"),
            Reason.EXPIRED,
        ),
        (spec("t", "up"), entry(upstream={"up": "up-result"}, session="THIS"), None),
    ],
    ids=[
        "fresh",
        "new",
        "code",
        "upstream changed",
        "upstream unknown",
        "always",
        "expired at",
        "not yet expired",
        "session ended",
        "same session",
    ],
)
def test_each_reason_to_run(
    planner: Planner, task: TaskSpec, stored: Entry | None, reason: Reason | None
) -> None:
    if stored is not None and stored.session == "THIS":
        stored.session = process_session()  # this process's, asked now
    assert planner.reason(task, stored) is reason


def test_forced_comes_before_every_other_reason(planner: Planner) -> None:
    planner.forced.add("t")
    assert planner.reason(spec("t", "up", code="v2"), None) is Reason.FORCED


def test_an_input_file_change_is_the_inputs_reason(planner: Planner, tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text("1\n")
    task = spec("t", inputs=("data.csv",), input_root=tmp_path)
    stored = entry(inputs=planner.inputs_of(task))
    assert planner.reason(task, stored) is None
    (tmp_path / "data.csv").write_text("2\n")
    planner.inputs.clear()  # a new question: the inputs are hashed again
    assert planner.reason(task, stored) is Reason.INPUTS


def test_a_plan_treats_what_must_run_as_changing_its_dependents(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path / "c")
    graph = TaskGraph([spec("a", code="v2"), spec("b", "a"), spec("c")])
    for name, upstream in (("a", {}), ("b", {"a": "a-result"}), ("c", {})):
        cache.store(name, serialize(name), entry(upstream=upstream, result=f"{name}-result"))
    assert decide(graph, cache, clock=lambda: NOW) == {
        "a": Reason.CODE,
        "b": Reason.UPSTREAM,  # a will run: assume its result changes
        "c": None,
    }


def test_the_session_is_this_process_and_no_other() -> None:
    """`after_session` results belong to the process: asked twice, the same; a child, not."""
    import subprocess
    import sys

    here = process_session()
    code = "from little_pipelines.engine.plan import process_session; print(process_session())"
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert process_session() == here
    assert child.stdout.strip() not in ("", here)


def test_without_proc_the_session_is_a_token_no_later_process_can_share(monkeypatch) -> None:
    import little_pipelines.engine.plan as plan

    class NoProc:
        def __init__(self, *args: object) -> None:
            pass

        def read_text(self) -> str:
            raise OSError("no /proc here")

    monkeypatch.setattr(plan, "Path", NoProc)
    monkeypatch.setattr(plan, "_TOKENS", {})
    here = process_session()
    assert process_session() == here
    plan._TOKENS.clear()  # as a new process with the same pid starts
    assert process_session() != here
