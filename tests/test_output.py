"""The `--json` reporter: one object per run, on its own stream, when the run's output ends."""

from __future__ import annotations

import io
import json
from pathlib import Path

from little_pipelines.outcomes import Reason, Reporter, RunReport, Status, TaskReport
from little_pipelines.project.project import Project
from little_pipelines.ui.output import JsonReporter


class Notices(Reporter):
    def __init__(self) -> None:
        self.heard: list[str] = []

    def waiting(self, message: str) -> None:
        self.heard.append(f"waiting: {message}")

    def warning(self, message: str) -> None:
        self.heard.append(f"warning: {message}")


def test_one_json_object_when_the_run_closes(tmp_path: Path) -> None:
    (tmp_path / "tasks_a.py").write_text("def task_a():\n    return 1\n")
    out, notices = io.StringIO(), Notices()
    reporter = JsonReporter(Project(tmp_path), notices, out, trigger=["tasks_a.py"])
    reporter.waiting("another lp run holds the lock")
    reporter.warning("a folder cannot be read")
    report = RunReport(tasks=[TaskReport("a", Status.EXECUTED, Reason.NEW, 0.5)])
    reporter.run_finished(report)
    assert out.getvalue() == ""  # nothing before the run's output ends
    reporter.close()
    reporter.close()  # closing twice prints it once
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    data = json.loads(lines[0])
    assert (data["ok"], data["trigger"], data["counts"]["executed"]) == (True, ["tasks_a.py"], 1)
    assert [t["name"] for t in data["tasks"]] == ["a"]
    assert notices.heard == [
        "waiting: another lp run holds the lock",
        "warning: a folder cannot be read",
    ]


def test_nothing_is_printed_for_a_run_that_never_finished(tmp_path: Path) -> None:
    out = io.StringIO()
    JsonReporter(Project(tmp_path), Reporter(), out).close()
    assert out.getvalue() == ""
