"""The interactive shell: a subclassable `cmd.Cmd` over a pipeline (SPEC section 2).

Works with an `lp.Pipeline` or a project's pipeline alike, through the few methods of
`ShellPipeline`, which both front doors have. All output goes to the shell's `stdout` (rich
output through a Console on it), so a shell can be driven and read in tests. Nothing happens
at import or construction: the console is made on first use, and a log sink exists only while
a run started by the shell lasts.
"""

from __future__ import annotations

import contextlib
import datetime
import inspect
import shlex
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

from little_pipelines.errors import LittlePipelinesError
from little_pipelines.ui.prompt import Prompt

if TYPE_CHECKING:
    from little_pipelines.outcomes import Reporter, RunReport
    from little_pipelines.store.cache import ResultCache

__all__ = ["Shell", "ShellPipeline"]


class ShellPipeline(Protocol):
    """What the shell asks of a pipeline: an `lp.Pipeline`, or a project's (`lp shell`)."""

    @property
    def name(self) -> str: ...

    @property
    def tasks(self) -> Iterator[Any]: ...

    @property
    def result_cache(self) -> ResultCache: ...

    @property
    def log_dir(self) -> Path: ...

    def get_task(self, name: str) -> Any: ...

    def get_result(self, name: str) -> Any: ...

    def validate_tasks(self) -> None: ...

    def execute(
        self,
        force: bool = False,
        force_tasks: Iterable[str] | None = None,
        skip_tasks: Iterable[str] | None = None,
        single_task: str = "",
        *,
        reporter: Reporter | None = None,
    ) -> RunReport: ...


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "—"
    return datetime.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")


class Shell(Prompt):
    """An interactive shell over a pipeline; subclass it to add `do_<command>` methods.

    Define `startup()` / `shutdown()` in a subclass to run code when the loop starts and ends.
    """

    def __init__(
        self, completekey: str = "tab", stdin: IO[str] | None = None, stdout: IO[str] | None = None
    ) -> None:
        super().__init__(completekey, stdin, stdout)
        self.pipeline: ShellPipeline | None = None
        self.quiet = False
        self.log_level: str | None = None
        self.last_report: RunReport | None = None

    def set_pipeline(self, pipeline: ShellPipeline) -> Shell:
        """Set the pipeline the commands work on; returns the shell, for chaining."""
        self.pipeline = pipeline
        return self

    def banner(self, *about: str) -> str:
        """The intro, with the loaded pipeline."""
        pipeline = f"Pipeline: {self.pipeline.name}" if self.pipeline is not None else ""
        return super().banner(pipeline, *about)

    def _pipeline(self) -> ShellPipeline:
        if self.pipeline is None:
            raise LittlePipelinesError("no pipeline is set: call shell.set_pipeline(pipeline)")
        return self.pipeline

    def _task_name(self, arg: str) -> str:
        """The single task name in `arg`, checked against the pipeline."""
        words = arg.split()
        if len(words) != 1:
            raise LittlePipelinesError("give one task name (see: list-tasks)")
        name: str = self._pipeline().get_task(words[0]).name
        return name

    def _upstream(self, name: str) -> list[str]:
        """Every task that `name` depends on, directly or not."""
        pipeline, seen, todo = self._pipeline(), set(), [name]
        while todo:
            for dep in pipeline.get_task(todo.pop()).dependencies or {}:
                if dep not in seen:
                    seen.add(dep)
                    todo.append(dep)
        return sorted(seen)

    def complete_task(self, text: str, *ignored: Any) -> list[str]:
        """Complete task names."""
        return [t.name for t in self._pipeline().tasks if t.name.startswith(text)]

    complete_peek = complete_info = complete_executeone = complete_clear_cache = complete_task

    def do_list_tasks(self, arg: str) -> None:
        """List the tasks in the order they run, each with the tasks it depends on."""
        tasks = list(self._pipeline().tasks)
        self.say(f"{len(tasks)} tasks in pipeline '{self._pipeline().name}':")
        width = max((len(t.name) for t in tasks), default=0)
        for i, task in enumerate(tasks, 1):
            deps = ", ".join(task.dependencies or {})
            self.say(f"{i:>3}. {task.name.ljust(width)}" + (f"  <- {deps}" if deps else ""))

    def do_list_cache(self, arg: str) -> None:
        """List the tasks with a stored result: when it was stored, how long the task took."""
        from little_pipelines.ui.console import format_duration

        cache = self._pipeline().result_cache
        names = cache.names()
        if not names:
            self.say("no stored results")
            return
        width = max(len(n) for n in [*names, "task"])
        self.say(f"{'task'.ljust(width)}  {'stored at'.ljust(19)}  {'took':>7}  expires")
        for name in names:
            entry = cache.entry(name)
            if entry is None:
                continue
            expires = "end of session" if entry.session else "on change"
            if entry.expires_at is not None:
                expires = _when(entry.expires_at)
            took = format_duration(entry.duration_s)
            self.say(f"{name.ljust(width)}  {_when(entry.stored_at)}  {took:>7}  {expires}")

    def do_peek(self, arg: str) -> None:
        """Pretty-print a task's result: peek NAME."""
        from rich.pretty import Pretty

        pipeline = self._pipeline()
        name = self._task_name(arg)
        value = pipeline.get_result(name)
        if value is None and name not in pipeline.result_cache.names():
            self.say(f"task '{name}' has no result yet; run it first: executeone {name}")
            return
        self.console.print(Pretty(value))

    def do_info(self, arg: str) -> None:
        """Show a task's description (the docstring of the module defining it): info NAME."""
        info = self._pipeline().get_task(self._task_name(arg)).info
        self.say(inspect.cleandoc(info) if info else "(no description)")

    def do_validate(self, arg: str) -> None:
        """Check every task has a 'run' process and the dependency graph is valid."""
        try:
            self._pipeline().validate_tasks()
        except (LittlePipelinesError, AttributeError) as exc:
            self.say(f"invalid: {exc}", style="red")
        else:
            self.say("OK", style="green")

    def do_clear_cache(self, arg: str) -> None:
        """Drop stored results: clear_cache NAME (one task), clear_cache . (every result),
        clear_cache . --hard (empty the whole cache folder and delete the task log files)."""
        words = arg.split()
        pipeline = self._pipeline()
        cache = pipeline.result_cache
        memory: dict[str, Any] = getattr(pipeline, "_results", {})  # this session's values
        if words == [".", "--hard"]:
            cache.clear()
            memory.clear()
            logs = list(pipeline.log_dir.glob("*.log")) if pipeline.log_dir.is_dir() else []
            for path in logs:
                path.unlink()
            self.say(f"cache emptied and {len(logs)} log files deleted")
        elif words == ["."]:
            names = cache.names()
            for name in names:
                cache.drop(name)
                memory.pop(name, None)
            self.say(f"dropped {len(names)} stored results")
        elif len(words) == 1 and not words[0].startswith("-"):
            name = self._task_name(arg)
            memory.pop(name, None)
            dropped = cache.drop(name)
            self.say(f"dropped the result of '{name}'" if dropped else f"'{name}' had no result")
        else:
            raise LittlePipelinesError("usage: clear_cache NAME | clear_cache . [--hard]")

    def do_execute(self, arg: str) -> None:
        """Run the pipeline: execute [--force] [--skip=NAME ...]
        --force clears every stored result first; --skip marks a task skipped."""
        force, skip = False, []
        words = iter(shlex.split(arg))
        for word in words:
            if word == "--force":
                force = True
            elif word.startswith("--skip="):
                skip += [n for n in word.removeprefix("--skip=").split(",") if n]
            elif word == "--skip":
                skip.append(next(words, ""))
            else:
                raise LittlePipelinesError(
                    f"unknown option {word!r} (execute [--force] [--skip=NAME])"
                )
        self._run(force=force, skip_tasks=skip)

    def do_executeone(self, arg: str) -> None:
        """Run one task and its upstream tasks: executeone NAME [--no-deps]
        --no-deps runs only NAME, feeding it the stored results of its upstream tasks."""
        words = arg.split()
        no_deps = "--no-deps" in words
        name = self._task_name(" ".join(w for w in words if w != "--no-deps"))
        skip = self._upstream(name) if no_deps else []
        self._run(single_task=name, skip_tasks=skip)

    def _run(self, **options: Any) -> None:
        from little_pipelines.ui.console import make_reporter

        reporter = make_reporter(self.console, quiet=self.quiet)
        with self._task_logs():
            self.last_report = self._pipeline().execute(reporter=reporter, **options)

    @contextlib.contextmanager
    def _task_logs(self) -> Iterator[None]:
        """Show task log records on stderr at `log_level` while a run lasts."""
        if self.log_level is None:
            yield
            return
        from loguru import logger

        from little_pipelines.engine.logs import _KEY

        line = f"{{time:HH:mm:ss}} | {{level: <8}} | {{extra[{_KEY}]}} | {{message}}"
        only_tasks = lambda record: _KEY in record["extra"]  # noqa: E731
        sink = logger.add(sys.stderr, level=self.log_level, format=line, filter=only_tasks)
        try:
            yield
        finally:
            logger.remove(sink)

    def do_log(self, arg: str) -> None:
        """Show task log records on stderr during runs, from a level: log DEBUG|INFO|...|off."""
        level = arg.strip().upper()
        if level and level != "OFF":
            from loguru import logger

            try:
                logger.level(level)
            except ValueError:
                raise LittlePipelinesError(
                    f"unknown log level {arg.strip()!r}"
                    " (TRACE, DEBUG, INFO, SUCCESS, WARNING, ERROR, CRITICAL or off)"
                ) from None
        if level:
            self.log_level = None if level == "OFF" else level
        self.say(f"task logs are shown at {self.log_level or 'off'}")

    def do_quiet(self, arg: str) -> None:
        """Toggle quiet mode: runs print only failures and the totals."""
        self.quiet = not self.quiet
        self.say(f"quiet mode {'on' if self.quiet else 'off'}")
