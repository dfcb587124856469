"""What to run, as one value from the command line (or a library call) to the engine."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["RunOptions"]


@dataclass(frozen=True, slots=True)
class RunOptions:
    """What to run, as the user asked for it: from the command line (or a library call) to
    the engine in one value.

    `targets`: these tasks plus their upstream (all tasks when empty). `force`: True for
    every selected task, or the names to force. `skip`: tasks to mark skipped.
    `no_upstream`: run only the targets, on the cached results of their upstream.
    `dry_run`: say what would run, run nothing. `exitfirst`: stop at the first failure.
    `first`: tasks to start as early as their upstream allows (`--failed-first`).
    `show_locals`: failures show each frame's locals (`-l`). `pdb`: a task that fails in this
    process stops in the debugger, in the failing frame (`--pdb`). `capture`: what a task
    prints goes to its log and shows with its failure (the `lp` command's default; `-s`).
    """

    targets: tuple[str, ...] = ()
    force: bool | frozenset[str] = False
    skip: frozenset[str] = frozenset()
    no_upstream: bool = False
    dry_run: bool = False
    exitfirst: bool = False
    first: frozenset[str] = frozenset()
    show_locals: bool = False
    pdb: bool = False
    capture: bool = False

    @classmethod
    def of(
        cls,
        targets: Iterable[str] | None = None,
        *,
        force: bool | Iterable[str] = False,
        skip: Iterable[str] = (),
        no_upstream: bool = False,
        dry_run: bool = False,
        exitfirst: bool = False,
        first: Iterable[str] = (),
        show_locals: bool = False,
        pdb: bool = False,
        capture: bool = False,
    ) -> RunOptions:
        """The options from loosely typed arguments (lists, sets, None)."""
        forced = force if isinstance(force, bool) else frozenset(force)
        return cls(
            tuple(targets or ()), forced, frozenset(skip), no_upstream, dry_run, exitfirst,
            frozenset(first), show_locals, pdb, capture,
        )  # fmt: skip
