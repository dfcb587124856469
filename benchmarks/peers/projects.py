"""The shared DAG written as each tool's project: the same functions, each tool's conventions.

Every function ends in `return <sum of upstream results> + <constant>` (layer 0: `0 + c`), in
files of 100 tasks, so `dag.edit_constant` edits any of them the same way.

- lp: `tasks_*.py` with `def task_t00012(t00003, t00007)`, a parameter names an upstream task;
- plain: `tasks_*.py` with `def t00012(t00003, t00007)` and `main.py` calling every function
  once in topological order (no caching);
- doit: the same `tasks_*.py` and a `dodo.py` making one task per function;
- Hamilton: `tasks_*.py` with type hints (Hamilton requires them) and `run_hamilton.py`;
- pytask: `task_*.py` passing values through a `DataCatalog` (pickled by pytask).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from peers.dag import CONSTANT, Dag

__all__ = ["WRITERS", "function_name"]

Signature = Callable[[str, tuple[str, ...]], str]


def _body(deps: tuple[str, ...], constant: int = CONSTANT) -> str:
    return f"    return {' + '.join(deps) if deps else '0'} + {constant}\n"


def _plain_signature(name: str, deps: tuple[str, ...]) -> str:
    return f"def {name}({', '.join(deps)}):\n"


def _lp_signature(name: str, deps: tuple[str, ...]) -> str:
    return f"def task_{name}({', '.join(deps)}):\n"


def _hamilton_signature(name: str, deps: tuple[str, ...]) -> str:
    return f"def {name}({', '.join(f'{dep}: int' for dep in deps)}) -> int:\n"


def _pytask_signature(name: str, deps: tuple[str, ...]) -> str:
    params = ", ".join(f'{dep}: Annotated[int, catalog["{dep}"]]' for dep in deps)
    return f'def task_{name}({params}) -> Annotated[int, catalog["{name}"]]:\n'


def function_name(tool: str, name: str) -> str:
    """The Python function that is task `name` in `tool`'s project."""
    return f"task_{name}" if tool in ("lp", "pytask") else name


def _write_modules(
    root: Path, dag: Dag, signature: Signature, *, prefix: str = "tasks", header: str = ""
) -> list[str]:
    """Write the task functions, 100 per file; return the module names."""
    root.mkdir(parents=True, exist_ok=True)
    modules = []
    for index, names in enumerate(dag.files()):
        parts = [f'"""Generated benchmark tasks."""\n{header}']
        for name in names:
            parts.append(f"\n\n{signature(name, dag.deps[name])}{_body(dag.deps[name])}")
        module = f"{prefix}_{index:04d}"
        (root / f"{module}.py").write_text("".join(parts))
        modules.append(module)
    return modules


def write_lp(root: Path, dag: Dag) -> None:
    """lp: tasks files and a pyproject.toml naming the pipeline."""
    _write_modules(root, dag, _lp_signature)
    (root / "pyproject.toml").write_text('[tool.little_pipelines]\nname = "bench"\n')


def write_plain(root: Path, dag: Dag) -> None:
    """Plain Python: `main.py` calls every function once, upstream first; prints how many."""
    modules = _write_modules(root, dag, _plain_signature)
    where = {name: f"m{i}" for i, names in enumerate(dag.files()) for name in names}
    lines = ['"""Call every task once, in topological order (no caching)."""\n']
    lines += [f"import {module} as m{i}" for i, module in enumerate(modules)]
    lines.append("")
    for name in dag.names:
        lines.append(f"{name} = {where[name]}.{name}({', '.join(dag.deps[name])})")
    lines.append(f"print({len(dag)})")
    (root / "main.py").write_text("\n".join(lines) + "\n")


_DODO = '''"""One doit task per function; `config_changed(source)` reruns a task whose code changed.

doit does not track Python code itself: without the uptodate check an edited task would stay
"up-to-date". `getargs` passes upstream values and adds an implicit `result_dep`, so a task
also reruns when an upstream task's saved value changed.
"""

import importlib
import inspect

from doit.tools import config_changed

MODULES = [importlib.import_module(name) for name in {modules!r}]


def _call(function, **upstream):
    return {{"value": function(**upstream)}}


def task_dag():
    for module in MODULES:
        for name, function in vars(module).items():
            if not (name.startswith("t") and inspect.isfunction(function)):
                continue
            upstream = inspect.signature(function).parameters
            yield {{
                "basename": name,
                "actions": [(_call, [function])],
                "getargs": {{dep: (dep, "value") for dep in upstream}},
                "uptodate": [config_changed(inspect.getsource(function))],
            }}
'''


def write_doit(root: Path, dag: Dag) -> None:
    """doit: the plain tasks modules and a `dodo.py` turning each function into a task."""
    modules = _write_modules(root, dag, _plain_signature)
    (root / "dodo.py").write_text(_DODO.format(modules=modules))


_HAMILTON = '''"""Build a cached Hamilton driver over the tasks modules and compute every node.

Prints {{"executed": K}}: the nodes whose cache log holds an "execute_node" event this run.
"""

import importlib
import json

from hamilton import driver
from hamilton.caching.adapter import CachingEventType

modules = [importlib.import_module(name) for name in {modules!r}]
dr = driver.Builder().with_modules(*modules).with_cache(path=".hamilton_cache").build()
dr.execute(final_vars=[variable.name for variable in dr.list_available_variables()])
logs = dr.cache.logs(run_id=dr.cache.last_run_id, level="info")
executed = sum(
    any(event.event_type == CachingEventType.EXECUTE_NODE for event in events)
    for events in logs.values()
)
print(json.dumps({{"executed": executed}}))
'''


def write_hamilton(root: Path, dag: Dag) -> None:
    """Hamilton: typed tasks modules (parameters name upstream nodes) and a driver script."""
    modules = _write_modules(root, dag, _hamilton_signature)
    (root / "run_hamilton.py").write_text(_HAMILTON.format(modules=modules))


def write_pytask(root: Path, dag: Dag) -> None:
    """pytask: `task_*.py` files whose arguments and return values are DataCatalog entries.

    The catalog lives in `catalog.py` (pytask's advice: one module that every task file
    imports); its default node pickles each value under `.pytask/data_catalogs/`.
    """
    header = "\nfrom typing import Annotated\n\nfrom catalog import catalog\n"
    _write_modules(root, dag, _pytask_signature, prefix="task", header=header)
    (root / "catalog.py").write_text(
        '"""The data catalog shared by every task file."""\n\n'
        "from pytask import DataCatalog\n\ncatalog = DataCatalog()\n"
    )
    (root / "pyproject.toml").write_text("[tool.pytask.ini_options]\n")


WRITERS: dict[str, Callable[[Path, Dag], None]] = {
    "plain": write_plain,
    "lp": write_lp,
    "doit": write_doit,
    "hamilton": write_hamilton,
    "pytask": write_pytask,
}
