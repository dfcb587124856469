"""The sample project (sample_project/): a transit agency's boardings pipeline, run for real."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from e2e_helpers import Project, statuses

SAMPLE = Path(__file__).resolve().parent.parent / "sample_project"
EVERY_TASK = {
    "raw", "routes", "stops", "boardings", "data_quality", "database", "by_route", "by_day",
    "busiest_stops", "by_period", "summary", "route_chart", "day_chart", "report", "export",
}  # fmt: skip


@pytest.fixture
def sample(tmp_path: Path) -> Project:
    """A copy of the sample project, without whatever a local run left in it."""
    project = Project(tmp_path, "transit")
    ignore = shutil.ignore_patterns(".little_pipelines", "output", "__pycache__")
    shutil.copytree(SAMPLE, project.root, dirs_exist_ok=True, ignore=ignore)
    return project


def test_the_first_run_builds_the_report_and_the_second_runs_nothing(sample: Project) -> None:
    first = statuses(sample.run())
    assert set(first) == EVERY_TASK
    assert {status for status, _ in first.values()} == {"executed"}
    report = sample.read("output/report.html")
    assert report.count("<svg") == 2 and "Boardings by route" in report
    assert "<td>Botanic Garden</td><td class=n>31,293</td>" in report  # the data is seeded
    assert "5 of 7,168 rows of boardings.csv failed validation" in report
    export = sample.read("output/boardings_by_day.csv").splitlines()
    assert export[0] == "date,boardings" and len(export) == 29  # four weeks and a header
    assert (sample.root / "output" / "transit.sqlite").is_file()
    again = statuses(sample.run())
    assert {status for status, _ in again.values()} == {"cached"}


def test_rows_that_fail_validation_are_dropped_with_a_warning_each(sample: Project) -> None:
    sample.run()
    log = sample.read(".little_pipelines/logs/boardings.log")
    warnings = [line for line in log.splitlines() if "| WARNING" in line]
    assert len(warnings) == 5
    assert any("unknown stop 'S999'" in line for line in warnings)
    assert any("boardings is '-4', not a count" in line for line in warnings)


def test_editing_one_query_reruns_its_task_and_what_depends_on_it(sample: Project) -> None:
    sample.run()
    sample.replace("queries.py", "GROUP BY date\nORDER BY date", "GROUP BY date\nORDER BY 1")
    rerun = {name: s for name, s in statuses(sample.run()).items() if s[0] == "executed"}
    # by_day's rows come out the same: early cutoff stops there
    assert rerun == {"by_day": ("executed", "code")}
    sample.replace("queries.py", "SUM(boardings) AS boardings\nFROM boardings\nGROUP BY date",
                   "SUM(boardings) + 1 AS boardings\nFROM boardings\nGROUP BY date")  # fmt: skip
    rerun = {name for name, s in statuses(sample.run()).items() if s[0] == "executed"}
    assert rerun == {"by_day", "summary", "day_chart", "report", "export"}


def test_a_changed_data_file_reruns_from_the_raw_files_down(sample: Project) -> None:
    sample.run()
    text = sample.read("data/routes.csv")
    sample.replace("data/routes.csv", "Night Owl", "Night Bus")
    assert text != sample.read("data/routes.csv")
    ran = statuses(sample.run())
    assert ran["raw"] == ("executed", "inputs") and ran["routes"][0] == "executed"
    report = sample.read("output/report.html")
    assert re.search(r"<td>33</td><td>Night Bus</td>", report)


def test_a_deleted_report_is_written_again_by_its_task_alone(sample: Project) -> None:
    sample.run()
    (sample.root / "output" / "report.html").unlink()
    rerun = {name: s for name, s in statuses(sample.run()).items() if s[0] == "executed"}
    assert rerun == {"report": ("executed", "outputs")}
    assert sample.read("output/report.html").count("<svg") == 2
