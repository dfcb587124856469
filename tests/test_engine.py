"""The engine's promise (SPEC section 5): a task runs when, and only when, it must.

Tasks are TaskSpecs built by hand; their `code` stands for the code digest, so "editing a task"
is giving it a new code string. Each test checks what ran (the report and a list the task
functions append to) and what is cached.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from little_pipelines.engine import run as engine
from little_pipelines.engine.graph import TaskGraph
from little_pipelines.engine.options import RunOptions
from little_pipelines.engine.plan import decide, process_session
from little_pipelines.engine.spec import OnUpstreamError, TaskSpec
from little_pipelines.errors import LittlePipelinesError
from little_pipelines.expire import after_session, from_now, never, on_complete
from little_pipelines.outcomes import Reason, Reporter, RunReport, Status
from little_pipelines.store.cache import ResultCache, serialize

T0 = 1_750_000_000.0  # a fixed moment for the injected clock


class Reading(Mapping[str, Any]):
    """The upstream mapping a task receives, noting the results the task actually read."""

    def __init__(self, upstream: Mapping[str, Any], seen: dict[str, Any]) -> None:
        self._upstream = upstream
        self._seen = seen

    def __getitem__(self, name: str) -> Any:
        self._seen[name] = self._upstream[name]
        return self._seen[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._upstream)

    def __len__(self) -> int:
        return len(self._upstream)


class Project:
    """A hand-built set of tasks over one cache, with a log of the tasks that were called."""

    def __init__(self, tmp_path: Path) -> None:
        self.cache = ResultCache(tmp_path / "cache")
        self.specs: dict[str, TaskSpec] = {}
        self.values: dict[str, Any] = {}
        self.calls: list[str] = []
        self.seen: dict[str, dict[str, Any]] = {}

    def task(self, name: str, *deps: str, value: Any = None, code: str = "v1", **options: Any):
        """Add (or replace) a task returning `value` (or calling it with the upstream results)."""
        self.values[name] = value if value is not None else name.upper()

        def invoke(upstream, this):
            self.calls.append(this.name)
            seen = self.seen[this.name] = {}
            value = self.values[this.name]
            return value(Reading(upstream, seen)) if callable(value) else value

        options.setdefault("expire", never())
        self.specs[name] = TaskSpec(name, invoke, code, deps=deps, **options)

    def edit(self, name: str, code: str, **changes: Any) -> None:
        old = self.specs[name]
        if "value" in changes:
            self.values[name] = changes.pop("value")
        fields = {
            f: getattr(old, f)
            for f in (
                "invoke",
                "deps",
                "inputs",
                "input_root",
                "expire",
                "cache",
                "on_upstream_error",
            )
        }
        fields.update(changes)
        self.specs[name] = TaskSpec(name, code=code, **fields)

    def run(self, **options: Any) -> RunReport:
        """A run: what to run as RunOptions fields, the rest as engine.run's own arguments."""
        self.calls.clear()
        options.setdefault("clock", lambda: T0)
        chosen = {k: options.pop(k) for k in _RUN_OPTIONS if k in options}
        run_options = RunOptions.of(**chosen)
        return engine.run(TaskGraph(self.specs.values()), self.cache, run_options, **options)


_RUN_OPTIONS = ("targets", "force", "skip", "no_upstream", "dry_run", "exitfirst")


def outcome(report: RunReport) -> dict[str, tuple[str, str | None]]:
    return {
        t.name: (str(t.status), None if t.reason is None else str(t.reason)) for t in report.tasks
    }


EXECUTED = "executed"
CACHED = ("cached", None)


@pytest.fixture
def chain(tmp_path) -> Project:
    """load -> clean -> report, and an independent `other`."""
    p = Project(tmp_path)
    p.task("load", value=[1, 2, 3])
    p.task("clean", "load", value=lambda up: [x * 10 for x in up["load"]])
    p.task("report", "clean", value=lambda up: sum(up["clean"]))
    p.task("other", value="independent")
    return p


def test_first_run_executes_everything_as_new_and_stores_results(chain):
    report = chain.run()
    assert outcome(report) == {n: (EXECUTED, "new") for n in ("load", "clean", "report", "other")}
    assert report.ok
    assert chain.seen["report"] == {"clean": [10, 20, 30]}
    assert chain.cache.load("report") == 60
    assert sorted(chain.cache.names()) == ["clean", "load", "other", "report"]


def test_second_run_serves_everything_from_cache_and_calls_nothing(chain):
    chain.run()
    report = chain.run()
    assert outcome(report) == dict.fromkeys(("load", "clean", "report", "other"), CACHED)
    assert chain.calls == []


def test_results_dict_receives_the_stored_bytes_of_executed_tasks(chain):
    results: dict[str, Any] = {}
    chain.run(results=results)
    assert results["report"] == (chain.cache.entry("report").data, serialize(60))


def test_code_change_reruns_the_task_and_dependents_whose_upstream_changed(chain):
    chain.run()
    chain.edit("clean", "v2", value=lambda up: [x * 100 for x in up["load"]])
    report = chain.run()
    assert outcome(report) == {
        "load": CACHED,
        "clean": (EXECUTED, "code"),
        "report": (EXECUTED, "upstream"),
        "other": CACHED,
    }
    assert chain.calls == ["clean", "report"]
    assert chain.cache.load("report") == 600


def test_early_cutoff_an_equal_result_keeps_dependents_cached(chain):
    chain.run()
    # new code, same result: [10, 20, 30]
    chain.edit("clean", "v2", value=lambda up: [x + x * 9 for x in up["load"]])
    report = chain.run()
    assert outcome(report)["clean"] == (EXECUTED, "code")
    assert outcome(report)["report"] == CACHED
    assert chain.calls == ["clean"]


def test_early_cutoff_stops_propagation_midway(tmp_path):
    p = Project(tmp_path)
    p.task("a", value=1)
    p.task("b", "a", value=lambda up: up["a"] > 0)  # True for 1 and for 2
    p.task("c", "b", value=lambda up: "yes" if up["b"] else "no")
    p.run()
    p.edit("a", "v1", value=2)
    report = p.run(force={"a"})
    assert outcome(report) == {
        "a": (EXECUTED, "forced"),
        "b": (EXECUTED, "upstream"),
        "c": CACHED,
    }


def test_inputs_change_reruns_the_task(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "orders.csv").write_text("a,b\n1,2\n")
    p = Project(tmp_path)
    p.task(
        "read",
        value=lambda up: (data / "orders.csv").read_text(),
        inputs=("data/*.csv",),
        input_root=tmp_path,
    )
    p.task("count", "read", value=lambda up: len(up["read"]))
    p.task("plain")
    p.run()
    assert outcome(p.run()) == {"read": CACHED, "count": CACHED, "plain": CACHED}

    (data / "orders.csv").write_text("a,b\n1,2\n3,4\n")
    report = p.run()
    assert outcome(report) == {
        "read": (EXECUTED, "inputs"),
        "count": (EXECUTED, "upstream"),
        "plain": CACHED,
    }
    assert outcome(p.run())["read"] == CACHED

    (data / "more.csv").write_text("x")  # a new file matching the glob
    assert outcome(p.run())["read"] == (EXECUTED, "inputs")
    (data / "notes.txt").write_text("x")  # not an input
    assert outcome(p.run())["read"] == CACHED


def test_inputs_are_relative_to_the_run_root_by_default(tmp_path):
    (tmp_path / "config.toml").write_text("a = 1")
    p = Project(tmp_path)
    p.task("configured", inputs=("config.toml",))
    p.run(root=tmp_path)
    assert outcome(p.run(root=tmp_path))["configured"] == CACHED
    (tmp_path / "config.toml").write_text("a = 2")
    assert outcome(p.run(root=tmp_path))["configured"] == (EXECUTED, "inputs")


def test_missing_input_that_appears_reruns_the_task(tmp_path):
    p = Project(tmp_path)
    p.task("configured", inputs=("config.toml",), input_root=tmp_path)
    p.run()
    assert outcome(p.run())["configured"] == CACHED
    (tmp_path / "config.toml").write_text("a = 1")
    assert outcome(p.run())["configured"] == (EXECUTED, "inputs")


def test_from_now_expires_by_the_injected_clock(tmp_path):
    p = Project(tmp_path)
    p.task("rates", expire=from_now(seconds=10))
    p.task("use", "rates")
    p.run(clock=lambda: T0)
    assert outcome(p.run(clock=lambda: T0 + 5)) == {"rates": CACHED, "use": CACHED}
    report = p.run(clock=lambda: T0 + 11)
    assert outcome(report)["rates"] == (EXECUTED, "expired")
    # same result again: the dependent is not re-executed
    assert outcome(report)["use"] == CACHED
    # the new result counts from the moment it was stored
    assert outcome(p.run(clock=lambda: T0 + 20))["rates"] == CACHED
    assert outcome(p.run(clock=lambda: T0 + 22))["rates"] == (EXECUTED, "expired")


def test_after_session_is_fresh_within_the_same_process(tmp_path):
    p = Project(tmp_path)
    p.task("session", expire=after_session("session"))
    p.run()
    assert outcome(p.run(clock=lambda: T0 + 10**6))["session"] == CACHED


def test_after_session_result_from_another_process_is_expired(tmp_path):
    p = Project(tmp_path)
    p.task("session", expire=after_session("session"))
    p.run()
    # what another process left behind: the same entry, tied to a different session
    entry = p.cache.entry("session")
    assert entry.session == process_session()
    p.cache.update("session", session="another-process")
    report = p.run()
    assert outcome(report)["session"] == (EXECUTED, "expired")
    # "expired" alone puzzles when every new run of a script finds this: say which kind
    assert report.by_name()["session"].detail.startswith("after_session:")


def test_a_result_expired_by_the_clock_says_when(tmp_path):
    p = Project(tmp_path)
    p.task("hourly", expire=from_now(hours=1))
    p.run()
    report = p.run(clock=lambda: T0 + 2 * 3600)
    assert outcome(report)["hourly"] == (EXECUTED, "expired")
    assert report.by_name()["hourly"].detail.startswith("its result expired at ")


def test_on_complete_is_visible_downstream_then_expires_after_the_run(tmp_path):
    p = Project(tmp_path)
    p.task("token", value="secret", expire=on_complete("token"))
    p.task("use", "token", value=lambda up: up["token"] + "!")
    report = p.run()
    assert outcome(report) == {"token": (EXECUTED, "new"), "use": (EXECUTED, "new")}
    assert p.seen["use"] == {"token": "secret"}
    report = p.run()
    assert outcome(report) == {"token": (EXECUTED, "expired"), "use": CACHED}
    assert p.calls == ["token"]


def test_force_all_and_force_some(chain):
    chain.run()
    report = chain.run(force=True)
    assert {status for status, _ in outcome(report).values()} == {EXECUTED}
    assert {reason for _, reason in outcome(report).values()} == {"forced"}
    report = chain.run(force={"load"})
    assert outcome(report) == {
        "load": (EXECUTED, "forced"),
        "clean": CACHED,  # same result: early cutoff
        "report": CACHED,
        "other": CACHED,
    }


def test_cache_false_runs_every_time(chain):
    chain.edit("other", "v1", cache=False)
    chain.run()
    report = chain.run()
    assert outcome(report)["other"] == (EXECUTED, "always")
    assert chain.calls == ["other"]


def test_failure_stores_nothing_and_drops_the_previous_result(chain):
    chain.run()
    assert chain.cache.entry("clean") is not None

    def broken(up):
        raise ValueError("bad rows")

    chain.edit("clean", "v2", value=broken)
    report = chain.run()
    by_name = report.by_name()
    assert by_name["clean"].status is Status.FAILED
    assert by_name["clean"].reason is Reason.CODE
    assert by_name["clean"].error.type == "ValueError"
    assert by_name["clean"].error.message == "bad rows"
    assert by_name["report"].status is Status.UPSTREAM_FAILED
    assert by_name["report"].error.type == "DependencyFailure"
    assert "clean" in by_name["report"].error.message
    assert by_name["other"].status is Status.CACHED
    assert not report.ok
    assert report.exit_code == 1
    assert chain.cache.entry("clean") is None
    with pytest.raises(KeyError):
        chain.cache.load("clean")

    # back to the old code: the old result was dropped, so it must run again
    chain.edit("clean", "v1", value=lambda up: [x * 10 for x in up["load"]])
    report = chain.run()
    assert outcome(report)["clean"] == (EXECUTED, "new")
    assert outcome(report)["report"] == CACHED  # its result equals what report was made from


def test_failure_does_not_stop_independent_tasks(tmp_path):
    p = Project(tmp_path)
    p.task("bad", value=lambda up: 1 / 0)
    p.task("after_bad", "bad")
    p.task("independent")
    p.task("downstream_of_independent", "independent")
    report = p.run()
    assert outcome(report) == {
        "bad": ("failed", "new"),
        "after_bad": ("upstream_failed", None),
        "independent": (EXECUTED, "new"),
        "downstream_of_independent": (EXECUTED, "new"),
    }
    assert "after_bad" not in p.calls


def test_upstream_failure_skips_tasks_that_ask_for_it(tmp_path):
    p = Project(tmp_path)
    p.task("bad", value=lambda up: 1 / 0)
    p.task("tolerant", "bad", on_upstream_error=OnUpstreamError.SKIP)
    p.task("after_tolerant", "tolerant")
    report = p.run()
    by_name = report.by_name()
    assert by_name["tolerant"].status is Status.SKIPPED
    assert "bad" in by_name["tolerant"].detail
    assert by_name["after_tolerant"].status is Status.SKIPPED
    assert p.calls == ["bad"]


def test_upstream_failed_propagates_transitively(tmp_path):
    p = Project(tmp_path)
    p.task("bad", value=lambda up: 1 / 0)
    p.task("mid", "bad")
    p.task("last", "mid")
    report = p.run()
    assert report.by_name()["last"].status is Status.UPSTREAM_FAILED
    assert "'bad'" in report.by_name()["last"].error.message


def test_exitfirst_stops_at_the_first_failure(tmp_path):
    p = Project(tmp_path)
    p.task("first", value=lambda up: 1 / 0)
    p.task("second", "first")
    p.task("third")
    order = TaskGraph(p.specs.values()).order
    assert order.index("first") < order.index("third")
    report = p.run(exitfirst=True)
    by_name = report.by_name()
    assert by_name["first"].status is Status.FAILED
    assert by_name["third"].status is Status.SKIPPED
    assert "first failure" in by_name["third"].detail
    assert p.calls == ["first"]
    assert p.cache.entry("third") is None
    # without exitfirst, the independent task runs
    report = p.run()
    assert report.by_name()["third"].status is Status.EXECUTED


def test_skip_marks_tasks_skipped_and_feeds_their_cached_result(chain):
    chain.run()
    chain.edit("load", "v2", value=[7])
    report = chain.run(skip={"load"})
    assert outcome(report)["load"] == ("skipped", None)
    assert "load" not in chain.calls
    # the skipped task's cached result stays in use downstream
    assert outcome(report)["clean"] == CACHED
    assert chain.cache.load("load") == [1, 2, 3]


def test_skipping_a_task_without_a_result_skips_its_dependents(chain):
    report = chain.run(skip={"clean"})
    assert outcome(report) == {
        "load": (EXECUTED, "new"),
        "clean": ("skipped", None),
        "report": ("skipped", None),
        "other": (EXECUTED, "new"),
    }
    assert chain.calls == ["load", "other"]


def test_force_wins_over_skip(chain):
    chain.run()
    report = chain.run(force={"load"}, skip={"load"})
    assert outcome(report)["load"] == (EXECUTED, "forced")


def test_targets_select_the_targets_and_their_upstream(chain):
    report = chain.run(targets=["clean"])
    assert [t.name for t in report.tasks] == ["load", "clean"]
    assert chain.calls == ["load", "clean"]
    assert chain.cache.entry("report") is None
    report = chain.run(targets=["report"])
    assert outcome(report) == {"load": CACHED, "clean": CACHED, "report": (EXECUTED, "new")}


def test_unknown_target_is_task_not_found(chain):
    with pytest.raises(KeyError) as info:
        chain.run(targets=["reprot"])
    assert "did you mean 'report'?" in str(info.value)
    assert chain.calls == []


def test_no_upstream_feeds_stale_upstream_with_a_warning(chain):
    chain.run()
    chain.edit("clean", "v2", value=lambda up: ["changed"])
    chain.edit("report", "v2", value=lambda up: up["clean"])
    report = chain.run(targets=["report"], no_upstream=True)
    assert [t.name for t in report.tasks] == ["report"]
    assert outcome(report)["report"] == (EXECUTED, "code")
    assert chain.calls == ["report"]
    assert chain.seen["report"] == {"clean": [10, 20, 30]}  # the stale cached result
    assert len(report.warnings) == 1
    assert "clean" in report.warnings[0]
    assert "stale" in report.warnings[0]


def test_no_upstream_with_fresh_upstream_gives_no_warning(chain):
    chain.run()
    chain.edit("report", "v2")
    report = chain.run(targets=["report"], no_upstream=True)
    assert report.warnings == []
    assert outcome(report) == {"report": (EXECUTED, "code")}


def test_no_upstream_with_a_missing_upstream_result_is_an_error(chain):
    with pytest.raises(LittlePipelinesError) as info:
        chain.run(targets=["report"], no_upstream=True)
    assert "has no cached result" in str(info.value)
    assert chain.calls == []
    assert chain.cache.names() == []


def test_no_upstream_with_a_damaged_upstream_result_fails_the_task_and_runs_nothing_else(
    tmp_path,
):
    p = Project(tmp_path)
    p.task("big", value=BIG)
    p.task("total", "big", value=lambda up: sum(up["big"]))
    p.run()
    flip_a_byte(stored_file(p.cache, BIG))
    p.edit("total", "v2")
    report = p.run(targets=["total"], no_upstream=True)
    assert outcome(report) == {"total": ("upstream_failed", None)}
    assert report.by_name()["total"].error.message == (
        "the stored result of upstream task 'big' is damaged; run it first: lp run big"
    )
    assert p.calls == []


def test_dry_run_says_what_would_run_and_runs_nothing(chain):
    report = chain.run(dry_run=True)
    assert {t.status for t in report.tasks} == {Status.WOULD_RUN}
    assert {t.reason for t in report.tasks} == {Reason.NEW}
    assert chain.calls == []
    assert chain.cache.names() == []

    chain.run()
    chain.edit("clean", "v2")
    report = chain.run(dry_run=True)
    assert outcome(report) == {
        "load": CACHED,
        "clean": ("would_run", "code"),
        "report": ("would_run", "upstream"),  # its upstream will run, so assume it changes
        "other": CACHED,
    }
    assert chain.calls == []
    assert chain.cache.entry("clean").code == "v1"


def test_decide_reports_reasons_without_running(chain):
    chain.run()
    chain.edit("load", "v2")
    chain.calls.clear()
    graph = TaskGraph(chain.specs.values())
    assert decide(graph, chain.cache, clock=lambda: T0) == {
        "load": Reason.CODE,
        "clean": Reason.UPSTREAM,
        "report": Reason.UPSTREAM,
        "other": None,
    }
    assert chain.calls == []


def test_none_result_is_cached(tmp_path):
    p = Project(tmp_path)
    p.task("nothing", value=lambda up: None)
    p.task("after", "nothing", value=lambda up: up["nothing"] is None)
    p.run()
    assert outcome(p.run()) == {"nothing": CACHED, "after": CACHED}
    assert p.cache.load("after") is True


def test_unpicklable_result_fails_alone_with_a_clear_message(tmp_path):
    p = Project(tmp_path)
    p.task("locky", value=lambda up: threading.Lock())
    p.task("after", "locky")
    p.task("fine")
    report = p.run()
    by_name = report.by_name()
    assert by_name["locky"].status is Status.FAILED
    message = by_name["locky"].error.message
    assert "'locky'" in message
    assert "lock" in message
    assert "cannot be stored" in message
    assert by_name["after"].status is Status.UPSTREAM_FAILED
    assert by_name["fine"].status is Status.EXECUTED
    assert p.cache.entry("locky") is None


def test_unchanged_tasks_do_not_load_cached_upstream_results(tmp_path):
    big = list(range(100_000))
    p = Project(tmp_path)
    p.task("big", value=big)
    p.task("summary", "big", value=lambda up: len(up["big"]))
    p.task("leaf", "summary", value=lambda up: up["summary"] + 1)
    p.run()
    # damage the stored bytes of `big` (same size): only reading them would notice, and a
    # run that noticed would execute `big` again with a warning
    [stored] = [f for f in p.cache.directory.rglob("*.val") if f.stat().st_size > 100_000]
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 0xFF
    stored.write_bytes(bytes(data))

    p.edit("leaf", "v2")
    report = p.run()
    assert outcome(report) == {"big": CACHED, "summary": CACHED, "leaf": (EXECUTED, "code")}
    assert report.ok
    assert report.warnings == []
    assert p.seen["leaf"] == {"summary": 100_000}


def stored_file(cache: ResultCache, value: Any) -> Path:
    """The value file diskcache keeps `value`'s stored bytes in (values of 32 KB and more)."""
    payload = serialize(value)
    [found] = [f for f in cache.directory.rglob("*.val") if f.read_bytes() == payload]
    return found


def flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


BIG = list(range(20_000))  # pickles to more than 32 KB: diskcache keeps it in a file


def test_a_damaged_upstream_result_is_executed_again_before_its_dependent_runs(tmp_path):
    p = Project(tmp_path)
    p.task("big", value=BIG)
    p.task("total", "big", value=lambda up: sum(up["big"]))
    p.task("side", "big", value=lambda up: len(up["big"]))
    p.run()
    flip_a_byte(stored_file(p.cache, BIG))
    p.edit("total", "v2")
    report = p.run()
    assert outcome(report) == {
        "big": (EXECUTED, "new"),
        "total": (EXECUTED, "code"),
        "side": CACHED,
    }
    assert p.calls == ["big", "total"]
    assert p.seen["total"] == {"big": BIG}
    assert report.warnings == [
        "the stored result of 'big' is damaged: treated as no result, so 'big' runs again"
    ]
    assert p.cache.load("big") == BIG  # stored whole again
    assert outcome(p.run()) == dict.fromkeys(("big", "total", "side"), CACHED)


def test_a_missing_value_file_means_no_result_and_the_task_runs_again(tmp_path):
    p = Project(tmp_path)
    p.task("big", value=BIG)
    p.task("total", "big", value=lambda up: sum(up["big"]))
    p.run()
    stored_file(p.cache, BIG).unlink()
    assert p.cache.entry("big") is None
    assert p.cache.lost == {"big": "missing"}
    report = p.run()
    # `big` comes out the same, so `total` is served from the cache (early cutoff)
    assert outcome(report) == {"big": (EXECUTED, "new"), "total": CACHED}
    assert "the stored result of 'big' is missing" in report.warnings[0]
    assert p.cache.load("big") == BIG


def test_when_the_task_of_a_damaged_result_fails_again_its_dependents_fail(tmp_path):
    p = Project(tmp_path)
    p.task("big", value=BIG)
    p.task("total", "big", value=lambda up: sum(up["big"]))
    p.task("after", "total", value=lambda up: up["total"] + 1)
    p.run()
    flip_a_byte(stored_file(p.cache, BIG))
    p.edit("big", "v1", value=lambda up: user_code_that_fails([]))  # same code: still fresh
    p.edit("total", "v2")
    report = p.run()
    assert outcome(report) == {
        "big": ("failed", "new"),
        "total": ("upstream_failed", None),
        "after": ("upstream_failed", None),
    }
    assert report.by_name()["after"].error.message == "upstream task 'big' failed"
    assert not report.ok


def test_each_consumer_gets_its_own_copy_of_an_upstream_result(tmp_path):
    p = Project(tmp_path)
    p.task("rows", value=[1, 2, 3])

    def grow(up):
        rows = up["rows"]
        rows.append(99)  # mutating an argument is the task's own business
        return len(rows)

    p.task("grow", "rows", value=grow)
    p.task("total", "grow", "rows", value=lambda up: sum(up["rows"]))
    results: dict[str, Any] = {}
    report = p.run(results=results)
    assert report.ok
    assert p.seen["total"]["rows"] == [1, 2, 3]
    assert p.cache.load("rows") == [1, 2, 3]
    p.edit("total", "v2")  # again, with `rows` served from the cache this time
    p.run()
    assert p.seen["total"]["rows"] == [1, 2, 3]


def test_a_result_mutated_after_it_was_returned_is_stored_as_returned(tmp_path):
    kept: list[list[int]] = []
    p = Project(tmp_path)

    def make(up):
        kept.append([1])
        return kept[-1]

    p.task("make", value=make)
    p.task("use", "make", value=lambda up: (kept[-1].append(2), up["make"])[1])
    p.run()
    assert p.seen["use"] == {"make": [1]}
    assert p.cache.load("make") == [1]


def user_code_that_fails(rows: list[int]) -> int:
    return rows[10]


def test_failure_traceback_is_trimmed_to_user_frames(tmp_path):
    p = Project(tmp_path)
    p.task("boom", value=lambda up: user_code_that_fails([1, 2]))
    error = p.run().by_name()["boom"].error
    assert error.type == "IndexError"
    assert error.traceback.startswith("Traceback (most recent call last):")
    assert "user_code_that_fails" in error.traceback
    assert "test_engine.py" in error.traceback
    assert "IndexError: list index out of range" in error.traceback
    package = str(Path(engine.__file__).parent)
    assert package not in error.traceback


def chatty(p: Project, *messages: str) -> None:
    """Add the task `chatty`, which logs each of `messages` through `this.logger`."""

    def invoke(up, this):
        for message in messages:
            this.logger.info(message)
        return 1

    p.specs["chatty"] = TaskSpec("chatty", invoke, "v1")


def test_task_log_files_are_written_when_log_dir_is_given(tmp_path):
    logs = tmp_path / "logs"
    p = Project(tmp_path)
    chatty(p, "hello from the task")
    p.task("bad", value=lambda up: user_code_that_fails([]))
    p.run(log_dir=logs)
    chatty_log = (logs / "chatty.log").read_text()
    assert "hello from the task" in chatty_log
    bad_log = (logs / "bad.log").read_text()
    assert "IndexError" in bad_log
    assert "hello from the task" not in bad_log


def test_task_log_has_one_line_per_record(tmp_path):
    logs = tmp_path / "logs"
    p = Project(tmp_path)
    chatty(p, "first", "second")
    p.run(log_dir=logs)
    lines = (logs / "chatty.log").read_text().splitlines()
    assert [line.rpartition(" | ")[2] for line in lines][1:3] == ["first", "second"]
    assert "" not in lines


def test_no_log_files_without_log_dir(tmp_path):
    p = Project(tmp_path)
    p.task("quiet")
    p.run()
    assert not list(tmp_path.rglob("*.log"))


def test_with_log_every_task_off_a_quiet_task_gets_a_log_file_only_once_it_fails(tmp_path):
    logs = tmp_path / "logs"
    p = Project(tmp_path)
    fail = {"now": False}

    def moody(up, this):
        if fail["now"]:
            raise ValueError("bad day")
        return 1

    p.specs["moody"] = TaskSpec("moody", moody, "v1")
    p.run(log_dir=logs, log_every_task=False)
    assert not (logs / "moody.log").exists()  # quiet and fine: nothing to read
    fail["now"] = True
    p.run(log_dir=logs, log_every_task=False, force=True)
    first = (logs / "moody.log").read_text()
    assert "started (forced)" in first and "ValueError: bad day" in first
    fail["now"] = False
    p.run(log_dir=logs, log_every_task=False)
    # once it has a file, every run of it is noted there
    then = (logs / "moody.log").read_text()
    assert then.startswith(first) and "finished in" in then[len(first) :]


def test_with_log_every_task_off_the_notes_come_before_a_tasks_first_record(tmp_path):
    logs = tmp_path / "logs"
    p = Project(tmp_path)
    chatty(p, "the record")
    p.run(log_dir=logs, log_every_task=False)
    lines = (logs / "chatty.log").read_text().splitlines()
    messages = [line.rpartition(" | ")[2] for line in lines]
    assert messages[:2] == ["started (new)", "the record"] and messages[2].startswith("finished")


def test_the_reporter_receives_every_event_in_order(chain):
    events: list[tuple[str, Any]] = []

    class Recorder(Reporter):
        def run_started(self, plan):
            events.append(("run_started", [(t.name, t.will_run) for t in plan]))

        def task_started(self, name):
            events.append(("task_started", name))

        def task_finished(self, report):
            events.append(("task_finished", report.name))

        def run_finished(self, report):
            events.append(("run_finished", len(report.tasks)))

    chain.run()
    chain.edit("other", "v2")
    chain.run(reporter=Recorder())
    order = TaskGraph(chain.specs.values()).order
    assert events[0] == ("run_started", [(n, n == "other") for n in order])
    assert events[-1] == ("run_finished", 4)
    assert [e for e in events if e[0] == "task_started"] == [("task_started", "other")]
    assert [e[1] for e in events if e[0] == "task_finished"] == order


def test_prepare_runs_only_for_tasks_that_will_run(chain):
    prepared: list[str] = []
    chain.run()
    for name, spec in chain.specs.items():
        chain.specs[name] = replace(spec, prepare=lambda n=name: prepared.append(n))
    chain.edit("other", "v2")
    chain.specs["other"] = replace(chain.specs["other"], prepare=lambda: prepared.append("other"))
    chain.run()
    assert prepared == ["other"]


def test_prepare_failure_stops_the_run_before_anything_is_stored(chain):
    def broken_import() -> None:
        raise ImportError("no module named pandas")

    chain.edit("other", "v1")
    chain.specs["other"] = replace(chain.specs["other"], prepare=broken_import)
    with pytest.raises(ImportError):
        chain.run()
    assert chain.calls == []
    assert chain.cache.names() == []


def test_a_keyboard_interrupt_stores_nothing_for_the_interrupted_task(tmp_path):
    p = Project(tmp_path)

    def interrupted(up):
        raise KeyboardInterrupt

    p.task("first")
    p.task("stopped", "first", value=interrupted)
    p.task("after", "stopped")
    report = p.run()
    assert report.interrupted
    assert report.exit_code == 130
    assert p.cache.entry("first") is not None
    assert p.cache.entry("stopped") is None
    assert "after" not in p.calls
    # every selected task is in the report: the one never started as skipped, saying why
    got = {t.name: (t.status, t.detail) for t in report.tasks}
    assert got["after"] == (Status.SKIPPED, "not run: the run was interrupted")
    assert [t.name for t in report.tasks] == ["first", "stopped", "after"]


def test_a_task_that_expires_while_the_run_goes_on_runs_with_its_own_expiry(tmp_path):
    """Fresh when planned, expired by its turn: it runs unplanned, prepared all the same."""
    p = Project(tmp_path)
    now = [T0]
    policy: list[Any] = []  # what preparing (importing) the task tells of its expiry

    def slow(upstream: Any) -> str:
        now[0] += 100  # the run goes on, past the cached result's expiry
        return "slow"

    p.task("a_slow", value=slow, cache=False)
    p.task(
        "b_fast",
        expire=None,
        expire_of=lambda: policy[0] if policy else never(),
        prepare=lambda: policy.append(from_now(seconds=30)),
    )
    clock = lambda: now[0]  # noqa: E731
    engine.run(TaskGraph(p.specs.values()), p.cache, clock=clock)
    assert p.cache.entry("b_fast").expires_at is not None  # stored with its policy
    first_expiry = p.cache.entry("b_fast").expires_at
    policy.clear()
    now[0] = first_expiry - 1  # planned fresh; `a_slow` then moves the clock past the expiry
    report = engine.run(TaskGraph(p.specs.values()), p.cache, clock=clock)
    assert outcome(report) == {"a_slow": ("executed", "always"), "b_fast": ("executed", "expired")}
    assert p.cache.entry("b_fast").expires_at == int(now[0]) + 30  # not "never"


def test_a_ctrl_c_while_workers_run_reports_each_task_once(tmp_path):
    from concurrent.futures import Future

    from little_pipelines.engine.execute import Outcome, RemoteCall
    from little_pipelines.store.entries import serialize

    class Pool:
        """Two workers: `a` never answers, `b` answers at once."""

        jobs = 2
        inline_below_s = None

        def start(self) -> None:
            pass

        def submit(self, call, upstream):
            future: Future = Future()
            if call.name == "b":
                future.set_result(Outcome(serialize("B"), 0.0))
            return future

        def close(self) -> None:
            pass

    class CtrlCAfterB(Reporter):
        def task_finished(self, report):
            if report.name == "b":
                raise KeyboardInterrupt  # Ctrl-C just as b's line is shown

    p = Project(tmp_path)
    for name in ("a", "b"):
        p.task(name, remote=RemoteCall(name, str(tmp_path), "tasks.py", f"task_{name}", False))
    report = engine.run(
        TaskGraph(p.specs.values()), p.cache, executor=Pool(), reporter=CtrlCAfterB()
    )
    assert report.interrupted
    assert sorted(outcome(report).items()) == [("a", ("failed", "new")), ("b", ("executed", "new"))]
    assert len(report.tasks) == 2
