"""What a result is stored as: a pickle by default, Parquet for data frames, JSON on request.

A format turns a value into bytes and back. The stored bytes are the format's own (a Parquet
file is a Parquet file, which other tools open), and the format's name is kept in the
result's entry. Every format but pickle takes a result's digest (for early cutoff) from its
bytes. `register_format` adds a format for a type of your own: register it in a tasks file,
or a module one imports, so that lp finds it wherever it reads such a result.
"""

from __future__ import annotations

import importlib
import importlib.util
import io
import json
import pickle
from typing import Any, Protocol, runtime_checkable

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
    """A way to store results: a name, which values it takes when no `store=` is given, and
    the bytes both ways. `loads(dumps(v))` must give back a value equal to `v`, and equal
    values should give equal bytes (else what reads the result reruns: safe, but slower)."""

    name: str

    def accepts(self, value: Any) -> bool:
        """Whether a result of a task without `store=` is stored in this format."""
        ...

    def dumps(self, value: Any) -> bytes: ...

    def loads(self, data: bytes) -> Any: ...


class FormatError(ValueError):
    """A result that its format cannot store, or a format that no one registered."""


class _Pickle:
    name = PICKLE

    def accepts(self, value: Any) -> bool:
        return True

    def dumps(self, value: Any) -> bytes:
        return pickle.dumps(value, protocol=5)

    def loads(self, data: bytes) -> Any:
        return pickle.loads(data)


class _Json:
    """JSON as `json.dumps` writes it (keys in their order; a tuple comes back a list)."""

    name = "json"

    def accepts(self, value: Any) -> bool:
        return False  # only when asked for: JSON changes tuples into lists

    def dumps(self, value: Any) -> bytes:
        return json.dumps(value, ensure_ascii=False, allow_nan=False).encode()

    def loads(self, data: bytes) -> Any:
        return json.loads(data)


def _frame_of(value: Any, library: str) -> bool:
    kind = type(value)
    return kind.__name__ == "DataFrame" and kind.__module__.partition(".")[0] == library


class _PandasParquet:
    """A pandas DataFrame as a Parquet file, written by pyarrow (index and dtypes kept)."""

    name = "parquet"

    def accepts(self, value: Any) -> bool:
        return _frame_of(value, "pandas") and importlib.util.find_spec("pyarrow") is not None

    def dumps(self, value: Any) -> bytes:
        out = io.BytesIO()
        value.to_parquet(out, engine="pyarrow")
        return out.getvalue()

    def loads(self, data: bytes) -> Any:
        pandas = importlib.import_module("pandas")  # (an optional library, typed or not)
        return pandas.read_parquet(io.BytesIO(data), engine="pyarrow")


class _PolarsParquet:
    """A polars DataFrame as a Parquet file, written by polars."""

    name = "parquet/polars"

    def accepts(self, value: Any) -> bool:
        return _frame_of(value, "polars")

    def dumps(self, value: Any) -> bytes:
        out = io.BytesIO()
        value.write_parquet(out)
        return out.getvalue()

    def loads(self, data: bytes) -> Any:
        polars = importlib.import_module("polars")
        return polars.read_parquet(io.BytesIO(data))


BUILTIN: dict[str, Format] = {
    f.name: f for f in (_Pickle(), _Json(), _PandasParquet(), _PolarsParquet())
}
STORE_CHOICES = ("pickle", "parquet", "json")  # what `store=` names besides registered formats

# formats registered by the user's code (`register_format`), by name, in this process
_registered: dict[str, Format] = {}


def register_format(fmt: Format) -> Format:
    """Store results in `fmt` (see `Format`): those of tasks with `store=fmt.name`, and,
    without `store=`, those it `accepts`. Returns it, so it can decorate a class."""
    if isinstance(fmt, type):
        fmt = fmt()
    if not isinstance(fmt, Format) or not isinstance(fmt.name, str) or not fmt.name:
        raise TypeError(
            "lp.register_format takes a format: an object with a name and accepts(value),"
            f" dumps(value) and loads(data) methods, not {fmt!r}"
        )
    if fmt.name in BUILTIN or fmt.name in STORE_CHOICES:
        raise ValueError(f"lp.register_format: '{fmt.name}' is lp's own format's name")
    _registered[fmt.name] = fmt
    return fmt


def find(name: str) -> Format | None:
    """The format of that name, built in or registered in this process (None: unknown)."""
    return BUILTIN.get(name) or _registered.get(name)


def choose(value: Any, store: str | None) -> Format:
    """The format a task's result is stored in: as `store=` says, else the first that
    accepts it (registered formats first, then Parquet for data frames, then pickle)."""
    if store is None:
        for fmt in (*_registered.values(), BUILTIN["parquet"], BUILTIN["parquet/polars"]):
            if fmt.accepts(value):
                return fmt
        return BUILTIN[PICKLE]
    if store == "parquet":
        for fmt in (BUILTIN["parquet"], BUILTIN["parquet/polars"]):
            if _frame_of(value, fmt.name.partition("/")[2] or "pandas"):
                return fmt
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

    Without `store=`, a value its chosen format cannot write (a frame Parquet cannot hold)
    is pickled instead.
    """
    fmt = choose(value, store)
    try:
        return fmt.name, fmt.dumps(value)
    except Exception as exc:
        if store is None and fmt.name != PICKLE:
            return PICKLE, BUILTIN[PICKLE].dumps(value)
        raise FormatError(
            f"store='{fmt.name}' cannot write a {type(value).__qualname__}: {exc}"
        ) from exc


def known(name: str) -> bool:
    """Whether results in format `name` can be read in this process."""
    return name in BUILTIN or name in _registered


def loads(name: str, data: bytes) -> Any:
    """A stored result read back (LookupError when the format is not known here)."""
    fmt = find(name)
    if fmt is None:
        raise LookupError(name)
    return fmt.loads(data)
