"""Watch mode: run, then rerun exactly what each save affects (SPEC section 6).

A background thread turns file events into batches of changed paths; the main thread runs the
project, and a save during a run stops the old plan after the running task. The change source
and the stop event are parameters, so tests can script changes.
"""

from __future__ import annotations

import fnmatch
import queue
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from .discovery import SKIP_DIRS
from .errors import LittlePipelinesError
from .outcomes import Reporter, RunReport
from .runner import Project

__all__ = ["Watcher", "file_changes", "relevant"]


def relevant(root: Path, exclude: list[str], inputs: set[str], path: Path) -> bool:
    """A changed path that can affect the project: a `.py` file or a declared input."""
    try:
        rel = path.relative_to(root)
    except ValueError:
        return False
    if any(p.startswith(".") or p in SKIP_DIRS for p in rel.parts[:-1]):
        return False
    text = rel.as_posix()
    if any(fnmatch.fnmatch(text, p) or fnmatch.fnmatch(text, p + "/*") for p in exclude):
        return False
    if path.suffix == ".py":
        return True
    return any(fnmatch.fnmatch(text, pattern) for pattern in inputs)


def file_changes(
    root: Path, is_relevant: Callable[[Path], bool], stop_event: threading.Event
) -> Iterator[set[Path]]:
    """Batches of changed, relevant paths under `root`, until `stop_event` is set."""
    import watchfiles

    for changes in watchfiles.watch(
        root,
        watch_filter=lambda _change, path: is_relevant(Path(path)),
        debounce=30,
        step=10,
        stop_event=stop_event,
        raise_interrupt=False,
    ):
        yield {Path(path) for _change, path in changes}


class Watcher:
    """Runs a project on every batch of changes until stopped.

    `on_run(report, trigger)` receives each run's report; `on_error(error, trigger)` receives a
    discovery or graph error (the watcher keeps going and the next good save runs normally).
    """

    def __init__(
        self,
        project: Project,
        *,
        targets: Sequence[str] | None = None,
        force: bool = False,
        exitfirst: bool = False,
        jobs: int | None = None,
        dask_address: str | None = None,
        reporter: Callable[[], Reporter] = Reporter,
        on_run: Callable[[RunReport, list[str]], None] = lambda report, trigger: None,
        on_error: Callable[[LittlePipelinesError, list[str]], None] = lambda error, trigger: None,
        on_change: Callable[[list[str]], None] = lambda trigger: None,
        changes: Callable[[threading.Event], Iterable[set[Path]]] | None = None,
        stop_event: threading.Event | None = None,
    ) -> None:
        self.project = project
        self.targets = targets
        self.force = force
        self.exitfirst = exitfirst
        self.jobs = jobs
        self.dask_address = dask_address
        self.reporter = reporter
        self.on_run = on_run
        self.on_error = on_error
        self.on_change = on_change
        self.stop_event = stop_event or threading.Event()
        self._changes = changes or (lambda stop: file_changes(project.root, self._relevant, stop))
        self._inputs: set[str] = set()
        self._pending: queue.Queue[set[Path] | None] = queue.Queue()
        self._changed = threading.Event()

    def _relevant(self, path: Path) -> bool:
        return relevant(self.project.root, self.project.config.exclude, self._inputs, path)

    def _listen(self) -> None:
        for batch in self._changes(self.stop_event):
            if batch:
                self._pending.put(batch)
                self._changed.set()
            if self.stop_event.is_set():
                break
        self._pending.put(None)  # the source ended: wake the main loop to finish

    def _next_batch(self) -> set[Path] | None:
        """Wait for changes and merge every batch already waiting (a burst is one run)."""
        while not self.stop_event.is_set():
            try:
                batch = self._pending.get(timeout=0.2)
            except queue.Empty:
                continue
            if batch is None:
                return None
            while True:
                try:
                    more = self._pending.get_nowait()
                except queue.Empty:
                    return batch
                if more is None:
                    self._pending.put(None)
                    return batch
                batch |= more
        return None

    def run(self) -> None:
        """Run once, then on every change until the stop event is set or changes end."""
        listener = threading.Thread(target=self._listen, name="lp-watch", daemon=True)
        listener.start()
        trigger: list[str] = []
        self._run_once(trigger)
        while (batch := self._next_batch()) is not None:
            trigger = sorted(self._rel(p) for p in batch)
            self.on_change(trigger)
            self._apply(batch)
            self._run_once(trigger)
        self.stop_event.set()

    def _rel(self, path: Path) -> str:
        try:
            return path.relative_to(self.project.root).as_posix()
        except ValueError:
            return str(path)

    def _apply(self, batch: set[Path]) -> None:
        """Forget what changed: parsed sources, imported modules, the graph, loaded results."""
        project = self.project
        for path in batch:
            project.index.forget(path)
        if any(not p.name.startswith("tasks_") for p in batch if p.suffix == ".py"):
            _unimport_project_modules(project.root)
            project.modules.forget_all()
        else:
            for path in batch:
                project.modules.forget(path)
        project.results.clear()
        project.invalidate()

    def _run_once(self, trigger: list[str]) -> None:
        """One run; `--force` applies to the first (later saves rerun only what they affect)."""
        self._changed.clear()
        reporter = self.reporter()
        try:
            report = self.project.run(
                self.targets,
                force=self.force and not trigger,
                exitfirst=self.exitfirst,
                jobs=self.jobs,
                dask_address=self.dask_address,
                reporter=reporter,
                stop=self._changed.is_set,
            )
        except LittlePipelinesError as error:
            self.on_error(error, trigger)
            return
        finally:
            close = getattr(reporter, "close", None)
            if close is not None:
                close()
        self._inputs = {pattern for spec in self.project.graph for pattern in spec.inputs}
        self.on_run(report, trigger)
        if report.interrupted:  # Ctrl-C inside a task ends watching, as it would elsewhere
            raise KeyboardInterrupt


def _unimport_project_modules(root: Path) -> None:
    """Drop the project's own helper modules from sys.modules so the next import is fresh."""
    for name, module in list(sys.modules.items()):
        file: Any = getattr(module, "__file__", None)
        if file and Path(file).is_relative_to(root) and "site-packages" not in str(file):
            del sys.modules[name]
