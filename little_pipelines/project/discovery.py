"""Tasks files to task specs: find `tasks_*.py`, read their tasks without importing them.

Each module-level `def task_<name>(...)` is a task; its parameters name its upstream tasks.
Reading is static (syntax trees), so deciding what is fresh costs no import of user code; a
module is imported only when one of its tasks executes. A module whose tasks cannot be read
statically (built dynamically, or `lp.Task` objects) is imported and hashed whole.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import TYPE_CHECKING, Any

from little_pipelines.errors import (
    DiscoveryError,
    DuplicateTaskError,
    did_you_mean,
    syntax_message,
)
from little_pipelines.fingerprint.code import SourceIndex
from little_pipelines.fingerprint.scopes import module_bindings
from little_pipelines.project.config import Config
from little_pipelines.project.instances import instances
from little_pipelines.project.loader import Modules
from little_pipelines.project.marks import is_mark, literal_marks
from little_pipelines.project.params import Mark
from little_pipelines.project.specs import FileTasks, TaskDef, task_closure

if TYPE_CHECKING:
    from little_pipelines.project.memo import ReadCache

__all__ = ["TASK_PREFIX", "find_task_files", "read_file", "read_project"]


def find_task_files(config: Config, unreadable: list[Path] | None = None) -> list[Path]:
    """Every `tasks_*.py` below the configured paths, skipping ignored (and unreadable) folders."""
    return config.path_filter.task_files(config.paths, unreadable)


TASK_PREFIX = "task_"


_error = DiscoveryError.at


def _task_decorator(node: ast.FunctionDef) -> ast.expr | None:
    for deco in node.decorator_list:
        target = deco.func if isinstance(deco, ast.Call) else deco
        if (isinstance(target, ast.Name) and target.id == "task") or (
            isinstance(target, ast.Attribute) and target.attr == "task"
        ):
            return deco
    return None


_OPTIONS = (
    "expire", "inputs", "outputs", "cache", "tags", "retries", "retry_delay", "timeout", "store",
)  # fmt: skip
_ATTEMPTS = ("retries", "retry_delay", "timeout")


def _static_options(node: ast.FunctionDef, rel: str) -> dict[str, Any] | None:
    """The literal options of `@lp.task(...)`, or None when they are not literals."""
    deco = _task_decorator(node)
    options: dict[str, Any] = {}
    if not isinstance(deco, ast.Call):
        return options
    for keyword in deco.keywords:
        if keyword.arg not in _OPTIONS:
            raise DiscoveryError.at(
                f"@lp.task has no option '{keyword.arg}'"
                f"{did_you_mean(str(keyword.arg), _OPTIONS)} (options: {', '.join(_OPTIONS)})",
                rel,
                deco.lineno,
            )
        if keyword.arg == "expire":
            options["expire_text"] = ast.unparse(keyword.value)
            continue
        try:
            value = ast.literal_eval(keyword.value)
        except ValueError:
            return None
        if keyword.arg in ("inputs", "outputs", "tags"):
            options[keyword.arg] = _words(keyword.arg, value, keyword.value, rel, deco.lineno)
        elif keyword.arg == "cache":
            options["cache"] = bool(value)
        elif keyword.arg == "store":
            from little_pipelines.project.decorator import check_store

            try:
                options["store"] = check_store(value)
            except ValueError as exc:
                raise DiscoveryError.at(str(exc), rel, deco.lineno) from None
        else:
            options[keyword.arg] = value
    if any(name in options for name in _ATTEMPTS):
        from little_pipelines.project.decorator import check_attempts

        defaults = (0, 0.0, None)
        given = [options.get(n, d) for n, d in zip(_ATTEMPTS, defaults, strict=True)]
        try:
            checked = check_attempts(*given)
        except ValueError as exc:
            raise DiscoveryError.at(str(exc), rel, deco.lineno) from None
        options.update(zip(_ATTEMPTS, checked, strict=True))
    return options


def _words(option: str, value: Any, node: ast.expr, rel: str, line: int) -> tuple[str, ...]:
    """The paths of `inputs=` or `outputs=`, or the tags of `tags=`: a string or a list of
    strings."""
    from little_pipelines.project.decorator import (
        OUTPUTS_ARE,
        TAGS_ARE,
        check_outputs,
        check_tags,
    )

    value = [value] if isinstance(value, str) else value
    what = {"inputs": "inputs must be a path or a list of paths", "outputs": OUTPUTS_ARE}
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise DiscoveryError.at(
            f"@lp.task {what.get(option, TAGS_ARE)}, not {ast.unparse(node)}", rel, line
        )
    if option == "inputs":
        return tuple(value)
    try:
        return (check_outputs if option == "outputs" else check_tags)(tuple(value))
    except ValueError as exc:
        raise DiscoveryError.at(str(exc), rel, line) from None


def _signature(node: ast.FunctionDef, rel: str) -> tuple[list[str], set[str]]:
    """Parameter names and those with defaults; *args, **kwargs and `/` are errors."""
    args = node.args
    task = node.name[len(TASK_PREFIX) :]
    bad = f"*{args.vararg.arg}" if args.vararg else f"**{args.kwarg.arg}" if args.kwarg else None
    if bad:
        raise _error(
            f"task '{task}' takes {bad}; a task's parameters name the tasks it needs, so"
            " *args and **kwargs cannot be filled — list each upstream task as a parameter",
            rel,
            node.lineno,
        )
    if args.posonlyargs:
        raise _error(
            f"task '{task}' has positional-only parameters; remove the '/' (parameters are"
            " filled by name)",
            rel,
            node.lineno,
        )
    positional = [a.arg for a in args.args]
    defaults = set(positional[len(positional) - len(args.defaults) :])
    defaults |= {a.arg for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d}
    return positional + [a.arg for a in args.kwonlyargs], defaults


def _file_kind(tree: ast.Module) -> tuple[bool, bool]:
    """Whether a tasks file holds `lp.Task` objects, and whether it builds task functions by
    code (a `task_` name bound by anything but a top-level `def`: a branch, a loop, an
    assignment of a function, `globals()`); either way it must be imported. An imported
    `task_` function is not a task of the importing file."""
    objects = built = False
    for stmt in tree.body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        literal = isinstance(stmt, ast.Assign | ast.AnnAssign) and _is_literal(stmt.value)
        if not literal and any(n.startswith(TASK_PREFIX) for n in module_bindings(stmt)):
            built = True
        for node in ast.walk(stmt):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
                objects = objects or name == "Task"
                built = built or name == "globals"
    return objects, built


def _is_literal(node: ast.expr | None) -> bool:
    """`task_count = 3` names no task: a literal value is never a function."""
    if node is None:
        return True
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def _marks(node: ast.FunctionDef, rel: str) -> list[Mark] | None:
    """A task function's literal parametrize marks (None: not literals; [] for none)."""
    if not node.decorator_list:
        return []
    try:
        return literal_marks(node)
    except (TypeError, ValueError) as exc:
        line = next((d.lineno for d in node.decorator_list if is_mark(d)), node.lineno)
        raise _error(str(exc), rel, line) from None


def _instances(task: TaskDef, marks: list[Mark], line: int) -> list[TaskDef]:
    """The tasks one function makes: itself, or one per parametrized instance."""
    try:
        return instances(task, marks)
    except ValueError as exc:
        raise _error(f"task '{task.name}': {exc}", task.rel, line) from None


def read_file(index: SourceIndex, path: Path, root: Path) -> FileTasks:
    """Read one tasks file's tasks statically (SyntaxError becomes DiscoveryError).

    Each `def task_...` is read with its own code closure, even in a file that must be
    imported for other reasons (`lp.Task` objects, options that are not literals).
    """
    rel = path.relative_to(root).as_posix()
    try:
        return _read_file(index, path, rel)
    except (RecursionError, MemoryError):  # code that parsed, too deep to walk
        raise _error("too deeply nested to read", rel, None) from None


def _read_file(index: SourceIndex, path: Path, rel: str) -> FileTasks:
    with index.recording() as used:
        try:
            info = index.module(path)
        except SyntaxError as exc:
            raise _error(syntax_message(exc), rel, exc.lineno) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise _error(f"cannot read: {exc}", rel, None) from None
        objects, built = _file_kind(info.tree)
        found = FileTasks(path, dynamic=objects or built)
        if objects:
            found.why = "it defines lp.Task objects"
        elif built:
            found.why = "it makes task_ functions by running code"
        for stmt in info.tree.body:
            if not isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if not stmt.name.startswith(TASK_PREFIX) or stmt.name == TASK_PREFIX:
                continue
            options = _static_options(stmt, rel)  # type: ignore[arg-type]
            if options is None:  # read from the imported function instead
                found.dynamic = True
                found.why = found.why or f"the options of {stmt.name} are not literals"
            params, defaults = _signature(stmt, rel)  # type: ignore[arg-type]
            marks = _marks(stmt, rel)  # type: ignore[arg-type]
            if marks is None:  # expanded from the imported function instead
                found.dynamic = True
                found.why = found.why or f"the parametrize values of {stmt.name} are not literals"
            elif options is None and marks:  # its inputs are filled from the live options
                marks = None
            closure = task_closure(index, path, stmt)
            marked = ""  # with its marks too: for values that are not plain data (specs.py)
            if marks is None or marks:
                marked = index.closure_digest(task_closure(index, path, stmt, strip=False))
            task = TaskDef(
                name=stmt.name[len(TASK_PREFIX) :],
                path=path,
                rel=rel,
                line=stmt.lineno,
                function=stmt.name,
                params=params,
                defaults=defaults,
                code=index.closure_digest(closure),
                notes=tuple(index.closure_notes(closure)),
                live_options=options is None,
                live_marks=marks is None,
                marked_code=marked,
                **(options or {}),
            )
            first = next((d.lineno for d in stmt.decorator_list if is_mark(d)), stmt.lineno)
            found.tasks.extend(_instances(task, marks or [], first))
    found.uses = used  # every file this reading looked at
    return found


def read_project(
    config: Config,
    index: SourceIndex,
    modules: Modules,
    files: list[Path] | None = None,
    read_cache: ReadCache | None = None,
    unreadable: list[Path] | None = None,
    imported: dict[Path, str] | None = None,
) -> tuple[list[TaskDef], list[Any]]:
    """All tasks of the project: function tasks (TaskDef) and `lp.Task` objects.

    Folders that could not be read are skipped and added to `unreadable` when it is given;
    tasks files that had to be imported go into `imported`, with why.
    """
    from little_pipelines.project.imported import tasks_by_import  # (it builds on this module)

    defs: list[TaskDef] = []
    objects: list[Any] = []
    for path in files if files is not None else find_task_files(config, unreadable):
        found = read_cache.get(path) if read_cache is not None else None
        if found is None:
            if read_cache is not None:
                read_cache.before_reading(path)
            found = read_file(index, path, config.root)
            if read_cache is not None and not found.dynamic:
                read_cache.put(found)
        if found.dynamic:
            if imported is not None:
                imported[path] = found.why
            for item in tasks_by_import(modules, index, found, config.root):
                (defs if isinstance(item, TaskDef) else objects).append(item)
        else:
            defs.extend(found.tasks)
    seen: dict[str, str] = {}
    groups: dict[str, str] = {}  # a parametrized function's name, which parameters name too
    for item in defs:
        where = f"{item.rel}:{item.line}"
        if item.name in seen:
            raise DuplicateTaskError(
                item.name, seen[item.name], where, file=item.rel, line=item.line
            )
        seen[item.name] = where
        if item.group:
            groups.setdefault(item.group, where)
    for group, where in groups.items():
        if group in seen:
            rel, _, line = where.rpartition(":")
            raise DuplicateTaskError(group, seen[group], where, file=rel, line=int(line))
    for task in objects:
        first = seen.get(task.name) or groups.get(task.name)
        if first is not None:
            raise DuplicateTaskError(task.name, first, "an lp.Task object")
        seen[task.name] = "an lp.Task object"
    return defs, objects
