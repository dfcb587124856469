"""Canonical digests of task results: equal values give equal digests in every process.

Early cutoff compares a result with its cached one. Pickle bytes cannot be compared across
processes: a set pickles in hash order, which changes with PYTHONHASHSEED. `value_digest` walks
the value instead, in a typed, length-prefixed encoding: sets in the order of their elements'
encodings, dicts in insertion order (that order is observable, so it counts), other objects
through the same `__reduce_ex__` tuple pickle uses. Where the walk cannot vouch for a value it
digests the pickle bytes instead: coarser (no cutoff at worst), never a false cutoff.

Types can say how they are compared: a `__lp_digest__(self) -> bytes | str` method, or
`@canonical.register(SomeType)` for types you do not own (a DataFrame library, say). The bytes
returned must differ whenever the values differ.
"""

from __future__ import annotations

import copyreg
import enum
import functools
import hashlib
import pickle
import struct
import types
from collections.abc import Callable
from typing import Any

__all__ = ["canonical", "pickle_digest", "value_digest"]

_FLUSH = 1 << 16  # hash the buffer in chunks of this size


class _Fallback(Exception):
    """The walk cannot vouch for this value: digest its pickle bytes instead."""


@functools.singledispatch
def canonical(obj: Any) -> bytes | str:
    """A type's canonical encoding for result digests; register one with `@canonical.register`.

    The default is not an encoding: unregistered types are walked like pickle walks them.
    """
    raise NotImplementedError


def value_digest(value: Any, data: bytes | None = None) -> str:
    """A digest of `value` that two equal results share in any process (hex text).

    `data` is the value's pickle bytes if already made: the fallback digests them.
    """
    try:
        encoder = _Encoder()
        encoder.encode(value)
        return "c" + encoder.hexdigest()
    except Exception:  # _Fallback, RecursionError, a failing hook: the walk cannot vouch
        pass
    return pickle_digest(pickle.dumps(value, protocol=5) if data is None else data)


def pickle_digest(data: bytes) -> str:
    """The fallback digest: of a value's pickle bytes (equal bytes, equal values)."""
    return "p" + hashlib.blake2b(data, digest_size=16, person=b"lp-pickle").hexdigest()


def _global(obj: Any) -> bytes:
    """Functions and classes are pickled by name; so are they compared."""
    module = getattr(obj, "__module__", None)
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if not isinstance(module, str) or not isinstance(name, str) or "<" in name:
        raise _Fallback
    return f"{module}:{name}".encode()


def _immutable(obj: Any) -> bool:
    """Objects whose sharing cannot be observed, so two references need no back-reference."""
    if isinstance(obj, tuple | frozenset | enum.Enum | int | float | str | bytes):
        return True
    params = getattr(type(obj), "__dataclass_params__", None)
    return params is not None and params.frozen


def _size(n: int) -> bytes:
    return n.to_bytes(8, "little")


class _Encoder:
    """One walk over a value, feeding a typed encoding into a hash."""

    def __init__(self, digest_size: int = 16) -> None:
        self._hash = hashlib.blake2b(digest_size=digest_size, person=b"lp-canonical")
        self._buf = bytearray()
        # Mutable objects seen so far (kept alive: ids of temporaries must not be reused).
        self._memo: dict[int, tuple[int, Any]] = {}
        self._hooks = len(canonical.registry) > 1

    def hexdigest(self) -> str:
        self._hash.update(self._buf)
        return self._hash.hexdigest()

    def digest(self) -> bytes:
        self._hash.update(self._buf)
        return self._hash.digest()

    @property
    def shared(self) -> bool:
        """Whether a mutable object was met (its sharing with others is then observable)."""
        return bool(self._memo)

    def _write(self, chunk: bytes) -> None:
        buf = self._buf
        buf += chunk
        if len(buf) > _FLUSH:
            self._hash.update(buf)
            buf.clear()

    def _seen(self, obj: Any) -> bool:
        """Write a back-reference if `obj` was met before (aliasing is observable); else note it."""
        found = self._memo.get(id(obj))
        if found is not None:
            self._write(b"R" + _size(found[0]))
            return True
        self._memo[id(obj)] = (len(self._memo), obj)
        return False

    def encode(self, obj: Any) -> None:
        kind = type(obj)
        method = _SIMPLE.get(kind)
        if method is not None:
            method(self, obj)
            return
        container = _CONTAINERS.get(kind)
        if container is not None:
            container(self, obj)
            return
        self._other(obj)

    # simple values -------------------------------------------------------------------------

    def _none(self, obj: None) -> None:
        self._write(b"N")

    def _bool(self, obj: bool) -> None:
        self._write(b"T" if obj else b"F")

    def _int(self, obj: int) -> None:
        raw = obj.to_bytes((obj.bit_length() + 8) // 8, "little", signed=True)
        self._write(b"i" + _size(len(raw)) + raw)

    def _float(self, obj: float) -> None:
        self._write(b"f" + struct.pack("<d", obj))

    def _complex(self, obj: complex) -> None:
        self._write(b"j" + struct.pack("<dd", obj.real, obj.imag))

    def _str(self, obj: str) -> None:
        self._blob(b"s", obj.encode("utf-8", "surrogatepass"))

    def _bytes(self, obj: bytes) -> None:
        self._blob(b"b", obj)

    def _blob(self, tag: bytes, raw: bytes) -> None:
        if len(raw) < _FLUSH:
            self._write(tag + _size(len(raw)) + raw)
            return
        self._write(tag + _size(len(raw)))
        self._hash.update(self._buf)
        self._buf.clear()
        self._hash.update(raw)  # a large blob goes to the hash without a copy

    # containers ----------------------------------------------------------------------------

    def _bytearray(self, obj: bytearray) -> None:
        if not self._seen(obj):
            self._blob(b"B", bytes(obj))

    def _list(self, obj: list[Any]) -> None:
        if self._seen(obj):
            return
        if len(obj) > 16 and set(map(type, obj)) <= _NUMBERS:
            self._blob(b"L", pickle.dumps(obj, protocol=5))  # the same bytes in any process
            return
        self._write(b"l" + _size(len(obj)))
        encode = self.encode
        for item in obj:
            encode(item)
        self._write(b"e")  # a list can grow while walked (by a hook): close it explicitly

    def _tuple(self, obj: tuple[Any, ...]) -> None:
        if len(obj) > 16 and set(map(type, obj)) <= _NUMBERS:
            self._blob(b"U", pickle.dumps(obj, protocol=5))
            return
        self._write(b"t" + _size(len(obj)))
        for item in obj:
            self.encode(item)

    def _dict(self, obj: dict[Any, Any]) -> None:
        if not self._seen(obj):
            self._dict_body(obj)

    def _dict_body(self, obj: dict[Any, Any]) -> None:
        self._write(b"d" + _size(len(obj)))
        for key, value in obj.items():
            self.encode(key)
            self.encode(value)
        self._write(b"e")

    def _set(self, obj: set[Any]) -> None:
        if not self._seen(obj):
            self._elements(b"S", obj)

    def _frozenset(self, obj: frozenset[Any]) -> None:
        self._elements(b"Z", obj)

    def _elements(self, tag: bytes, items: set[Any] | frozenset[Any]) -> None:
        """Set elements in the order of their own digests, whatever the hash seed."""
        digests = []
        for item in items:
            sub = _Encoder(32)
            sub.encode(item)
            if sub.shared:  # a mutable object inside a set: its aliasing cannot be kept
                raise _Fallback
            digests.append(sub.digest())
        digests.sort()
        self._write(tag + _size(len(digests)) + b"".join(digests))

    # everything else -----------------------------------------------------------------------

    def _other(self, obj: Any) -> None:
        kind = type(obj)
        if self._hooks:
            hook = canonical.dispatch(kind)
            if hook is not canonical.registry[object]:
                self._hooked(kind, hook(obj))
                return
        method = getattr(kind, "__lp_digest__", None)
        if method is not None:
            self._hooked(kind, method(obj))
            return
        if isinstance(obj, type | types.FunctionType | types.BuiltinFunctionType):
            self._write(b"g" + _size(len(name := _global(obj))) + name)
            return
        if isinstance(obj, pickle.PickleBuffer | memoryview):
            raw = bytes(obj.raw() if isinstance(obj, pickle.PickleBuffer) else obj)
            self._write(b"m" + _size(len(raw)) + raw)
            return
        self._reduced(obj)

    def _hooked(self, kind: type, encoded: bytes | str) -> None:
        if isinstance(encoded, str):
            encoded = encoded.encode("utf-8", "surrogatepass")
        if not isinstance(encoded, bytes):
            raise _Fallback
        name = _global(kind)
        self._write(b"h" + _size(len(name)) + name + _size(len(encoded)) + encoded)

    def _reduced(self, obj: Any) -> None:
        """An object as pickle sees it: the callable that rebuilds it, its arguments, its state."""
        immutable = _immutable(obj)
        if not immutable and self._seen(obj):
            return
        reducer = copyreg.dispatch_table.get(type(obj))
        parts = reducer(obj) if reducer is not None else obj.__reduce_ex__(5)
        if isinstance(parts, str):  # a module-level singleton, pickled by name
            name = f"{type(obj).__module__}:{parts}".encode()
            self._write(b"g" + _size(len(name)) + name)
            return
        if not isinstance(parts, tuple) or not 2 <= len(parts) <= 6:
            raise _Fallback
        self._write(b"r" + _size(len(parts)))
        for i, part in enumerate(parts):
            if i in (3, 4) and part is not None:  # listitems, dictitems: iterators
                part = list(part)
            if i == 2 and immutable and type(part) is dict:
                self._dict_body(part)  # the state of a frozen object: nobody shares it
            else:
                self.encode(part)


# Lists of these pickle to the same bytes in every process (none of them is memoised), so
# pickle, which is fast, encodes them.
_NUMBERS = frozenset({type(None), bool, int, float, complex})
_SIMPLE: dict[type, Callable[[_Encoder, Any], None]] = {
    type(None): _Encoder._none,
    bool: _Encoder._bool,
    int: _Encoder._int,
    float: _Encoder._float,
    complex: _Encoder._complex,
    str: _Encoder._str,
    bytes: _Encoder._bytes,
}
_CONTAINERS: dict[type, Callable[[_Encoder, Any], None]] = {
    bytearray: _Encoder._bytearray,
    list: _Encoder._list,
    tuple: _Encoder._tuple,
    dict: _Encoder._dict,
    set: _Encoder._set,
    frozenset: _Encoder._frozenset,
}
