"""What a result is stored as: a pickle by default, Parquet for data frames, JSON on request.

A format turns a value into bytes and back. The stored bytes are the format's own (a Parquet
file is a Parquet file, which other tools open), and the format's name is kept in the
result's entry. Every format but pickle takes a result's digest (for early cutoff) from its
bytes. `register_format` adds a format for a type of your own, which a task names with
`store=`: register it in that task's tasks file, or a module it imports, so that lp finds it
wherever it reads such a result. A registered format's code counts as the code of the
tasks whose results it stores (see `source_of`).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import io
import json
import os
import pickle
import sys
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from little_pipelines.store.entries import serialize

__all__ = [
    "BUILTIN",
    "Format",
    "FormatError",
    "choose",
    "dumps",
    "find",
    "known",
    "loads",
    "register_format",
]

PICKLE = "pickle"


@runtime_checkable
class Format(Protocol):
    """A way to store results, for `@lp.task(store=name)`: a name and the bytes both ways.

    `loads(dumps(v))` must give back a value equal to `v`, and equal values should give equal
    bytes (else what reads the result reruns: safe, but slower).
    """

    name: str

    def dumps(self, value: Any) -> bytes:
        """The bytes a result is stored as."""
        ...

    def loads(self, data: bytes) -> Any:
        """A result from the bytes `dumps` made."""
        ...


class FormatError(ValueError):
    """A result that its format cannot store, or a format that no one registered."""


class _Pickle:
    name = PICKLE

    def dumps(self, value: Any) -> bytes:
        return serialize(value)

    def loads(self, data: bytes) -> Any:
        return pickle.loads(data)


class _Json:
    """JSON as `json.dumps` writes it (keys in their order; a tuple comes back a list)."""

    name = "json"

    def dumps(self, value: Any) -> bytes:
        return json.dumps(value, ensure_ascii=False, allow_nan=False).encode()

    def loads(self, data: bytes) -> Any:
        return json.loads(data)


def _frame_of(value: Any, library: str) -> bool:
    kind = type(value)
    return kind.__name__ == "DataFrame" and kind.__module__.partition(".")[0] == library


class _PandasParquet:
    """A pandas DataFrame as a Parquet file, written by pyarrow."""

    name = "parquet"
    library = "pandas"

    def accepts(self, value: Any) -> bool:
        return _frame_of(value, "pandas") and importlib.util.find_spec("pyarrow") is not None

    def dumps(self, value: Any) -> bytes:
        out = io.BytesIO()
        value.to_parquet(out, engine="pyarrow")
        return out.getvalue()

    def loads(self, data: bytes) -> Any:
        pandas = importlib.import_module("pandas")  # (an optional library, typed or not)
        return pandas.read_parquet(io.BytesIO(data), engine="pyarrow")

    def same(self, value: Any, back: Any) -> bool:
        """Whether a frame read back is the frame written: values, dtypes, labels, index.

        `equals` takes Decimal("1.1") for Decimal("1.10") and {"a": 1, "b": 2} for
        {"b": 2, "a": 1}: Python objects (object columns and labels) are compared as their
        reprs too, which tell those apart.
        """
        if not (
            type(back) is type(value)
            and value.equals(back)
            and value.dtypes.equals(back.dtypes)
            and value.columns.equals(back.columns)
            and type(value.columns) is type(back.columns)
            and value.index.equals(back.index)
            and type(value.index) is type(back.index)
            and value.index.dtype == back.index.dtype
            and list(value.index.names) == list(back.index.names)
            and getattr(value.index, "freq", None) == getattr(back.index, "freq", None)
            and value.attrs == back.attrs
        ):
            return False
        shown = [(value.index, back.index), (value.columns, back.columns)]
        for position, dtype in enumerate(value.dtypes):
            if dtype.kind == "O":
                shown.append((value.iloc[:, position], back.iloc[:, position]))
        return all(
            a.dtype.kind != "O" or list(map(repr, a)) == list(map(repr, b)) for a, b in shown
        )


class _PolarsParquet:
    """A polars DataFrame as a Parquet file, written by polars."""

    name = "parquet/polars"
    library = "polars"

    def accepts(self, value: Any) -> bool:
        return _frame_of(value, "polars")

    def dumps(self, value: Any) -> bytes:
        out = io.BytesIO()
        value.write_parquet(out)
        return out.getvalue()

    def loads(self, data: bytes) -> Any:
        polars = importlib.import_module("polars")
        return polars.read_parquet(io.BytesIO(data))

    def same(self, value: Any, back: Any) -> bool:
        return bool(value.schema == back.schema and value.equals(back))


_PARQUET = (_PandasParquet(), _PolarsParquet())
BUILTIN: dict[str, Format] = {f.name: f for f in (_Pickle(), _Json(), *_PARQUET)}
STORE_CHOICES = ("pickle", "parquet", "json")  # what `store=` names besides registered formats

# formats registered by the user's code (`register_format`), by name, in this process
_registered: dict[str, Format] = {}


def register_format(fmt: type) -> type:
    """Store the results of tasks with `@lp.task(store=fmt.name)` in the format `fmt`: a class,
    defined at the top of a module, with a `name` and `dumps(value) -> bytes` and
    `loads(data)` methods; lp makes its instance. Returns the class, so it can decorate it.

    Its code counts as the code of the tasks whose results it stores, read from its module:
    so it takes no arguments (they would be state no file shows), and one name is one class.
    """
    if not isinstance(fmt, type):
        raise TypeError(
            "lp.register_format takes a format's class (a class with a name and dumps(value)"
            f" and loads(data) methods, made without arguments), not {fmt!r}"
        )
    made = fmt()
    if not isinstance(made, Format) or not isinstance(made.name, str) or not made.name:
        raise TypeError(
            "lp.register_format takes a format: a class with a name and dumps(value) and"
            f" loads(data) methods, not {fmt!r}"
        )
    if "/" in made.name or made.name in BUILTIN or made.name in STORE_CHOICES:
        raise ValueError(f"lp.register_format: '{made.name}' is lp's own format's name")
    where = _source(fmt)
    if where is None:
        raise TypeError(
            f"lp.register_format: define {fmt.__qualname__} at the top of a module, where lp"
            " can read its code (not inside a function or another class)"
        )
    other = _registered.get(made.name)
    known = _source(type(other)) if other is not None and _current(type(other)) else None
    if known is not None and known != where and _near(known[0], where[0]):
        first = type(other)
        raise ValueError(
            f"lp.register_format: '{made.name}' is the name of {first.__module__}."
            f"{first.__qualname__} already; give {fmt.__qualname__} another name"
        )
    _registered[made.name] = made  # (the same class, imported again after an edit, replaces it)
    return fmt


def _current(kind: type) -> bool:
    """Whether a class is still what its module defines under its name (an edited module,
    imported again, may have moved it elsewhere: `lp watch`)."""
    module = sys.modules.get(kind.__module__)
    return module is not None and getattr(module, kind.__qualname__, None) is kind


def _near(one: str, other: str) -> bool:
    """Whether two files may be of one project: in one folder, or one below the other's
    (a process that reads two projects, such as a test suite, registers each one's own)."""
    a, b = Path(one).parent, Path(other).parent
    return a == b or a in b.parents or b in a.parents


def _source(kind: type) -> tuple[str, str] | None:
    """A class's file and name, when it is at the top of a module whose source lp can read."""
    try:
        path = inspect.getsourcefile(kind)
    except (TypeError, OSError):
        return None
    if path is None or "." in kind.__qualname__ or "<" in kind.__qualname__:
        return None
    return path, kind.__qualname__


def find(name: str) -> Format | None:
    """The format of that name, built in or registered in this process (None: unknown)."""
    return BUILTIN.get(name) or _registered.get(name)


def choose(value: Any, store: str) -> Format:
    """The format `store=` names for this value (FormatError when there is none)."""
    if store == "parquet":
        for parquet in _PARQUET:
            if _frame_of(value, parquet.library):
                return parquet
        raise FormatError(
            f"store='parquet' takes a pandas or polars DataFrame, not a {type(value).__qualname__}"
        )
    found = find(store)
    if found is None:
        known = ", ".join([*STORE_CHOICES, *_registered])
        raise FormatError(
            f"store='{store}' is no format (formats: {known}; register your own with"
            " lp.register_format in the tasks file)"
        )
    return found


def dumps(value: Any, store: str | None) -> tuple[str, bytes]:
    """A result as stored: its format's name and bytes (FormatError saying why it cannot be).

    Without `store=`, a data frame is stored as Parquet, unless Parquet cannot hold it or
    would give it back changed (an object column of ints and None comes back floats): then,
    like anything else, it is pickled, so a reader gets what the task returned.
    """
    if store is None:
        for parquet in _PARQUET:
            if parquet.accepts(value):
                try:
                    data = parquet.dumps(value)
                    if parquet.same(value, parquet.loads(data)):
                        return parquet.name, data
                except Exception:  # (pickled instead)
                    pass
                break
        return PICKLE, serialize(value)
    fmt = choose(value, store)
    if fmt.name == PICKLE:
        return PICKLE, serialize(value)
    try:
        data = fmt.dumps(value)
        if not isinstance(data, bytes):
            raise TypeError(f"its dumps gave a {type(data).__qualname__}, not bytes")
    except Exception as exc:
        raise FormatError(
            f"store='{fmt.name}' cannot write a {type(value).__qualname__}: {exc}"
        ) from exc
    return fmt.name, data


def source_of(name: str) -> tuple[str, str] | None:
    """Where a registered format's class is defined, its file and name (None for lp's own
    formats). lp reads its code there, to decide and to digest the results it stores."""
    if name in BUILTIN or name not in _registered:
        return None
    return _source(type(_registered[name]))


def stored_by(kept: Any, root: Path) -> tuple[str, str] | None:
    """The class an entry's `format` record names ([file relative to root, class name]), as
    `source_of` gives it; None when the record is not one."""
    if not isinstance(kept, list) or len(kept) != 3 or not all(type(x) is str for x in kept):
        return None
    return os.path.realpath(root / kept[0]), kept[1]


def serves(name: str, stored: tuple[str, str] | None) -> bool:
    """Whether the format registered as `name` here is the class that stored a result (a
    process that read another project may have registered another class under that name)."""
    if stored is None:
        return True
    here = source_of(name)
    return here is not None and (os.path.realpath(here[0]), here[1]) == stored


def known(name: str, stored: tuple[str, str] | None = None) -> bool:
    """Whether results in format `name` (stored by the class `stored`, when given) can be
    read in this process."""
    return name in BUILTIN or (name in _registered and serves(name, stored))


def loads(name: str, data: bytes) -> Any:
    """A stored result read back (LookupError when the format is not known here)."""
    fmt = find(name)
    if fmt is None:
        raise LookupError(name)
    return fmt.loads(data)
