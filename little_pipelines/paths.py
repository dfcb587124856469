"""Which folders lp looks into: THE rule that discovery, `lp watch` and task inputs all ask.

SPEC section 3: hidden folders, `__pycache__`, `node_modules`, `site-packages`, `build`,
`dist`, virtual environments (a folder holding `pyvenv.cfg`), sub-folders that are projects of
their own, the `exclude` globs and lp's own state folder are never entered. Symlinked folders
are not followed. Keeping the rule in one object means a save in a skipped folder never starts
a run and a file in one is never imported nor counted as an input.
"""

from __future__ import annotations

import fnmatch
import os
import tomllib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SKIP_DIRS", "PathFilter", "excluded"]

SKIP_DIRS = frozenset({"__pycache__", "node_modules", "site-packages", "build", "dist"})


def excluded(rel: str, patterns: Sequence[str]) -> bool:
    """True when `rel` (or its last part) matches one of the `exclude` globs, or is below one."""
    name = rel.rsplit("/", 1)[-1]
    return any(
        fnmatch.fnmatch(rel, p) or fnmatch.fnmatch(name, p) or fnmatch.fnmatch(rel, p + "/*")
        for p in patterns
    )


def _is_project_root(folder: Path) -> bool:
    """A folder with its own `[tool.little_pipelines]` table: a project of its own."""
    try:
        with open(folder / "pyproject.toml", "rb") as f:
            data = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError):
        return False
    tool = data.get("tool")
    return isinstance(tool, dict) and "little_pipelines" in tool


@dataclass(frozen=True, slots=True)
class PathFilter:
    """The skip rules of one project: `root`, its `exclude` globs and its state folder."""

    root: Path
    exclude: tuple[str, ...] = ()
    state_dir: Path | None = None

    @classmethod
    def plain(cls, root: Path) -> PathFilter:
        """The rules of a folder with no configuration (lp's state folder in it is skipped)."""
        return cls(root, (), root / ".little_pipelines")

    def rel(self, path: Path) -> str:
        """`path` relative to the root (POSIX), or its absolute form when it lies outside."""
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return path.as_posix()

    def is_state(self, path: Path) -> bool:
        """True for lp's own state folder and everything in it (never a project file)."""
        return self.state_dir is not None and path.is_relative_to(self.state_dir)

    def is_excluded(self, path: Path) -> bool:
        """True for a path below the root that the `exclude` globs name (or are above)."""
        return (
            bool(self.exclude)
            and path.is_relative_to(self.root)
            and excluded(self.rel(path), self.exclude)
        )

    def skip_file(self, path: Path) -> bool:
        """True for a file that lp does not count when it walks a folder: hidden or excluded.

        Hidden files are editors' and tools' own (swap files, `.DS_Store`, `.~lock.x.csv#`).
        """
        return path.name.startswith(".") or self.is_excluded(path) or self.is_state(path)

    def _named_skip(self, path: Path) -> bool:
        """The checks that need no disk access: the folder's name and the exclude globs."""
        name = path.name
        return (
            name.startswith(".")
            or name in SKIP_DIRS
            or self.is_state(path)
            or self.is_excluded(path)
        )

    def skip_dir(self, path: Path) -> bool:
        """True for a folder that lp never enters (a folder it cannot read included)."""
        if self._named_skip(path):
            return True
        try:
            if path.is_symlink() or (path / "pyvenv.cfg").exists():
                return True
        except OSError:  # unreadable: there is nothing lp could read inside anyway
            return True
        return path != self.root and _is_project_root(path)

    def skipped_between(self, base: Path, path: Path) -> bool:
        """True when a folder strictly between `base` and `path` is one lp does not enter."""
        folders = [p for p in path.parents if p != base and p.is_relative_to(base)]
        return any(self._named_skip(p) for p in folders) or any(self.skip_dir(p) for p in folders)

    def walk(
        self,
        base: Path,
        enter: Callable[[Path], bool] | None = None,
        unreadable: list[Path] | None = None,
    ) -> Iterator[tuple[Path, list[str]]]:
        """Each folder entered from `base` (itself included), with its file names, sorted.

        `enter(folder)` may refuse more folders (a caller that knows nothing below can count).
        A folder that cannot be read is skipped and, when given, added to `unreadable`.
        """

        def readable(folder: Path) -> bool:
            if os.access(folder, os.R_OK | os.X_OK):
                return True
            if unreadable is not None:
                unreadable.append(folder)
            return False

        def failed(exc: OSError) -> None:
            if unreadable is not None and exc.filename:
                unreadable.append(Path(exc.filename))

        for dirpath, dirnames, filenames in os.walk(base, onerror=failed):
            folder = Path(dirpath)
            dirnames[:] = sorted(
                d
                for d in dirnames
                if not self._named_skip(folder / d)
                and readable(folder / d)
                and not self.skip_dir(folder / d)
                and (enter is None or enter(folder / d))
            )
            yield folder, sorted(filenames)

    def task_files(self, bases: Iterable[Path], unreadable: list[Path] | None = None) -> list[Path]:
        """Every `tasks_*.py` lp would import below `bases`, in a stable order.

        Folders that cannot be read are skipped, and added to `unreadable` when it is given.
        """
        found: dict[Path, None] = {}
        for base in bases:
            for folder, filenames in self.walk(base, unreadable=unreadable):
                for filename in filenames:
                    if filename.startswith("tasks_") and filename.endswith(".py"):
                        path = folder / filename
                        if not self.is_excluded(path):
                            found[path] = None
        return list(found)

    def folders(self, bases: Iterable[Path]) -> Iterator[Path]:
        """Every folder lp enters below `bases`."""
        for base in bases:
            for folder, _ in self.walk(base):
                yield folder

    def watches(self, path: Path) -> bool:
        """True for a path below the root that the rules let lp see (a file or a folder).

        Hidden files (editor swap and lock files) are left out too.
        """
        if path == self.root or not path.is_relative_to(self.root) or self.skip_file(path):
            return False
        return not self.skipped_between(self.root, path)
