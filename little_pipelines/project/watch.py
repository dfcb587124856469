"""Watch mode: run, then rerun exactly what each save affects (SPEC section 6).

A background thread turns file events into batches of changed paths; the main thread runs the
project, and a save during a run stops the old plan after the running task. What counts as a
change is decided by `WatchRules` (changes.py). The change source and the stop event are
parameters, so tests can script changes.
"""

from __future__ import annotations

import gc
import queue
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from little_pipelines.engine.options import RunOptions
from little_pipelines.errors import LittlePipelinesError
from little_pipelines.fingerprint.inputs import InputSet
from little_pipelines.outcomes import Reporter, RunReport
from little_pipelines.project.changes import ChangeSource, WatchRules, file_changes
from little_pipelines.project.project import Project

__all__ = ["Watcher"]


class Watcher:
    """Runs a project on every batch of changes until stopped.

    `on_run(report, trigger)` receives each run's report; `on_error(error, trigger)` receives
    what stopped a run from starting: a LittlePipelinesError (discovery, import or graph
    error), or anything else, which is a bug of ours. Either way the watcher keeps going and
    the next good save runs normally.
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
        reporter: Callable[[list[str]], Reporter] = lambda trigger: Reporter(),
        on_run: Callable[[RunReport, list[str]], None] = lambda report, trigger: None,
        on_error: Callable[[Exception, list[str]], None] = lambda error, trigger: None,
        on_change: Callable[[list[str]], None] = lambda trigger: None,
        select: Callable[[Project], list[str]] | None = None,
        capture: bool = False,
        changes: ChangeSource | None = None,
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
        self.select = select  # the targets of each run, chosen anew (-k, -m): saves add tasks
        self.capture = capture  # what tasks print goes to their logs (not -s)
        self.stop_event = stop_event or threading.Event()
        self.paths = project.config.path_filter
        self.rules = WatchRules(self.paths, InputSet(project.root, (), self.paths))
        self._changes = changes or (
            lambda stop: file_changes(
                lambda: self.rules.folders(), self._relevant, stop, self._on_watching
            )
        )
        self._follows_folders = changes is None  # the source watches what `rules` names
        self._watched: list[Path] | None = None
        self._watched_changed = threading.Condition()
        self._pending: queue.Queue[set[Path] | None] = queue.Queue()
        self._changed = threading.Event()
        self._listening = threading.Event()
        self.failure: BaseException | None = None  # what ended the change source, if anything

    def _relevant(self, path: Path) -> bool:
        return self.rules(path)

    def _on_watching(self, folders: list[Path]) -> None:
        with self._watched_changed:
            self._watched = folders
            self._watched_changed.notify_all()

    def _await_folders(self) -> None:
        """Wait until the source watches what the rules name (a new input folder outside the
        root), so that a save made once the run is reported is seen."""
        if not self._follows_folders:
            return
        wanted = self.rules.folders()
        with self._watched_changed:
            self._watched_changed.wait_for(
                lambda: (
                    self._watched == wanted or self.stop_event.is_set() or self.failure is not None
                ),
                timeout=10,
            )

    def _listen(self) -> None:
        _leave_signals_to_the_main_thread()
        try:
            for batch in self._changes(self.stop_event):
                self._listening.set()
                if batch:
                    self._pending.put(batch)
                    self._changed.set()
                if self.stop_event.is_set():
                    break
        except Exception as exc:  # the watcher itself broke (a folder vanished, no inotify)
            self.failure = exc
        finally:
            self._listening.set()
            with self._watched_changed:
                self._watched_changed.notify_all()
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
        """Run once, then on every change until the stop event is set or changes end.

        Raises LittlePipelinesError when the change source itself failed.
        """
        listener = threading.Thread(target=self._listen, name="lp-watch", daemon=True)
        listener.start()
        self._listening.wait()  # a save from now on is seen, even during the first run
        trigger: list[str] = []
        try:
            self._run_once(trigger)
            _collect_while_idle()
            while (batch := self._next_batch()) is not None:
                trigger = sorted(self._rel(p) for p in batch)
                self.on_change(trigger)
                self._apply(batch)
                self._run_once(trigger)
                _collect_while_idle()
        finally:
            gc.unfreeze()
        self.stop_event.set()
        if self.failure is not None:
            raise LittlePipelinesError(
                f"watching stopped: {type(self.failure).__name__}: {self.failure}"
            ) from self.failure

    def _rel(self, path: Path) -> str:
        try:
            return path.relative_to(self.project.root).as_posix()
        except ValueError:
            return str(path)

    def _apply(self, batch: set[Path]) -> None:
        """Forget what changed: parsed sources, imported modules, the graph, loaded results.

        Saved tasks files that nothing imported by name are re-imported alone. Any other
        change to code (a helper module, a folder, a tasks file that another module imported
        as `import tasks_x`) drops every module the project's importer ran, so that the next
        import runs the saved code.
        """
        project = self.project
        for path in batch:
            project.index.forget(path)
        code = {path for path in batch if path.suffix == ".py" or not path.is_file()}
        root = project.root
        if any(not _is_tasks_file(root, p) for p in code) or project.modules.ran_any(code):
            project.modules.unimport()
        else:
            for path in code:
                project.modules.forget(path)
        project.results.clear()
        project.invalidate()

    def _run_once(self, trigger: list[str]) -> None:
        """One run; `--force` applies to the first (later saves rerun only what they affect)."""
        self._changed.clear()
        reporter = self.reporter(trigger)
        try:
            try:
                targets = self.select(self.project) if self.select is not None else self.targets
                options = RunOptions.of(
                    targets,
                    force=self.force and not trigger,
                    exitfirst=self.exitfirst,
                    capture=self.capture,
                )
                report = self.project.run(
                    options,
                    # fresh workers for every run: module state from before a save never
                    # leaks into the next run (a helper's memo of an input file, say)
                    jobs=self.jobs,
                    dask_address=self.dask_address,
                    reporter=reporter,
                    stop=self._changed.is_set,
                )
            except Exception as error:  # never ends the loop: the next save is another chance
                self.on_error(error, trigger)
                return
            self.rules = WatchRules.of(self.project, self.paths)
            self._await_folders()
        finally:
            reporter.close()  # once the next save is listened for: the run's output is final
        if report.interrupted:  # Ctrl-C inside a task ends watching, as it would elsewhere
            raise KeyboardInterrupt  # (before on_run, which would say "watching" again)
        self.on_run(report, trigger)


def _collect_while_idle() -> None:
    """Collect garbage now, between saves, then keep what survives out of later collections.

    A project of 10,000 tasks holds some 100,000 long-lived objects (specs, entries, parsed
    files); a collection during a rerun walked them all, up to 0.1 s of a save's answer.
    Frozen, they are skipped; each idle moment unfreezes and collects them again, so what
    a save made garbage is still freed.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def _leave_signals_to_the_main_thread() -> None:
    """Block stop signals in this thread and the threads it starts (watchfiles' own).

    The kernel hands a process signal to any thread that does not block it; one taken by a
    listener thread would leave a task sleeping in the main thread deaf to Ctrl-C.
    """
    import signal

    if hasattr(signal, "pthread_sigmask"):
        stops = {getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n)}
        signal.pthread_sigmask(signal.SIG_BLOCK, stops)


def _is_tasks_file(root: Path, path: Path) -> bool:
    return path.name.startswith("tasks_") and path.suffix == ".py" and path.is_relative_to(root)
