"""Task inputs: one glob dialect, used both to list a task's input files and to match a save.

A pattern is a path or a glob, relative to the project root or absolute (a shared drive). Its
leading components without wildcards are its base folder; the rest is matched one path
component at a time: `*`, `?` and `[...]` stay inside a component, a `**` component stands for
any number of folders (none included). Whatever a pattern names, a folder stands for every file
below it. Below the base, the folders that discovery skips (paths.py) are not entered, hidden
and excluded files are left out, and lp's own state folder never counts. `InputSet.expand()`
lists exactly the files that `InputSet.matches()` accepts, so `lp watch` reacts to a save
precisely when the fingerprint would change.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from little_pipelines.fingerprint.code import digest, file_digest
from little_pipelines.paths import PathFilter

__all__ = [
    "InputPattern",
    "InputSet",
    "expand_inputs",
    "input_file_digests",
    "inputs_digest",
    "output_digests",
    "output_file",
    "output_stamps",
]

_WILDCARDS = frozenset("*?[")


def _is_glob(part: str) -> bool:
    return any(ch in _WILDCARDS for ch in part)


def _full(pattern: tuple[str, ...], parts: tuple[str, ...]) -> bool:
    """True when `parts` (path components) match every component of `pattern`."""

    @functools.cache
    def at(i: int, j: int) -> bool:
        if i == len(pattern):
            return j == len(parts)
        if pattern[i] == "**":
            return at(i + 1, j) or (j < len(parts) and at(i, j + 1))
        return j < len(parts) and fnmatchcase(parts[j], pattern[i]) and at(i + 1, j + 1)

    return at(0, 0)


def _viable(pattern: tuple[str, ...], parts: tuple[str, ...]) -> bool:
    """True when some longer path starting with `parts` could match `pattern` (for pruning)."""

    @functools.cache
    def at(i: int, j: int) -> bool:
        if j == len(parts):
            return True
        if i == len(pattern):
            return False
        if pattern[i] == "**":
            return at(i + 1, j) or at(i, j + 1)
        return fnmatchcase(parts[j], pattern[i]) and at(i + 1, j + 1)

    return at(0, 0)


@dataclass(frozen=True, slots=True)
class InputPattern:
    """One input pattern, split into its literal base path and its wildcard components."""

    text: str
    base: Path
    glob: tuple[str, ...]

    @classmethod
    def parse(cls, root: Path, text: str) -> InputPattern:
        """Split `text` (relative to `root`, or absolute); `.` and `..` in the base resolve."""
        parts = Path(text).parts
        cut = next((i for i, part in enumerate(parts) if _is_glob(part)), len(parts))
        literal = Path(*parts[:cut]) if cut else Path()
        base = Path(os.path.normpath(literal if literal.is_absolute() else root / literal))
        return cls(text, base, tuple(parts[cut:]))

    def _listed(self, rel: tuple[str, ...]) -> bool:
        """Whether a file at `base/rel` counts: it, or a folder above it, matches the glob."""
        if not self.glob:
            return True
        return any(_full(self.glob, rel[:k]) for k in range(1, len(rel) + 1))

    def matches(self, path: Path, paths: PathFilter) -> bool:
        """True when the file `path` is one that `expand` lists for this pattern."""
        if paths.is_state(path):
            return False
        if path == self.base:
            return not self.glob
        if not path.is_relative_to(self.base) or paths.skipped_between(self.base, path):
            return False
        if paths.skip_file(path):
            return False
        return self._listed(path.relative_to(self.base).parts)

    def expand(self, paths: PathFilter) -> Iterator[Path]:
        """The files this pattern names (a plain path that does not exist is kept)."""
        base = self.base
        if paths.is_state(base):
            return
        if not self.glob and not base.is_dir():
            yield base  # a file, or a missing path whose appearance will count as a change
            return
        if not base.is_dir():
            return
        for folder, filenames in paths.walk(base, enter=self._may_hold):
            rel = folder.relative_to(base).parts
            for name in filenames:
                path = folder / name
                if not paths.skip_file(path) and self._listed((*rel, name)):
                    yield path

    def _may_hold(self, folder: Path) -> bool:
        """False for a folder below which nothing can match (it is then not walked)."""
        rel = folder.relative_to(self.base).parts
        return not self.glob or self._listed(rel) or _viable(self.glob, rel)

    def watch_folder(self) -> Path:
        """The folder to watch for this pattern: its base, or the base's folder."""
        return self.base if self.glob or self.base.is_dir() else self.base.parent


class InputSet:
    """The input patterns of some tasks, with the project's skip rules: expand and match."""

    def __init__(self, root: Path, patterns: Iterable[str], paths: PathFilter | None = None):
        self.root = root
        self.paths = paths if paths is not None else PathFilter.plain(root)
        self.patterns = [InputPattern.parse(root, p) for p in dict.fromkeys(patterns)]

    def expand(self) -> list[Path]:
        """Every file the patterns name, sorted (see `InputPattern.expand`)."""
        found: set[Path] = set()
        for pattern in self.patterns:
            found.update(pattern.expand(self.paths))
        return sorted(found)

    def matches(self, path: Path) -> bool:
        """True when `expand()` lists `path` (a changed file is one of these inputs)."""
        return any(pattern.matches(path, self.paths) for pattern in self.patterns)

    def outside_folders(self) -> set[Path]:
        """Folders outside the root that must be watched too (shared drives)."""
        return {p.watch_folder() for p in self.patterns if not p.base.is_relative_to(self.root)}


def expand_inputs(
    root: Path, patterns: Iterable[str], paths: PathFilter | None = None
) -> list[Path]:
    """The files that input patterns (paths or globs, see the module docstring) name, sorted.

    A folder stands for every file below it. A plain path that does not exist is kept, so that
    its appearance later counts as a change.
    """
    return InputSet(root, patterns, paths).expand()


def input_file_digests(
    root: Path,
    patterns: Iterable[str],
    paths: PathFilter | None = None,
    leave_out: Iterable[str] = (),
) -> dict[str, str]:
    """Each input file's digest by relative path ("missing" for a named file that is absent).

    `leave_out` are the task's own outputs: a file it writes is never its input (else it
    would run again after every run).
    """
    found: dict[str, str] = {}
    own = {output_file(root, output) for output in leave_out}
    for path in expand_inputs(root, patterns, paths):
        if path in own:
            continue
        rel = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
        try:
            found[rel] = file_digest(path)
        except OSError:
            found[rel] = "missing"
    return found


def output_file(root: Path, output: str) -> Path:
    """Where a declared output is: relative to the root, or absolute; `.` and `..` resolved."""
    path = Path(output)
    return Path(os.path.normpath(path if path.is_absolute() else root / path))


def output_digests(root: Path, outputs: Iterable[str]) -> dict[str, str]:
    """Each output file's digest by its path as declared ("missing" for one that is absent)."""
    found: dict[str, str] = {}
    for output in outputs:
        try:
            found[output] = file_digest(output_file(root, output))
        except OSError:  # absent, or a folder: not the file the task said it writes
            found[output] = "missing"
    return found


def output_stamps(root: Path, outputs: Iterable[str]) -> dict[str, tuple[int, int, int] | None]:
    """Each output file's change time, modification time and size (None when absent): a
    file whose stamp a run did not change was not written by it."""
    found: dict[str, tuple[int, int, int] | None] = {}
    for output in outputs:
        try:
            st = os.stat(output_file(root, output))
        except OSError:
            found[output] = None
        else:
            found[output] = (st.st_ctime_ns, st.st_mtime_ns, st.st_size)
    return found


def inputs_digest(files: dict[str, str]) -> str:
    """One digest for the input files found by `input_file_digests`."""
    return digest("\n".join(f"{rel}|{d}" for rel, d in files.items()))
