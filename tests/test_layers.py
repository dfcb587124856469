"""The direction of imports: the engine layer stays free of front ends, and import is cheap."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import little_pipelines

PACKAGE = Path(little_pipelines.__file__).resolve().parent
ENGINE_LAYER = [
    "errors",
    "outcomes",
    "expire",
    "scopes",
    "fingerprint",
    "paths",
    "inputs",
    "spec",
    "graph",
    "cache",
    "values",
    "private",
    "logs",
    "engine",
    "executors",
    "loader",
    "explain",
]
FRONT_ENDS = {"console", "cli", "discovery", "pipeline", "runner", "watch", "shell"}
UI_PACKAGES = {"rich", "typer", "watchfiles"}
# modules that import nothing of ours (STYLE.md: "Imports only go down")
LEAVES = {"errors", "outcomes", "expire", "scopes", "values", "private"}
# the code reader: the scope analysis below it, nothing else of ours
READER = {"fingerprint": {"little_pipelines.scopes"}}


def imports_of(module: str) -> set[str]:
    """Every module `module` imports, anywhere in the file (top level, functions, TYPE_CHECKING).

    Own modules come back as `little_pipelines.<name>`, others as their top-level package.
    """
    tree = ast.parse((PACKAGE / f"{module}.py").read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                name = alias.name
                if name == "little_pipelines" or name.startswith("little_pipelines."):
                    found.add(name)
                else:
                    found.add(name.partition(".")[0])
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: `from . import x`, `from .x import y`
                if node.module:
                    found.add("little_pipelines." + node.module.partition(".")[0])
                else:
                    found.update("little_pipelines." + alias.name for alias in node.names)
            elif node.module == "little_pipelines" or (node.module or "").startswith(
                "little_pipelines."
            ):
                rest = node.module.removeprefix("little_pipelines").lstrip(".")
                if rest:
                    found.add("little_pipelines." + rest.partition(".")[0])
                else:
                    found.update("little_pipelines." + alias.name for alias in node.names)
            else:
                found.add((node.module or "").partition(".")[0])
    return found


def test_the_import_parser_sees_what_it_should():
    # a self-check, so that the layer tests below cannot pass by seeing nothing
    assert "rich" in imports_of("console")
    assert "little_pipelines.engine" in imports_of("pipeline")
    assert "little_pipelines.console" in imports_of("pipeline")


@pytest.mark.parametrize("module", ENGINE_LAYER)
def test_engine_layer_imports_no_ui_package_and_no_front_end(module):
    imported = imports_of(module)
    assert not imported & UI_PACKAGES, f"{module}.py imports {imported & UI_PACKAGES}"
    front = {f"little_pipelines.{name}" for name in FRONT_ENDS}
    assert not imported & front, f"{module}.py imports front ends {imported & front}"


@pytest.mark.parametrize("module", sorted(LEAVES))
def test_leaf_modules_import_nothing_of_ours(module):
    own = {name for name in imports_of(module) if name.startswith("little_pipelines")}
    assert not own, f"{module}.py imports {own}"


@pytest.mark.parametrize("module", sorted(READER))
def test_the_code_reader_imports_only_its_scope_analysis(module):
    own = {name for name in imports_of(module) if name.startswith("little_pipelines")}
    assert own <= READER[module], f"{module}.py imports {own - READER[module]}"


HEAVY = ["rich", "typer", "diskcache", "loguru", "watchfiles"]

PROBE = textwrap.dedent(
    """
    import json, sys
    import little_pipelines
    heavy = [m for m in {heavy!r} if m in sys.modules]
    own = sorted(m for m in sys.modules if m.startswith("little_pipelines"))
    print(json.dumps({{"heavy": heavy, "own": own}}))
    """
).format(heavy=HEAVY)


def run_fresh(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    home = tmp_path / "home"
    lp_home = tmp_path / "lp_home"
    work = tmp_path / "work"
    for folder in (home, lp_home, work):
        folder.mkdir()
    env = {
        **os.environ,
        "HOME": str(home),
        "LITTLE_PIPELINES_HOME": str(lp_home),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    for folder in (home, lp_home, work):
        assert list(folder.iterdir()) == [], f"import wrote into {folder}"
    return result


def test_import_is_cheap_and_does_no_io(tmp_path):
    result = run_fresh(PROBE, tmp_path)
    loaded = json.loads(result.stdout)
    assert loaded["heavy"] == []
    assert loaded["own"] == ["little_pipelines"]
    assert result.stderr == ""


def test_engine_layer_import_loads_no_ui_package(tmp_path):
    code = textwrap.dedent(
        """
        import sys
        import little_pipelines.engine, little_pipelines.graph, little_pipelines.cache
        import little_pipelines.expire
        print(sorted(m for m in ("rich", "typer", "watchfiles") if m in sys.modules))
        """
    )
    assert run_fresh(code, tmp_path).stdout.strip() == "[]"


def test_creating_tasks_and_a_pipeline_loads_no_ui_package(tmp_path):
    code = textwrap.dedent(
        """
        import sys
        import little_pipelines as lp
        t = lp.Task("t")
        p = lp.Pipeline("p").add(t)
        print(sorted(m for m in ("rich", "typer", "watchfiles") if m in sys.modules))
        """
    )
    assert run_fresh(code, tmp_path).stdout.strip() == "[]"
