"""The direction of imports between the layers of the package, and that import is cheap.

The layers, from the bottom: the base modules (errors, outcomes, expire, util, paths);
`fingerprint/`; `store/`; `engine/`; the two front doors `project/` and `library/`, side by
side; `ui/` on top, the only user of rich and typer. A module may import its own layer and
those below it; the front doors never import each other.
"""

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
BASE = {"errors", "outcomes", "expire", "util", "paths", "_version", "__init__", "__main__"}
# what each layer may import of ours, besides itself
BELOW = {
    "base": {"base"},
    "fingerprint": {"base"},
    "store": {"base", "fingerprint"},
    "engine": {"base", "fingerprint", "store"},
    "project": {"base", "fingerprint", "store", "engine"},
    # the library's default display is the console's (imported when execute() runs)
    "library": {"base", "fingerprint", "store", "engine", "ui"},
    "ui": {"base", "fingerprint", "store", "engine", "project", "library"},
}
UI_PACKAGES = {"rich", "typer"}
# modules that import nothing of ours (STYLE.md: "Imports only go down")
LEAVES = {
    "errors",
    "outcomes",
    "expire",
    "util",
    "fingerprint/digests",
    "fingerprint/scopes",
    "fingerprint/values",
}
# the entry points: the package's lazy names and `lp` itself reach every layer
ENTRY = {"__init__", "__main__"}


def modules() -> list[str]:
    """Every module of the package, as a path without `.py` (`engine/run`, `errors`)."""
    return sorted(p.relative_to(PACKAGE).with_suffix("").as_posix() for p in PACKAGE.rglob("*.py"))


def layer_of(module: str) -> str:
    """The layer of a module (`engine/run`) or of an imported name (`little_pipelines.engine`)."""
    parts = module.removeprefix("little_pipelines").strip(".").replace(".", "/").split("/")
    return parts[0] if parts[0] in BELOW else "base"


def imports_of(module: str) -> set[str]:
    """Every module `module` imports, anywhere in the file (top level, functions, TYPE_CHECKING).

    Own modules come back as dotted names (`little_pipelines.store.cache`), others as their
    top-level package.
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
            assert not node.level, f"{module}.py: a relative import (the package uses absolute)"
            name = node.module or ""
            if name == "little_pipelines":
                found.update(f"little_pipelines.{alias.name}" for alias in node.names)
            elif name.startswith("little_pipelines."):
                found.add(name)  # (and `from x import module`: the names may be modules)
                found.update(f"{name}.{alias.name}" for alias in node.names)
            else:
                found.add(name.partition(".")[0])
    return found


def test_the_import_parser_sees_what_it_should():
    # a self-check, so that the layer tests below cannot pass by seeing nothing
    assert "rich" in imports_of("ui/console")
    assert "little_pipelines.engine.run" in imports_of("library/pipeline")
    assert "little_pipelines.project.discovery" in imports_of("project/project")
    assert layer_of("little_pipelines.engine.run") == "engine" == layer_of("engine/spec")
    assert layer_of("little_pipelines.errors") == "base" == layer_of("paths")
    assert len(modules()) > 25


@pytest.mark.parametrize("module", [m for m in modules() if m.split("/")[-1] not in ENTRY])
def test_imports_go_only_down_or_sideways_within_a_layer(module):
    layer = layer_of(module)
    allowed = BELOW[layer] | {layer}
    own = {name for name in imports_of(module) if name.startswith("little_pipelines")}
    wrong = sorted(name for name in own if layer_of(name) not in allowed)
    assert not wrong, f"{module}.py ({layer}) imports {wrong}"


@pytest.mark.parametrize("module", [m for m in modules() if layer_of(m) != "ui"])
def test_only_the_ui_uses_rich_and_typer(module):
    found = imports_of(module) & UI_PACKAGES
    assert not found, f"{module}.py imports {found}"


@pytest.mark.parametrize("module", sorted(LEAVES))
def test_leaf_modules_import_nothing_of_ours(module):
    own = {name for name in imports_of(module) if name.startswith("little_pipelines")}
    assert not own, f"{module}.py imports {own}"


@pytest.mark.parametrize("module", ["fingerprint/code", "fingerprint/index", "fingerprint/modules"])
def test_the_code_reader_imports_only_its_own_parts(module):
    own = {name for name in imports_of(module) if name.startswith("little_pipelines")}
    parts = ("scopes", "modules", "digests", "index")
    allowed = tuple(f"little_pipelines.fingerprint.{part}" for part in parts)
    assert own and all(name.startswith(allowed) for name in own), own


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
        import little_pipelines.engine.run, little_pipelines.engine.graph
        import little_pipelines.store.cache
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
