"""`--help` (ui/help.py): every declared option shown, wrapped only on a terminal."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from little_pipelines.ui import flags
from little_pipelines.ui.help import render

LONGEST = "Show completion for the current shell, to copy it or customize the installation."


@pytest.mark.parametrize("name", [None, *flags.COMMANDS])
def test_help_names_every_option_with_its_help(name: str | None) -> None:
    text = render(name)
    declared = flags.COMMANDS[name].flags if name else {**flags.GLOBAL_FLAGS, **flags.COMPLETION}
    for flag in declared.values():
        if flag.hidden:  # accepted, but it changes nothing for this command
            assert f"{flag.names[0]} " not in text
            continue
        found = re.search(rf"{re.escape(flag.names[0])}[ ,]", text)  # `--lf, --last-failed`
        assert found is not None, flag.names
        at = found.start()
        shown = text[text.rindex("\n", 0, at) : text.index("\n  -", at)]  # up to the next option
        assert all(n in shown for n in flag.names) and flag.help in shown
    assert "-h, --help" in text
    assert text.startswith(f"Usage: lp {name} [OPTIONS]" if name else "Usage: lp [OPTIONS]")


def test_lp_help_lists_every_command() -> None:
    text = render(None)
    for name, command in flags.COMMANDS.items():
        assert f"  {name.ljust(5)}  {command.help}" in text


def test_arguments_and_values_are_named_for_people() -> None:
    assert "Usage: lp run [OPTIONS] [TASK]...\n" in render("run")
    assert "Usage: lp why [OPTIONS] TASK\n" in render("why")
    run = render("run")
    assert "-j, --jobs N " in run and "--executor [local|dask] " in run
    assert "[default: local]" in run and "--address URL " in run
    assert "<bool>" not in run and "<int range>" not in run


def test_off_a_terminal_help_is_not_hard_wrapped() -> None:
    assert any(line.endswith(LONGEST) for line in render(None).splitlines())


def test_on_a_terminal_help_is_wrapped_to_its_width() -> None:
    text = render(None, width=60)
    assert all(len(line) <= 60 for line in text.splitlines())
    assert LONGEST not in text and "customize" in text


HEAVY = ["typer", "click", "pydantic", "rich", "loguru"]


def test_lp_help_is_printed_without_typer_or_rich(tmp_path: Path) -> None:
    probe = textwrap.dedent(
        f"""
        import atexit, json, sys
        atexit.register(lambda: open({str(tmp_path / "heavy.json")!r}, "w").write(
            json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules))))
        sys.argv = ["lp", "run", "--help"]
        from little_pipelines.__main__ import main
        main()
        """
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout == render("run")
    assert json.loads((tmp_path / "heavy.json").read_text()) == []


def test_lp_alone_prints_the_help_and_exits_2(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "little_pipelines"], capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 2 and done.stdout == render(None)
