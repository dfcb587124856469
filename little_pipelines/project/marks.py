"""Parametrize marks as written: found in a task function's syntax, read when literal.

Discovery reads literal marks without importing the file (`literal_marks`); a task's code
is counted without them (`without_marks`), since each instance counts its own values.
"""

from __future__ import annotations

import ast
import copy

from little_pipelines.project.params import Mark, make_mark

__all__ = ["is_mark", "literal_marks", "without_marks"]


def is_mark(node: ast.expr) -> bool:
    """Whether a decorator is `@lp.task.parametrize(...)` (or `@task.parametrize(...)`)."""
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
        return False
    owner = node.func.value
    named = (isinstance(owner, ast.Name) and owner.id == "task") or (
        isinstance(owner, ast.Attribute) and owner.attr == "task"
    )
    return named and node.func.attr == "parametrize"


def without_marks(node: ast.FunctionDef) -> ast.FunctionDef:
    """A function's definition with its parametrize marks taken off: the code its instances
    share (each instance counts its own values instead, so a new value runs only its task)."""
    stripped = copy.copy(node)
    stripped.decorator_list = [d for d in node.decorator_list if not is_mark(d)]
    return stripped


def literal_marks(node: ast.FunctionDef) -> list[Mark] | None:
    """The parametrize marks of a function, nearest the `def` first, read from literals;
    None when one is not made of literals (the function must then be imported).
    ValueError or TypeError for a mark that is wrong as written."""
    marks = []
    for deco in reversed(node.decorator_list):
        if not is_mark(deco):
            continue
        assert isinstance(deco, ast.Call)
        given = dict(zip(("names", "values", "ids"), deco.args, strict=False))
        for keyword in deco.keywords:
            if keyword.arg not in ("names", "values", "ids"):
                raise TypeError(
                    f"@lp.task.parametrize has no option '{keyword.arg}' (names, values, ids)"
                )
            given[keyword.arg] = keyword.value
        if len(deco.args) > 3 or "names" not in given or "values" not in given:
            raise TypeError("@lp.task.parametrize takes names, values and, if you like, ids")
        try:
            args = {k: ast.literal_eval(v) for k, v in given.items()}
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return None
        marks.append(make_mark(args["names"], args["values"], args.get("ids")))
    return marks
