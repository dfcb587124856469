"""Each peer in its own virtual environment at a pinned version, made once and reused.

`benchmarks/.venvs/<package>-<version>/` is created with `python -m venv` (this interpreter's
Python) and `pip install <package>==<version>`; it is git-ignored. A venv whose package
reports the pinned version is reused as is.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PEERS", "Peer", "ensure"]

VENVS = Path(__file__).resolve().parent.parent / ".venvs"


@dataclass(frozen=True, slots=True)
class Peer:
    """A peer tool: its pip package, pinned version, and the distribution to ask the version."""

    package: str
    version: str
    distribution: str

    @property
    def venv(self) -> Path:
        return VENVS / f"{self.package}-{self.version}"

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"


PEERS = {
    "doit": Peer("doit", "0.37.0", "doit"),
    "hamilton": Peer("sf-hamilton", "1.90.0", "sf-hamilton"),
    "pytask": Peer("pytask", "0.6.0", "pytask"),
}


def _installed_version(peer: Peer) -> str | None:
    if not peer.python.exists():
        return None
    code = f"import importlib.metadata as m; print(m.version({peer.distribution!r}))"
    proc = subprocess.run([peer.python, "-c", code], capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else None


def ensure(peer: Peer) -> Path:
    """The peer venv's python, creating the venv first if needed.

    Raises RuntimeError with pip's last words if the package cannot be installed.
    """
    if _installed_version(peer) == peer.version:
        return peer.python
    print(f"installing {peer.package}=={peer.version} into {peer.venv} ...", flush=True)
    steps = [
        [sys.executable, "-m", "venv", "--clear", str(peer.venv)],
        [str(peer.python), "-m", "pip", "install", "-q", f"{peer.package}=={peer.version}"],
    ]
    for step in steps:
        proc = subprocess.run(step, capture_output=True, text=True)
        if proc.returncode != 0:
            errors = [line for line in proc.stderr.splitlines() if "ERROR" in line]
            last = (errors or proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise RuntimeError(f"{' '.join(step[2:4])} failed: {last}")
    if (found := _installed_version(peer)) != peer.version:
        raise RuntimeError(f"{peer.package}: installed {found}, wanted {peer.version}")
    return peer.python
