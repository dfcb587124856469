"""Tasks files imported by path under unique module names (two `tasks_load.py` never collide)."""

from __future__ import annotations

import importlib.util
import re
import sys
import traceback
import types
from pathlib import Path

from .errors import DiscoveryError

__all__ = ["Modules"]

_error = DiscoveryError.at


class Modules:
    """Tasks modules imported by path under unique names, each at most once per version."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._loaded: dict[Path, tuple[int, types.ModuleType]] = {}

    def module_name(self, path: Path) -> str:
        rel = path.relative_to(self.root).with_suffix("").as_posix()
        return "lp_tasks__" + re.sub(r"\W", "_", rel.replace("/", "__"))

    def load(self, path: Path) -> types.ModuleType:
        """Import (or re-import after a change) the tasks file at `path`."""
        mtime = path.stat().st_mtime_ns
        known = self._loaded.get(path)
        if known is not None and known[0] == mtime:
            return known[1]
        self.ensure_importable()
        name = self.module_name(path)
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except (Exception, SystemExit) as exc:  # sys.exit() or argparse at import time too
            sys.modules.pop(name, None)
            raise self._import_error(path, exc) from exc
        self._loaded[path] = (mtime, module)
        return module

    def ensure_importable(self) -> None:
        """Put the root on sys.path, so tasks files (and results) can import project modules."""
        root = str(self.root)
        if root not in sys.path:
            sys.path.insert(0, root)

    def forget(self, path: Path) -> None:
        """Import `path` afresh next time it is needed."""
        self._loaded.pop(path, None)
        sys.modules.pop(self.module_name(path), None)

    def forget_all(self) -> None:
        """Import every tasks file afresh next time (a helper module they use changed)."""
        for path in list(self._loaded):
            self.forget(path)

    def _import_error(self, path: Path, exc: BaseException) -> DiscoveryError:
        rel = path.relative_to(self.root).as_posix()
        if isinstance(exc, SyntaxError):
            where = Path(exc.filename) if exc.filename else path
            if where.is_relative_to(self.root):
                rel = where.relative_to(self.root).as_posix()
            return _error(f"syntax error: {exc.msg}", rel, exc.lineno)
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(path)]
        line = frames[-1].lineno if frames else None
        hint = ""
        if isinstance(exc, ModuleNotFoundError):
            hint = f" (is '{exc.name}' installed in this environment?)"
        return _error(f"import failed: {type(exc).__name__}: {exc}{hint}", rel, line)
