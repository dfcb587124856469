"""paths.py: the one rule for which folders lp enters (discovery, watch and inputs ask it)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from little_pipelines.errors import ConfigError
from little_pipelines.paths import PathFilter
from little_pipelines.project.config import load_config
from little_pipelines.project.discovery import find_task_files
from little_pipelines.ui.cli import app


def touch(root: Path, *rels: str) -> None:
    for rel in rels:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("def task_x():\n    return 1\n" if rel.endswith(".py") else "x")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    touch(
        tmp_path,
        "tasks_top.py",
        "pkg/tasks_pkg.py",
        "pkg/helpers.py",
        ".hidden/tasks_hidden.py",
        "__pycache__/tasks_cached.py",
        "node_modules/tasks_nm.py",
        "build/tasks_build.py",
        "venv/pyvenv.cfg",
        "venv/lib/tasks_venv.py",
        "scratch/tasks_scratch.py",
        "state/cache.db",
        "state/tasks_state.py",
        "tasks_wip.py",
        "nested/pyproject.toml",
        "nested/tasks_nested.py",
        "notnested/pyproject.toml",
        "notnested/tasks_notnested.py",
    )
    (tmp_path / "nested/pyproject.toml").write_text("[tool.little_pipelines]\n")
    (tmp_path / "notnested/pyproject.toml").write_text('[project]\nname = "x"\n')
    (tmp_path / "pyproject.toml").write_text(
        '[tool.little_pipelines]\nexclude = ["scratch", "tasks_wip.py"]\ncache_dir = "state"\n'
    )
    return tmp_path


def test_discovery_skips_every_folder_the_rules_name(tree: Path) -> None:
    found = [p.relative_to(tree).as_posix() for p in find_task_files(load_config(tree))]
    assert found == ["tasks_top.py", "notnested/tasks_notnested.py", "pkg/tasks_pkg.py"]


def test_watch_sees_the_same_files_that_discovery_reads(tree: Path) -> None:
    paths = load_config(tree).path_filter
    seen = {p.relative_to(tree).as_posix() for p in tree.rglob("*.py") if paths.watches(p)}
    assert seen == {
        "tasks_top.py",
        "notnested/tasks_notnested.py",
        "pkg/tasks_pkg.py",
        "pkg/helpers.py",
    }
    assert not paths.watches(tree / ".tasks_top.py.swp")  # hidden files: editors' own
    assert not paths.watches(tree.parent / "elsewhere.py")
    assert not paths.watches(tree / "state")


def test_a_symlinked_folder_is_not_entered(tmp_path: Path) -> None:
    touch(tmp_path, "real/tasks_real.py")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    paths = PathFilter(tmp_path)
    assert paths.task_files([tmp_path]) == [tmp_path / "real/tasks_real.py"]
    assert not paths.watches(tmp_path / "link/tasks_real.py")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every folder")
def test_an_unreadable_folder_is_skipped(tmp_path: Path) -> None:
    touch(tmp_path, "tasks_a.py", "locked/tasks_b.py")
    (tmp_path / "locked").chmod(0)
    try:
        assert PathFilter(tmp_path).task_files([tmp_path]) == [tmp_path / "tasks_a.py"]
    finally:
        (tmp_path / "locked").chmod(0o700)


def test_paths_outside_the_root_are_a_configuration_error(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    touch(tmp_path, "other/tasks_other.py", "proj/tasks_a.py")
    (root / "pyproject.toml").write_text('[tool.little_pipelines]\npaths = ["../other"]\n')
    with pytest.raises(ConfigError) as info:
        load_config(root)
    assert "paths names '../other', which is outside the project root" in info.value.message
    result = CliRunner().invoke(app, ["-C", str(root), "run"])
    assert result.exit_code == 2
    assert "outside the project root" in " ".join(result.output.split())
