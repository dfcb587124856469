"""The library front door (SPEC section 2): lp.Task, @task.process and lp.Pipeline."""

from __future__ import annotations

import atexit
import json
import os
import subprocess
import sys
import textwrap
import types
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import diskcache
import pytest
from loguru import logger

import little_pipelines as lp
from little_pipelines.errors import CacheError
from little_pipelines.outcomes import Reporter, RunReport

QUIET = Reporter()


def make(name: str, calls: list[str], value: Any = None, **options: Any) -> lp.Task:
    """A task whose `run` notes its name in `calls` and returns `value` (or value(this))."""
    task = lp.Task(name, **options)

    @task.process
    def run(this):
        calls.append(this.name)
        return value(this) if callable(value) else value

    return task


def outcome(report: RunReport) -> dict[str, tuple[str, str | None]]:
    return {
        t.name: (str(t.status), None if t.reason is None else str(t.reason)) for t in report.tasks
    }


def execute(pipeline: lp.Pipeline, **options: Any) -> dict[str, tuple[str, str | None]]:
    return outcome(pipeline.execute(reporter=QUIET, **options))


CACHED = ("cached", None)


@pytest.fixture
def calls() -> list[str]:
    return []


@pytest.fixture
def chain(calls) -> lp.Pipeline:
    """Extract -> Transform -> Load, and an independent Other."""
    extract = make("Extract", calls, [1, 2, 3])
    transform = make(
        "Transform",
        calls,
        lambda this: [x * 2 for x in this.pipeline.get_result("Extract")],
        dependencies=["Extract"],
    )
    load = make(
        "Load",
        calls,
        lambda this: sum(this.pipeline.get_result("Transform")),
        dependencies=["Transform"],
    )
    other = make("Other", calls, "other")
    return lp.Pipeline("chain").add(load, other, transform, extract)


# -- Task ------------------------------------------------------------------------------------


def test_task_attributes_outside_a_pipeline():
    task = lp.Task("Alone", dependencies=["Other"])
    assert task.name == "Alone"
    assert task.dependencies is None
    assert task.pipeline is None
    assert task.result is None
    assert task.is_executed is False
    assert task.is_skipped is False
    assert task.logger is None
    assert task.log_dir is None
    assert repr(task) == "<Task ('Alone')>"


def test_task_info_is_the_defining_module_docstring():
    assert lp.Task("T").info == __doc__


def test_processes_are_called_as_methods_with_this():
    task = lp.Task("T")

    @task.process
    def double(this, x):
        return (this.name, x * 2)

    @task.process
    def run(this):
        return this.double(21)

    assert task.double(1) == ("T", 2)
    assert task.run() == ("T", 42)
    assert task.result == ("T", 42)
    assert task.is_executed is True
    with pytest.raises(AttributeError):
        task.not_a_process()


def test_task_attributes_once_in_a_pipeline(lp_home):
    a, b = lp.Task("A"), lp.Task("B", dependencies=["A"])
    pipeline = lp.Pipeline("P").add(a, b)
    assert a.pipeline is pipeline
    assert b.dependencies == {"A": a}
    assert a.dependencies == {}
    assert a.log_dir == lp_home / "P" / "logs"
    assert a.logger is not None


def test_is_skipped_is_settable_and_counts_towards_completion(calls):
    a, b = make("A", calls, 1), make("B", calls, 2)
    pipeline = lp.Pipeline("P").add(a, b)
    assert pipeline.is_complete is False
    a.run()
    assert pipeline.is_complete is False
    b.is_skipped = True
    assert b.is_skipped is True
    assert pipeline.is_complete is True


def test_invalid_if_upstream_errors_is_a_value_error():
    with pytest.raises(ValueError, match="FAIL"):
        lp.Task("T", if_upstream_errors="IGNORE")


def test_creating_tasks_and_pipelines_has_no_side_effects(lp_home, calls):
    import filelock  # noqa: F401 (the run lock's library registers its own exit hook on import)

    handlers = len(logger._core.handlers)
    hooks = atexit._ncallbacks()
    a = make("A", calls, 1)
    b = make("B", calls, 2, dependencies=["A"], expire_results=lp.expire.never())
    pipeline = lp.Pipeline("P").add(a, b)
    repr(pipeline)
    list(pipeline.tasks)
    pipeline.validate_tasks()
    assert list(lp_home.iterdir()) == []
    assert len(logger._core.handlers) == handlers
    assert atexit._ncallbacks() == hooks
    # a run adds its log sink only while it runs
    pipeline.execute(reporter=QUIET)
    assert len(logger._core.handlers) == handlers
    assert atexit._ncallbacks() == hooks


def test_task_logger_writes_to_the_task_log_file(lp_home):
    task = lp.Task("Chatty")

    @task.process
    def run(this):
        this.logger.info("loading 3 rows")
        this.logger.warning("one row is odd")
        return 3

    quiet = lp.Task("Quiet")

    @quiet.process
    def run(this):  # noqa: F811
        return 0

    pipeline = lp.Pipeline("Logs").add(task, quiet)
    pipeline.execute(reporter=QUIET)
    log = (lp_home / "Logs" / "logs" / "Chatty.log").read_text()
    assert "loading 3 rows" in log
    assert "one row is odd" in log
    assert "WARNING" in log
    assert "loading 3 rows" not in (lp_home / "Logs" / "logs" / "Quiet.log").read_text()


def test_task_log_records_a_failure_with_its_traceback(lp_home, calls):
    def fail(this):
        raise RuntimeError("the API said no")

    pipeline = lp.Pipeline("Logs").add(make("Fails", calls, fail))
    pipeline.execute(reporter=QUIET)
    log = (lp_home / "Logs" / "logs" / "Fails.log").read_text()
    assert "RuntimeError: the API said no" in log
    assert "Traceback" in log


# -- Pipeline basics ---------------------------------------------------------------------------


def test_pipeline_repr_ntasks_and_dependency_order(chain):
    assert repr(chain) == "<Pipeline: chain (4 tasks)>"
    assert chain.ntasks == 4
    order = [t.name for t in chain.tasks]
    assert sorted(order) == ["Extract", "Load", "Other", "Transform"]
    assert order.index("Extract") < order.index("Transform") < order.index("Load")
    assert all(isinstance(t, lp.Task) for t in chain.tasks)


def test_add_order_does_not_matter(calls):
    forward = lp.Pipeline("F").add(make("A", calls, 1), make("B", calls, 2, dependencies=["A"]))
    backward = lp.Pipeline("B").add(make("B", calls, 2, dependencies=["A"]), make("A", calls, 1))
    assert [t.name for t in forward.tasks] == [t.name for t in backward.tasks] == ["A", "B"]
    assert outcome(backward.execute(reporter=QUIET)) == {
        "A": ("executed", "new"),
        "B": ("executed", "new"),
    }


def test_add_returns_the_pipeline():
    pipeline = lp.Pipeline("P")
    assert pipeline.add(lp.Task("A")) is pipeline


def test_execute_runs_in_order_and_get_result_returns_values(chain, calls):
    report = chain.execute(reporter=QUIET)
    assert isinstance(report, RunReport)
    assert set(outcome(report).values()) == {("executed", "new")}
    assert calls.index("Extract") < calls.index("Transform") < calls.index("Load")
    assert chain.get_result("Load") == 12
    assert chain.get_task("Load").result == 12
    assert all(t.is_executed for t in chain.tasks)
    assert chain.is_complete


def test_second_execute_is_served_from_cache(chain, calls):
    chain.execute(reporter=QUIET)
    calls.clear()
    assert set(execute(chain).values()) == {CACHED}
    assert calls == []
    assert chain.get_result("Load") == 12
    assert all(t.is_executed for t in chain.tasks)
    assert all(t.is_skipped for t in chain.tasks)  # as in the original: cached means skipped
    assert chain.is_complete


def test_only_the_tasks_served_from_cache_are_marked_skipped(chain, calls):
    chain.execute(reporter=QUIET)
    execute(chain, force_tasks=["Other"])
    assert chain.get_task("Other").is_skipped is False
    assert chain.get_task("Extract").is_skipped is True
    chain.execute(reporter=QUIET, force=True)
    assert not any(t.is_skipped for t in chain.tasks)


def test_input_files_are_kept_as_given(tmp_path, monkeypatch, calls):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.txt").write_text("1")
    (tmp_path / "b.csv").write_text("2")
    given = [Path("a.txt"), "b.csv"]
    task = make("Read", calls, 1, input_files=given)
    assert task.input_files == [Path("a.txt"), "b.csv"]
    assert isinstance(task.input_files[0], Path)
    assert lp.Task("NoInputs").input_files is None
    pipeline = lp.Pipeline("P").add(task)
    assert execute(pipeline) == {"Read": ("executed", "new")}
    (tmp_path / "a.txt").write_text("changed")  # a Path entry still counts as an input
    assert execute(pipeline) == {"Read": ("executed", "inputs")}
    assert isinstance(task.input_files[0], Path)


def test_one_path_as_input_files_is_one_input(tmp_path, monkeypatch, calls):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data.txt").write_text("1")
    pipeline = lp.Pipeline("P").add(make("Read", calls, 1, input_files=Path("data.txt")))
    execute(pipeline)
    (tmp_path / "data.txt").write_text("2")
    assert execute(pipeline) == {"Read": ("executed", "inputs")}


def test_force_reruns_everything(chain, calls):
    chain.execute(reporter=QUIET)
    calls.clear()
    result = execute(chain, force=True)
    assert {status for status, _ in result.values()} == {"executed"}
    assert sorted(calls) == ["Extract", "Load", "Other", "Transform"]


def test_force_tasks_rerun_despite_the_cache(chain, calls):
    chain.execute(reporter=QUIET)
    calls.clear()
    result = execute(chain, force_tasks=["Transform"])
    assert result["Transform"] == ("executed", "forced")
    assert result["Extract"] == CACHED
    assert result["Load"] == CACHED  # same result: early cutoff
    assert calls == ["Transform"]


def test_skip_tasks_are_marked_skipped(chain, calls):
    result = execute(chain, skip_tasks=["Other"])
    assert result["Other"] == ("skipped", None)
    assert "Other" not in calls
    assert chain.get_task("Other").is_skipped is True
    assert chain.get_task("Other").is_executed is False
    assert chain.get_task("Load").is_skipped is False
    assert chain.is_complete


def test_force_wins_over_skip(chain, calls):
    chain.execute(reporter=QUIET)
    calls.clear()
    result = execute(chain, force_tasks=["Other"], skip_tasks=["Other"])
    assert result["Other"] == ("executed", "forced")
    assert calls == ["Other"]
    assert chain.get_task("Other").is_skipped is False


def test_unknown_names_in_force_or_skip_are_task_not_found(chain, calls):
    with pytest.raises(lp.TaskNotFoundError, match="did you mean 'Other'"):
        chain.execute(reporter=QUIET, skip_tasks=["Othr"])
    with pytest.raises(KeyError):
        chain.execute(reporter=QUIET, force_tasks=["Nope"])
    with pytest.raises(KeyError):
        chain.execute(reporter=QUIET, single_task="Nope")
    assert calls == []


def test_single_task_runs_it_and_its_upstream_only(chain, calls):
    result = execute(chain, single_task="Transform")
    assert result == {"Extract": ("executed", "new"), "Transform": ("executed", "new")}
    assert calls == ["Extract", "Transform"]
    calls.clear()
    result = execute(chain, single_task="Load")
    assert result == {"Extract": CACHED, "Transform": CACHED, "Load": ("executed", "new")}
    assert calls == ["Load"]
    assert chain.get_result("Load") == 12


def test_get_task_and_get_result_of_unknown_task_suggest_a_name(chain):
    assert chain.get_task("Load").name == "Load"
    with pytest.raises(KeyError) as info:
        chain.get_task("Laod")
    assert isinstance(info.value, lp.TaskNotFoundError)
    assert "'Laod'" in str(info.value)
    assert "did you mean 'Load'?" in str(info.value)
    with pytest.raises(lp.TaskNotFoundError):
        chain.get_result("Laod")


def test_get_result_before_any_run_is_none(chain):
    assert chain.get_result("Load") is None


def test_bare_loop_over_tasks_runs_them(chain, calls):
    for task in chain.tasks:
        task.run()
    assert calls == [t.name for t in chain.tasks]
    assert chain.get_result("Load") == 12
    assert chain.get_task("Transform").result == [2, 4, 6]


# -- validation --------------------------------------------------------------------------------


def test_validate_tasks_requires_a_run_process(calls):
    incomplete = lp.Task("Incomplete")

    @incomplete.process
    def extract(this):
        return 1

    pipeline = lp.Pipeline("P").add(make("Fine", calls, 1), incomplete)
    with pytest.raises(AttributeError, match="missing 'run' process") as info:
        pipeline.validate_tasks()
    assert "Incomplete" in str(info.value)
    with pytest.raises(AttributeError, match="missing 'run' process"):
        pipeline.execute(reporter=QUIET)
    assert calls == []


def test_unknown_dependency_names_task_and_dependency(lp_home, calls):
    pipeline = lp.Pipeline("P").add(
        make("Extract", calls, 1), make("Load", calls, 2, dependencies=["Extrct"])
    )
    with pytest.raises(lp.PipelineValidationError) as info:
        pipeline.validate_tasks()
    message = str(info.value)
    assert "'Load'" in message
    assert "'Extrct'" in message
    assert "did you mean 'Extract'?" in message
    with pytest.raises(lp.PipelineValidationError):
        pipeline.execute(reporter=QUIET)
    assert calls == []
    assert list(lp_home.iterdir()) == []


def test_cycle_is_a_validation_error_showing_the_cycle(calls):
    pipeline = lp.Pipeline("P").add(
        make("A", calls, 1, dependencies=["C"]),
        make("B", calls, 1, dependencies=["A"]),
        make("C", calls, 1, dependencies=["B"]),
    )
    with pytest.raises(lp.PipelineValidationError) as info:
        pipeline.validate_tasks()
    message = str(info.value)
    assert "cycle" in message
    assert all(name in message for name in ("A", "B", "C"))
    assert " -> " in message
    with pytest.raises(lp.PipelineValidationError):
        pipeline.execute(reporter=QUIET)
    assert calls == []


def test_two_different_tasks_with_one_name_are_an_error(calls):
    pipeline = lp.Pipeline("P")
    with pytest.raises(lp.PipelineValidationError, match="'Load'"):
        pipeline.add(make("Load", calls, 1), make("Load", calls, 2))
        pipeline.validate_tasks()


def test_adding_the_same_task_twice_is_harmless(calls):
    task = make("A", calls, 1)
    pipeline = lp.Pipeline("P").add(task, task)
    assert pipeline.ntasks == 1
    pipeline.validate_tasks()


# -- storage -----------------------------------------------------------------------------------


def test_storage_lives_under_the_home_folder(lp_home, chain):
    chain.execute(reporter=QUIET)
    assert chain.log_dir == lp_home / "chain" / "logs"
    assert (lp_home / "chain" / "cache.db").is_file()
    for name in ("Extract", "Transform", "Load", "Other"):
        assert (lp_home / "chain" / "logs" / f"{name}.log").is_file()
    assert isinstance(chain.cache, diskcache.Cache)
    assert Path(chain.cache.directory) == lp_home / "chain"


def test_missing_home_folders_are_created_with_parents(tmp_path, monkeypatch, calls):
    home = tmp_path / "a" / "b" / "c"
    monkeypatch.setenv("LITTLE_PIPELINES_HOME", str(home))
    pipeline = lp.Pipeline("Deep").add(make("A", calls, 1))
    assert not (tmp_path / "a").exists()
    pipeline.execute(reporter=QUIET)
    assert (home / "Deep" / "cache.db").is_file()
    assert (home / "Deep" / "logs" / "A.log").is_file()


def test_corrupt_cache_is_a_clear_error(lp_home, calls):
    (lp_home / "P").mkdir()
    (lp_home / "P" / "cache.db").write_bytes(b"garbage, not sqlite " * 200)
    pipeline = lp.Pipeline("P").add(make("A", calls, 1))
    with pytest.raises(CacheError) as info:
        pipeline.execute(reporter=QUIET)
    assert str(lp_home / "P") in str(info.value)
    assert "to reset it" in str(info.value)
    assert calls == []


def test_two_pipelines_have_separate_caches(calls):
    first = lp.Pipeline("First").add(make("A", calls, 1))
    second = lp.Pipeline("Second").add(make("A", calls, 2))
    first.execute(reporter=QUIET)
    assert execute(second) == {"A": ("executed", "new")}
    assert first.get_result("A") == 1
    assert second.get_result("A") == 2


# -- failures ----------------------------------------------------------------------------------


def failing(this):
    raise ValueError("bad input row 7")


def test_failing_task_is_not_cached_and_its_dependents_fail(calls):
    pipeline = lp.Pipeline("P").add(
        make("Bad", calls, failing),
        make("Child", calls, 1, dependencies=["Bad"]),
        make("Grandchild", calls, 1, dependencies=["Child"]),
        make("Independent", calls, "ok"),
    )
    report = pipeline.execute(reporter=QUIET)
    by_name = report.by_name()
    assert by_name["Bad"].status == "failed"
    assert by_name["Bad"].error.type == "ValueError"
    assert by_name["Bad"].error.message == "bad input row 7"
    for name in ("Child", "Grandchild"):
        assert by_name[name].status == "upstream_failed"
        assert by_name[name].error.type == lp.DependencyFailure.__name__
    assert by_name["Independent"].status == "executed"
    assert calls == ["Bad", "Independent"] or calls == ["Independent", "Bad"]
    assert not report.ok
    assert pipeline.get_result("Bad") is None
    assert pipeline.get_result("Independent") == "ok"
    assert pipeline.is_complete is False
    # nothing was cached for the failure: the next execute tries again
    calls.clear()
    assert execute(pipeline)["Bad"] == ("failed", "new")
    assert "Bad" in calls


def test_failing_task_traceback_shows_user_code_only(calls):
    pipeline = lp.Pipeline("P").add(make("Bad", calls, failing))
    error = pipeline.execute(reporter=QUIET).by_name()["Bad"].error
    assert "failing" in error.traceback
    assert "test_pipeline.py" in error.traceback
    assert str(Path(lp.__file__).parent) + os.sep not in error.traceback  # no frame of ours


def test_if_upstream_errors_skip_skips_the_dependent(calls):
    pipeline = lp.Pipeline("P").add(
        make("Bad", calls, failing),
        make("Tolerant", calls, 1, dependencies=["Bad"], if_upstream_errors="SKIP"),
    )
    result = execute(pipeline)
    assert result["Tolerant"] == ("skipped", None)
    assert "Tolerant" not in calls
    assert pipeline.get_task("Tolerant").is_skipped is True


# -- what re-executes ----------------------------------------------------------------------------


def test_downstream_reruns_when_an_upstream_result_changes(calls):
    source = {"rows": [1, 2]}
    pipeline = lp.Pipeline("P").add(
        make("Source", calls, lambda this: list(source["rows"])),
        make(
            "Total",
            calls,
            lambda this: sum(this.pipeline.get_result("Source")),
            dependencies=["Source"],
        ),
    )
    pipeline.execute(reporter=QUIET)
    source["rows"] = [1, 2, 3]
    calls.clear()
    result = execute(pipeline, force_tasks=["Source"])
    assert result == {"Source": ("executed", "forced"), "Total": ("executed", "upstream")}
    assert pipeline.get_result("Total") == 6


def test_early_cutoff_equal_upstream_result_keeps_dependents_cached(calls):
    pipeline = lp.Pipeline("P").add(
        make("Source", calls, [1, 2]),
        make(
            "Total",
            calls,
            lambda this: sum(this.pipeline.get_result("Source")),
            dependencies=["Source"],
        ),
    )
    pipeline.execute(reporter=QUIET)
    calls.clear()
    result = execute(pipeline, force_tasks=["Source"])
    assert result == {"Source": ("executed", "forced"), "Total": CACHED}
    assert calls == ["Source"]


def test_none_result_is_cached(calls):
    pipeline = lp.Pipeline("P").add(make("Nothing", calls, None))
    pipeline.execute(reporter=QUIET)
    calls.clear()
    assert execute(pipeline) == {"Nothing": CACHED}
    assert calls == []


def test_input_files_content_change_reruns(tmp_path, calls):
    data = tmp_path / "orders.csv"
    data.write_text("id\n1\n")
    pipeline = lp.Pipeline("P").add(
        make("Read", calls, lambda this: data.read_text(), input_files=[data]),
        make("Blind", calls, lambda this: data.read_text(), input_files=[data], hash_inputs=False),
    )
    pipeline.execute(reporter=QUIET)
    assert execute(pipeline) == {"Read": CACHED, "Blind": CACHED}
    data.write_text("id\n1\n2\n")
    assert execute(pipeline) == {"Read": ("executed", "inputs"), "Blind": CACHED}
    assert pipeline.get_result("Read") == "id\n1\n2\n"
    assert execute(pipeline) == {"Read": CACHED, "Blind": CACHED}


def test_relative_input_files_are_read_from_the_current_folder(tmp_path, monkeypatch, calls):
    monkeypatch.chdir(tmp_path)
    Path("config.toml").write_text("a = 1")
    pipeline = lp.Pipeline("P").add(make("Conf", calls, 1, input_files=["config.toml"]))
    pipeline.execute(reporter=QUIET)
    assert execute(pipeline) == {"Conf": CACHED}
    Path("config.toml").write_text("a = 2")
    assert execute(pipeline) == {"Conf": ("executed", "inputs")}


# -- expiry --------------------------------------------------------------------------------------

FUTURE = datetime.now() + timedelta(days=30)
PAST = datetime.now() - timedelta(days=1)


@pytest.mark.parametrize(
    ("policy", "second"),
    [
        pytest.param(lambda: lp.expire.never(), CACHED, id="never"),
        pytest.param(lambda: lp.expire.after_session("T"), CACHED, id="after_session"),
        pytest.param(lambda: lp.expire.on_complete("T"), ("executed", "expired"), id="on_complete"),
        pytest.param(lambda: lp.expire.from_now(days=1), CACHED, id="from_now"),
        pytest.param(lambda: lp.expire.from_now(), ("executed", "expired"), id="from_now-zero"),
        pytest.param(lambda: lp.expire.from_today(days=2), CACHED, id="from_today"),
        pytest.param(lambda: lp.expire.at_datetime(FUTURE), CACHED, id="at_datetime-future"),
        pytest.param(
            lambda: lp.expire.at_datetime(PAST), ("executed", "expired"), id="at_datetime-past"
        ),
        pytest.param(lambda: lp.expire.weekly(), CACHED, id="weekly"),
        pytest.param(lambda: lp.expire.monthly(), CACHED, id="monthly"),
        pytest.param(lambda: None, CACHED, id="default"),
        pytest.param(lambda: lambda: 3600, CACHED, id="custom-callable"),
        pytest.param(lambda: lambda: None, CACHED, id="custom-callable-none"),
        pytest.param(lambda: lambda: -5, ("executed", "expired"), id="custom-callable-past"),
    ],
)
def test_expire_factories_work_as_expire_results(calls, policy, second):
    pipeline = lp.Pipeline("P").add(make("T", calls, "value", expire_results=policy()))
    assert execute(pipeline) == {"T": ("executed", "new")}
    assert execute(pipeline) == {"T": second}
    assert pipeline.get_result("T") == "value"


def test_on_complete_result_is_visible_downstream_during_the_run(calls):
    pipeline = lp.Pipeline("P").add(
        make("Token", calls, "abc", expire_results=lp.expire.on_complete("Token")),
        make(
            "Use",
            calls,
            lambda this: this.pipeline.get_result("Token") + "!",
            dependencies=["Token"],
        ),
    )
    assert execute(pipeline) == {"Token": ("executed", "new"), "Use": ("executed", "new")}
    assert pipeline.get_result("Use") == "abc!"
    calls.clear()
    assert execute(pipeline) == {"Token": ("executed", "expired"), "Use": CACHED}
    assert calls == ["Token"]


# -- find_tasks ----------------------------------------------------------------------------------


def test_find_tasks_in_a_namespace_and_nested_modules(calls):
    a, b = make("A", calls, 1), make("B", calls, 2)
    module = types.ModuleType("more_tasks")
    module.c = make("C", calls, 3)
    module.not_a_task = 42
    namespace = {"a": a, "b": b, "module": module, "number": 1, "text": "A"}
    assert lp.find_tasks(namespace) == {a, b, module.c}
    assert lp.find_tasks(namespace, nested=False) == {a, b}


def test_find_tasks_in_locals(calls):
    first = make("First", calls, 1)
    second = make("Second", calls, 2)
    found = lp.find_tasks(locals())
    assert found == {first, second}
    pipeline = lp.Pipeline("P").add(*found)
    assert pipeline.ntasks == 2


# -- across processes ----------------------------------------------------------------------------

SCRIPT = '''
"""A pipeline run as a script, twice."""
import json
import little_pipelines as lp
from little_pipelines.outcomes import Reporter

session = lp.Task("Session")
@session.process
def run(this):
    return "made in this session"

ROWS = 3


def count_rows():
    return ROWS


kept = lp.Task("Kept", expire_results=lp.expire.never())
@kept.process
def run(this):
    return {"rows": count_rows()}

edited = lp.Task("Edited", dependencies=["Kept"], expire_results=lp.expire.never())
@edited.process
def run(this):
    # a comment
    return this.pipeline.get_result("Kept")["rows"] + 1

pipeline = lp.Pipeline("Script")
pipeline.add(session, kept, edited)
report = pipeline.execute(reporter=Reporter())
print(json.dumps({
    "tasks": {t.name: [t.status, t.reason] for t in report.tasks},
    "results": {t.name: t.result for t in pipeline.tasks},
    "get_result": {t.name: pipeline.get_result(t.name) for t in pipeline.tasks},
}))
'''


def run_script(path: Path, home: Path) -> dict[str, Any]:
    env = {**os.environ, "LITTLE_PIPELINES_HOME": str(home)}
    done = subprocess.run(
        [sys.executable, str(path)], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture
def script(tmp_path) -> Path:
    path = tmp_path / "pipeline_script.py"
    path.write_text(textwrap.dedent(SCRIPT).lstrip())
    return path


def test_after_session_results_expire_in_a_new_process(script, lp_home):
    first = run_script(script, lp_home)
    assert first["tasks"] == {
        "Session": ["executed", "new"],
        "Kept": ["executed", "new"],
        "Edited": ["executed", "new"],
    }
    second = run_script(script, lp_home)
    assert second["tasks"] == {
        "Session": ["executed", "expired"],
        "Kept": ["cached", None],
        "Edited": ["cached", None],
    }
    assert second["get_result"] == {
        "Session": "made in this session",
        "Kept": {"rows": 3},
        "Edited": 4,
    }


def test_editing_a_process_reruns_only_that_task_in_the_next_process(script, lp_home):
    run_script(script, lp_home)
    script.write_text(script.read_text().replace("# a comment", "# another comment"))
    assert run_script(script, lp_home)["tasks"]["Edited"] == ["cached", None]
    script.write_text(script.read_text().replace('["rows"] + 1', '["rows"] + 2'))
    result = run_script(script, lp_home)
    assert result["tasks"]["Kept"] == ["cached", None]
    assert result["tasks"]["Edited"] == ["executed", "code"]
    assert result["get_result"]["Edited"] == 5


def test_editing_a_helper_or_constant_reruns_its_users_in_the_next_process(script, lp_home):
    run_script(script, lp_home)
    script.write_text(script.read_text().replace("ROWS = 3", "ROWS = 30"))
    result = run_script(script, lp_home)
    assert result["tasks"]["Kept"] == ["executed", "code"]
    assert result["tasks"]["Edited"] == ["executed", "upstream"]
    assert result["get_result"]["Edited"] == 31
    script.write_text(
        script.read_text().replace("    return ROWS", "    return ROWS // 10 * 10  # same")
    )
    result = run_script(script, lp_home)
    assert result["tasks"]["Kept"] == ["executed", "code"]
    assert result["tasks"]["Edited"] == ["cached", None]  # equal result: early cutoff


def test_task_result_of_a_cached_task_in_a_new_process(script, lp_home):
    run_script(script, lp_home)
    second = run_script(script, lp_home)
    assert second["tasks"]["Kept"] == ["cached", None]
    assert second["results"]["Kept"] == {"rows": 3}


# -- results are values; one run at a time -------------------------------------------------


def test_get_result_and_task_result_are_fresh_copies(chain, calls):
    chain.execute(reporter=QUIET)
    first = chain.get_result("Extract")
    first.append(99)
    chain.get_task("Extract").result.append(100)
    assert chain.get_result("Extract") == [1, 2, 3]
    assert chain.get_task("Extract").result == [1, 2, 3]
    assert chain.get_result("Load") == 12


def test_a_task_mutating_what_get_result_gave_it_changes_nothing_for_others(calls):
    def extend(this):
        data = this.pipeline.get_result("Zero")
        data.extend(["more"])
        return data

    zero = make("Zero", calls, ["Some", "values"])
    one = make("One", calls, extend, dependencies=["Zero"])
    two = make("Two", calls, lambda this: this.pipeline.get_result("Zero"), dependencies=["One"])
    pipeline = lp.Pipeline("P").add(zero, one, two)
    pipeline.execute(reporter=QUIET)
    assert pipeline.get_result("Two") == ["Some", "values"]
    assert pipeline.get_result("One") == ["Some", "values", "more"]
    assert pipeline.get_result("Zero") == ["Some", "values"]


def test_concurrent_execute_of_one_pipeline_runs_each_task_once(calls):
    """Four execute() at once: the first runs the tasks, the others wait and find them cached."""
    import threading

    started, release, all_waiting = threading.Event(), threading.Event(), threading.Event()
    waiting: list[str] = []

    class Waits(Reporter):
        def waiting(self, message: str) -> None:
            waiting.append(message)
            if len(waiting) == 3:
                all_waiting.set()

    def slow(this):
        started.set()
        assert release.wait(timeout=30)
        return 1

    reports: list[RunReport] = []

    def execute() -> None:
        # each thread builds its own Pipeline object, as separate scripts would
        first = make("Slow", calls, slow, expire_results=lp.expire.never())
        after = make("After", calls, lambda this: 2, dependencies=["Slow"])
        reports.append(lp.Pipeline("P").add(first, after).execute(reporter=Waits()))

    threads = [threading.Thread(target=execute, daemon=True) for _ in range(4)]
    threads[0].start()
    assert started.wait(timeout=30)
    for thread in threads[1:]:
        thread.start()
    assert all_waiting.wait(timeout=30), waiting
    release.set()
    for thread in threads:
        thread.join(timeout=30)
    assert calls == ["Slow", "After"]
    assert sorted(outcome(r)["Slow"][0] for r in reports) == ["cached"] * 3 + ["executed"]
    assert "waiting for another lp process" in waiting[0]
