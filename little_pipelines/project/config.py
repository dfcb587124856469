"""Project root and `[tool.little_pipelines]` configuration (SPEC section 3)."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from little_pipelines.errors import ConfigError
from little_pipelines.paths import PathFilter

__all__ = ["Config", "find_root", "load_config"]

_KEYS = {"name", "paths", "exclude", "cache_dir", "jobs"}


@dataclass(slots=True)
class Config:
    """The project's settings, validated."""

    root: Path
    name: str
    paths: list[Path]
    exclude: list[str] = field(default_factory=list)
    cache_dir: Path | None = None
    jobs: int = 1
    file: Path | None = None

    @property
    def state_dir(self) -> Path:
        """Where the runner keeps its cache and logs."""
        return self.cache_dir or self.root / ".little_pipelines"

    @property
    def path_filter(self) -> PathFilter:
        """The project's skip rules: what discovery, watch and task inputs look into."""
        return PathFilter(self.root, tuple(self.exclude), self.state_dir)


def _table(pyproject: Path) -> dict[str, Any] | None:
    try:
        with open(pyproject, "rb") as f:
            data = tomllib.load(f)
    except OSError:
        return None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{pyproject}: invalid TOML: {exc}", file=str(pyproject)) from exc
    tools = data.get("tool", {})
    table = tools.get("little_pipelines")
    if table is None:
        import difflib

        near = difflib.get_close_matches("little_pipelines", list(tools), n=1, cutoff=0.8)
        if near:
            raise ConfigError(
                f"{pyproject}: found [tool.{near[0]}] — did you mean [tool.little_pipelines]?",
                file=str(pyproject),
            )
    return table if isinstance(table, dict) else None


def find_root(start: Path | None = None) -> Path:
    """The nearest folder upward holding a pyproject.toml with `[tool.little_pipelines]`.

    Falls back to `start` (the current folder) when there is none.
    """
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file() and _table(candidate) is not None:
            return folder
    return here


def load_config(root: Path) -> Config:
    """Read and validate `[tool.little_pipelines]` under `root` (defaults when absent)."""
    if not root.is_dir():  # nothing is read from it, and nothing is written there
        what = "is not a folder" if root.exists() else "does not exist"
        raise ConfigError(f"the project root {root} {what} (--root names the project's folder)")
    root = root.resolve()
    pyproject = root / "pyproject.toml"
    table = _table(pyproject) if pyproject.is_file() else None
    if table is None:
        return Config(root=root, name=root.name, paths=[root])

    def bad(key: str, expected: str) -> ConfigError:
        return ConfigError(
            f"{pyproject.name}: [tool.little_pipelines] {key} must be {expected},"
            f" not {table[key]!r}",
            file=str(pyproject),
        )

    unknown = sorted(set(table) - _KEYS)
    if unknown:
        from little_pipelines.errors import did_you_mean

        raise ConfigError(
            f"{pyproject.name}: unknown key '{unknown[0]}' in [tool.little_pipelines]"
            f"{did_you_mean(unknown[0], _KEYS)} (known keys: {', '.join(sorted(_KEYS))})",
            file=str(pyproject),
        )
    name = table.get("name", root.name)
    if not isinstance(name, str) or not name.strip():
        raise bad("name", "a non-empty string")
    paths = table.get("paths", ["."])
    if not isinstance(paths, list) or not paths or not all(isinstance(p, str) for p in paths):
        raise bad("paths", "a non-empty list of folder names")
    resolved = _task_folders(root, pyproject, paths)
    exclude = table.get("exclude", [])
    if not isinstance(exclude, list) or not all(isinstance(p, str) for p in exclude):
        raise bad("exclude", "a list of glob patterns")
    cache_dir = table.get("cache_dir")
    if cache_dir is not None and (not isinstance(cache_dir, str) or not cache_dir.strip()):
        raise bad("cache_dir", "a folder name")
    if cache_dir is not None:
        # `~` and `$VARS` are expanded here, as a shell would; diskcache would expand them
        # again on its own, so a `$` left over (a variable that is not set) is refused
        cache_dir = os.path.expandvars(os.path.expanduser(cache_dir))
        if "$" in cache_dir:
            raise bad("cache_dir", "a folder whose $VARIABLES are all set")
    jobs = table.get("jobs", 1)
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise bad("jobs", "a whole number of at least 1")
    return Config(
        root=root,
        name=name,
        paths=resolved,
        exclude=exclude,
        cache_dir=(root / cache_dir).resolve() if cache_dir else None,
        jobs=jobs,
        file=pyproject,
    )


def _task_folders(root: Path, pyproject: Path, paths: list[str]) -> list[Path]:
    """The `paths` setting as folders, each one checked to exist inside the root."""
    resolved = [(root / p).resolve() for p in paths]
    for path, given in zip(resolved, paths, strict=True):
        if not path.is_relative_to(root):
            # tasks files are imported and named relative to the root: they must live in it
            raise ConfigError(
                f"{pyproject.name}: [tool.little_pipelines] paths names '{given}', which is"
                f" outside the project root {root}; tasks files must be inside the root"
                " (move the folder in, or give it its own [tool.little_pipelines] project)."
                " Data outside the root can be a task's inputs",
                file=str(pyproject),
            )
        if not path.is_dir():
            raise ConfigError(
                f"{pyproject.name}: [tool.little_pipelines] paths names '{given}',"
                " which is not a folder",
                file=str(pyproject),
            )
    return resolved
