"""Which file changes matter to a project, and the stream of them (watchfiles).

`WatchRules` asks the same skip rules as discovery (paths.py) and the same glob dialect as the
fingerprints of inputs (inputs.py), so watch reruns on exactly the saves a run would notice.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from little_pipelines.fingerprint.inputs import InputSet
from little_pipelines.paths import PathFilter

if TYPE_CHECKING:
    from little_pipelines.project.project import Project

__all__ = ["ChangeSource", "WatchRules", "file_changes"]

# `changes(stop_event)` yields batches of changed paths. Its first item, possibly empty, says
# that it is listening: the watcher's first run starts only then, so no save is missed.
ChangeSource = Callable[[threading.Event], Iterable[set[Path]]]


class WatchRules:
    """The one predicate for "this change can affect the project".

    A declared input (wherever it lives), or, below the root and outside skipped folders: a
    `.py` file, a folder that holds `.py` files (created or renamed into place), or a vanished
    folder that held tasks files.
    """

    def __init__(
        self, paths: PathFilter, inputs: InputSet, task_dirs: frozenset[Path] = frozenset()
    ) -> None:
        self.paths = paths
        self.inputs = inputs
        self.task_dirs = task_dirs

    @classmethod
    def of(cls, project: Project, paths: PathFilter) -> WatchRules:
        """The rules for a project whose graph has just been read."""
        graph = project.graph
        patterns = [p for name in graph.order for p in graph[name].inputs]
        files = {file for name in graph.order if (file := graph[name].file)}
        dirs = {
            folder
            for file in files
            for folder in (project.root / file).parents
            if folder != project.root and folder.is_relative_to(project.root)
        }
        return cls(paths, InputSet(project.root, patterns, paths), frozenset(dirs))

    def __call__(self, path: Path) -> bool:
        if self.inputs.matches(path):
            return True
        if not self.paths.watches(path):
            return False
        if path.suffix == ".py":
            return True
        if path.is_dir():
            return not self.paths.skip_dir(path) and _holds_python(self.paths, path)
        return path in self.task_dirs and not path.exists()

    def folders(self) -> list[Path]:
        """The folders to watch: the root, and existing input folders outside it."""
        outside = {p for p in self.inputs.outside_folders() if p.is_dir()}
        root = self.paths.root
        return [root, *sorted(p for p in outside if not p.is_relative_to(root))]


def _holds_python(paths: PathFilter, folder: Path) -> bool:
    return any(
        name.endswith(".py") and not name.startswith(".")
        for _, names in paths.walk(folder)
        for name in names
    )


def file_changes(
    folders: Callable[[], list[Path]],
    is_relevant: Callable[[Path], bool],
    stop_event: threading.Event,
    on_watching: Callable[[list[Path]], None] = lambda folders: None,
) -> Iterator[set[Path]]:
    """Batches of changed, relevant paths, until `stop_event` is set.

    Yields an empty set once listening and then on quiet intervals. When `folders()` changes
    (an input folder outside the root appeared in the graph), a new watcher starts before the
    old one is drained and closed, so no event falls in between; `on_watching(folders)` says
    which folders are watched, each time that changes.
    """
    watched = folders()
    source = _watch(watched, is_relevant, stop_event)
    try:
        if (batch := next(source, None)) is None:
            return
        on_watching(watched)
        yield batch
        while (batch := next(source, None)) is not None:
            yield batch
            wanted = folders()
            if wanted != watched:
                new = _watch(wanted, is_relevant, stop_event)
                first = next(new, None)  # listening from here on
                # what the old one saw meanwhile; a save seen by both starts one more run
                last = next(source, None)
                source.close()
                source, watched = new, wanted
                on_watching(wanted)
                merged = (first or set()) | (last or set())
                if merged:
                    yield merged
    finally:
        source.close()


def _watch(
    folders: list[Path], is_relevant: Callable[[Path], bool], stop_event: threading.Event
) -> Generator[set[Path], None, None]:
    import watchfiles

    for changes in watchfiles.watch(
        *folders,
        watch_filter=lambda _change, path: is_relevant(Path(path)),
        debounce=30,
        step=10,
        stop_event=stop_event,
        rust_timeout=50,
        yield_on_timeout=True,
        raise_interrupt=False,
    ):
        yield {Path(path) for _change, path in changes}
