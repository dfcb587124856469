"""Little Pipelines: plain task functions, results cached on disk, reruns of only what changed.

The public API. Names are imported on first use, so `import little_pipelines` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from . import expire, util
    from .errors import DependencyFailure, PipelineValidationError, TaskNotFoundError
    from .pipeline import Pipeline, Task, find_tasks
    from .runner import load, task
    from .shell import Shell

__all__ = [
    "DependencyFailure",
    "Pipeline",
    "PipelineValidationError",
    "Shell",
    "Task",
    "TaskNotFoundError",
    "__version__",
    "expire",
    "find_tasks",
    "load",
    "task",
    "util",
]

_LAZY = {
    "DependencyFailure": "errors",
    "Pipeline": "pipeline",
    "PipelineValidationError": "errors",
    "Shell": "shell",
    "Task": "pipeline",
    "TaskNotFoundError": "errors",
    "find_tasks": "pipeline",
    "load": "runner",
    "task": "runner",
}


def __getattr__(name: str) -> Any:
    if name in ("expire", "util"):
        return importlib.import_module(f".{name}", __name__)
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'little_pipelines' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
