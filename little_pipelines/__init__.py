"""Little Pipelines: plain task functions, results cached on disk, reruns of only what changed.

The public API. Names are imported on first use, so `import little_pipelines` stays cheap:
the `lp` command imports this package before it can install its signal handlers, so nothing at
all is imported here.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from little_pipelines import expire, util
    from little_pipelines._version import __version__
    from little_pipelines.errors import (
        DependencyFailure,
        PipelineValidationError,
        TaskNotFoundError,
    )
    from little_pipelines.library.pipeline import Pipeline, find_tasks
    from little_pipelines.library.task import Task
    from little_pipelines.project.decorator import task
    from little_pipelines.project.project import load
    from little_pipelines.store.formats import Format, register_format
    from little_pipelines.ui.shell import Shell

__all__ = [
    "DependencyFailure",
    "Format",
    "Pipeline",
    "PipelineValidationError",
    "Shell",
    "Task",
    "TaskNotFoundError",
    "__version__",
    "expire",
    "find_tasks",
    "load",
    "register_format",
    "task",
    "util",
]

_LAZY = {
    "DependencyFailure": "errors",
    "Format": "store.formats",
    "Pipeline": "library.pipeline",
    "PipelineValidationError": "errors",
    "Shell": "ui.shell",
    "Task": "library.task",
    "TaskNotFoundError": "errors",
    "__version__": "_version",
    "find_tasks": "library.pipeline",
    "load": "project.project",
    "register_format": "store.formats",
    "task": "project.decorator",
}


def __getattr__(name: str) -> Any:
    import importlib

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
