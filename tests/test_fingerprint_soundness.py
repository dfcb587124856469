"""The code reader never misses a dependency (issue 6, families 1-4), and stays precise.

Each case writes a small project, takes the task's code digest with a fresh SourceIndex (as a
new `lp` process would), makes one edit that changes what the task computes, and checks that
the digest changed. Cases that name a fallback also check that `closure_notes` says so.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from little_pipelines.fingerprint.code import SourceIndex


def write(root: Path, rel: str, source: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source).lstrip("\n"), encoding="utf-8")
    return path


def task_digest(root: Path, name: str, rel: str = "tasks_x.py") -> tuple[str, list[str]]:
    index = SourceIndex(root)
    path = root / rel
    closure = index.closure_of([(path, index.module(path).defs[name])])
    return index.closure_digest(closure), index.closure_notes(closure)


def edit(root: Path, rel: str, old: str, new: str) -> None:
    path = root / rel
    text = path.read_text()
    assert old in text, f"{old!r} not in {rel}"
    path.write_text(text.replace(old, new, 1))


# (files, task, (file, old, new)): the edit changes what the task returns.
FOLLOWED = {
    "rebound-in-if": (
        {"tasks_x.py": "import sys\nK = 10\nif sys.maxsize:\n    K = K + 1\n"},
        "def task_a():\n    return K\n",
        ("tasks_x.py", "K = 10", "K = 20"),
    ),
    "rebound-in-else": (
        {"tasks_x.py": "import os\nif os.sep == '?':\n    K = 1\nelse:\n    K = 2\n"},
        "def task_a():\n    return K\n",
        ("tasks_x.py", "K = 2", "K = 3"),
    ),
    "rebound-in-for": (
        {"tasks_x.py": "TOTAL = 0\nfor i in range(3):\n    TOTAL += i\n"},
        "def task_a():\n    return TOTAL\n",
        ("tasks_x.py", "TOTAL = 0", "TOTAL = 5"),
    ),
    "rebound-in-while": (
        {"tasks_x.py": "N = 1\nwhile N < 50:\n    N *= 2\n"},
        "def task_a():\n    return N\n",
        ("tasks_x.py", "N *= 2", "N *= 3"),
    ),
    "rebound-in-try": (
        {"tasks_x.py": "S = 3\ntry:\n    S = int('x')\nexcept ValueError:\n    S = S * 2\n"},
        "def task_a():\n    return S\n",
        ("tasks_x.py", "S = 3", "S = 4"),
    ),
    "rebound-in-with": (
        {
            "tasks_x.py": "import contextlib\nW = 7\nwith contextlib.suppress(KeyError):\n"
            "    W = W * 2\n"
        },
        "def task_a():\n    return W\n",
        ("tasks_x.py", "W = 7", "W = 8"),
    ),
    "bound-in-match": (
        {
            "tasks_x.py": "MODE = 'b'\nmatch MODE:\n    case 'a':\n        F = 1\n"
            "    case _:\n        F = 5\n"
        },
        "def task_a():\n    return F\n",
        ("tasks_x.py", "F = 5", "F = 6"),
    ),
    "function-redefined-on-a-branch": (
        {
            "tasks_x.py": "import sys\ndef f():\n    return 1\nif sys.maxsize:\n"
            "    def f():\n        return 2\n"
        },
        "def task_a():\n    return f()\n",
        ("tasks_x.py", "return 2", "return 3"),
    ),
    "import-on-the-taken-branch": (
        {
            "v1.py": "def f():\n    return 1\n",
            "v2.py": "def f():\n    return 2\n",
            "tasks_x.py": "V2 = True\nif V2:\n    from v2 import f\nelse:\n    from v1 import f\n",
        },
        "def task_a():\n    return f()\n",
        ("v2.py", "return 2", "return 3"),
    ),
    "import-on-the-other-branch": (
        {
            "v1.py": "def f():\n    return 1\n",
            "v2.py": "def f():\n    return 2\n",
            "tasks_x.py": "V2 = True\nif V2:\n    from v2 import f\nelse:\n    from v1 import f\n",
        },
        "def task_a():\n    return f()\n",
        ("v1.py", "return 1", "return 4"),
    ),
    "lazy-import-of-a-module": (
        {"helpers.py": "def f():\n    return 1\n"},
        "def task_a():\n    import helpers\n    return helpers.f()\n",
        ("helpers.py", "return 1", "return 2"),
    ),
    "lazy-from-import": (
        {"helpers.py": "def f():\n    return 1\n"},
        "def task_a():\n    from helpers import f\n    return f()\n",
        ("helpers.py", "return 1", "return 2"),
    ),
    "lazy-import-in-a-helper": (
        {
            "helpers.py": "def f():\n    from deep import g\n    return g()\n",
            "deep.py": "def g():\n    return 1\n",
        },
        "from helpers import f\n\ndef task_a():\n    return f()\n",
        ("deep.py", "return 1", "return 2"),
    ),
    "lazy-import-in-a-nested-function": (
        {"helpers.py": "def f():\n    return 1\n"},
        "def task_a():\n    def inner():\n        import helpers as h\n        return h.f()\n"
        "    return inner()\n",
        ("helpers.py", "return 1", "return 2"),
    ),
    "module-as-a-value-reaches-its-helpers": (
        {
            "helpers.py": "from deep import g\n\ndef named():\n    return g()\n",
            "deep.py": "def g():\n    return 1\n",
        },
        "import helpers\n\ndef task_a():\n    return getattr(helpers, 'named')()\n",
        ("deep.py", "return 1", "return 2"),
    ),
    "module-passed-around": (
        {"helpers.py": "def f():\n    return 1\n"},
        "import helpers\n\ndef call(mod):\n    return mod.f()\n\ndef task_a():\n"
        "    return call(helpers)\n",
        ("helpers.py", "return 1", "return 2"),
    ),
    "global-changed-by-a-module-level-call": (
        {
            "helpers.py": "COUNTER = 0\n\ndef _bump():\n    global COUNTER\n    COUNTER += 10\n\n"
            "_bump()\n"
        },
        "import helpers\n\ndef task_a():\n    return helpers.COUNTER\n",
        ("helpers.py", "COUNTER += 10", "COUNTER += 20"),
    ),
    "global-changed-through-another-function": (
        {
            "tasks_x.py": "COUNTER = 0\n\ndef _inc():\n    global COUNTER\n    COUNTER += 1\n\n"
            "def setup():\n    _inc()\n\nsetup()\n"
        },
        "def task_a():\n    return COUNTER\n",
        ("tasks_x.py", "COUNTER += 1", "COUNTER += 2"),
    ),
    "registry-filled-by-a-decorator": (
        {
            "tasks_x.py": "REGISTRY = {}\n\ndef register(name):\n    def deco(f):\n"
            "        REGISTRY[name] = f\n        return f\n    return deco\n\n"
            "@register('scale')\ndef scale(x):\n    return x * 3\n"
        },
        "def task_a():\n    return REGISTRY['scale'](2)\n",
        ("tasks_x.py", "x * 3", "x * 4"),
    ),
    "registry-in-another-module": (
        {
            "registry.py": "REGISTRY = []\n\ndef register(f):\n    REGISTRY.append(f)\n"
            "    return f\n",
            "tasks_x.py": "from registry import REGISTRY, register\n\n"
            "@register\ndef scale(x):\n    return x * 3\n",
        },
        "def task_a():\n    return [f(2) for f in REGISTRY]\n",
        ("tasks_x.py", "x * 3", "x * 4"),
    ),
    "plugins-imported-for-their-effect": (
        {
            "registry.py": "REGISTRY = {}\n\ndef register(name, f):\n    REGISTRY[name] = f\n",
            "plugins.py": "from registry import register\n\ndef shift(x):\n    return x + 1\n\n"
            "register('shift', shift)\n",
            "tasks_x.py": "import plugins  # noqa: F401\nfrom registry import REGISTRY\n",
        },
        "def task_a():\n    return REGISTRY['shift'](1)\n",
        ("plugins.py", "x + 1", "x + 2"),
    ),
    "registry-filled-by-a-module-the-task-uses": (
        {
            "registry.py": "REGISTRY = {}\n\ndef register(name, f):\n    REGISTRY[name] = f\n",
            "helpers.py": "import registry\n\ndef shift(x):\n    return x + 1\n\n"
            "registry.register('shift', shift)\n\ndef other():\n    return 0\n",
            "tasks_x.py": "from registry import REGISTRY\nfrom helpers import other\n",
        },
        "def task_a():\n    return REGISTRY['shift'](1) + other()\n",
        ("helpers.py", "x + 1", "x + 2"),
    ),
}

# (files, task, (file, old, new), what lp why must name): code the reader cannot follow.
FALLBACKS = {
    "import-module": (
        {"plug_a.py": "def value():\n    return 1\n"},
        "import importlib\n\ndef task_a():\n    return importlib.import_module('plug_' + 'a')"
        ".value()\n",
        ("plug_a.py", "return 1", "return 2"),
        "dynamic import",
    ),
    "dunder-import": (
        {"plug_a.py": "def value():\n    return 1\n"},
        "def task_a():\n    return __import__('plug_a').value()\n",
        ("plug_a.py", "return 1", "return 2"),
        "dynamic import",
    ),
    "sys-path-at-module-level": (
        {
            "vendor/vendored.py": "def v():\n    return 1\n",
            "tasks_x.py": "import sys\nfrom pathlib import Path\n"
            "sys.path.insert(0, str(Path(__file__).parent / 'vendor'))\nimport vendored\n",
        },
        "def task_a():\n    return vendored.v()\n",
        ("vendor/vendored.py", "return 1", "return 2"),
        "sys.path",
    ),
    "sys-path-in-the-task": (
        {"vendor/vendored.py": "def v():\n    return 1\n"},
        "import sys\n\ndef task_a():\n    sys.path.append('vendor')\n    import vendored\n"
        "    return vendored.v()\n",
        ("vendor/vendored.py", "return 1", "return 2"),
        "sys.path",
    ),
    "exec": (
        {"snippet.py": "X = 1\n"},
        "def task_a():\n    scope = {}\n    exec(open('snippet.py').read(), scope)\n"
        "    return scope['X']\n",
        ("snippet.py", "X = 1", "X = 2"),
        "exec",
    ),
}


def _write_case(root: Path, files: dict[str, str], task: str) -> None:
    written = dict(files)
    written["tasks_x.py"] = written.get("tasks_x.py", "") + "\n\n" + task
    for rel, source in written.items():
        write(root, rel, source)


@pytest.mark.parametrize("case", FOLLOWED)
def test_every_binding_and_import_is_followed(tmp_path: Path, case: str) -> None:
    files, task, (rel, old, new) = FOLLOWED[case]
    _write_case(tmp_path, files, task)
    before, _ = task_digest(tmp_path, "task_a")
    edit(tmp_path, rel, old, new)
    after, _ = task_digest(tmp_path, "task_a")
    assert before != after


@pytest.mark.parametrize("case", FALLBACKS)
def test_code_the_reader_cannot_follow_falls_back_and_says_so(tmp_path: Path, case: str) -> None:
    files, task, (rel, old, new), named = FALLBACKS[case]
    _write_case(tmp_path, files, task)
    before, notes = task_digest(tmp_path, "task_a")
    assert any(named in note for note in notes), notes
    edit(tmp_path, rel, old, new)
    assert task_digest(tmp_path, "task_a")[0] != before


def test_a_module_used_as_a_value_is_named_as_a_fallback(tmp_path: Path) -> None:
    write(tmp_path, "helpers.py", "def f():\n    return 1\n")
    write(
        tmp_path,
        "tasks_x.py",
        "import helpers\n\ndef task_a():\n    return getattr(helpers, 'f')()\n",
    )
    _, notes = task_digest(tmp_path, "task_a")
    assert notes == ["helpers.py: a module used as a value counts whole"]


# Precision: edits that must NOT change the task's digest.
PRECISE = {
    "local-variable-shadows-a-constant": (
        "RATE = 2\n\ndef task_a():\n    RATE = 5\n    return RATE\n",
        ("RATE = 2", "RATE = 3"),
    ),
    "comprehension-variable-shadows-a-constant": (
        "X = 2\n\ndef task_a():\n    return [X for X in range(3)]\n",
        ("X = 2", "X = 3"),
    ),
    "loop-variable-shadows-a-function": (
        "def item():\n    return 1\n\ndef task_a():\n    total = 0\n    for item in range(3):\n"
        "        total += item\n    return total\n",
        ("return 1", "return 2"),
    ),
    "class-attribute-is-not-a-module-name": (
        "SIZE = 1\n\nclass Box:\n    SIZE = 3\n    def size(self):\n        return 4\n\n"
        "def task_a():\n    return Box().size()\n",
        ("SIZE = 1", "SIZE = 2"),
    ),
    "neighbour-task-edit": (
        "def task_a():\n    return 1\n\ndef task_b():\n    return 2\n",
        ("return 2", "return 3"),
    ),
    "memo-writer-does-not-join-unrelated-tasks": (
        "_CACHE = {}\n\ndef get(k):\n    _CACHE[k] = k\n    return k\n\n"
        "def task_a():\n    return 1\n\ndef task_b():\n    return get(2)\n",
        ("_CACHE[k] = k", "_CACHE[k] = k * 2"),
    ),
}


@pytest.mark.parametrize("case", PRECISE)
def test_edits_elsewhere_leave_the_digest_alone(tmp_path: Path, case: str) -> None:
    source, (old, new) = PRECISE[case]
    write(tmp_path, "tasks_x.py", source)
    before, notes = task_digest(tmp_path, "task_a")
    assert notes == []
    edit(tmp_path, "tasks_x.py", old, new)
    assert task_digest(tmp_path, "task_a")[0] == before


def test_a_writer_joins_the_definition_of_the_name_it_changes(tmp_path: Path) -> None:
    write(
        tmp_path,
        "tasks_x.py",
        "_CACHE = {}\n\ndef fill(k):\n    _CACHE[k] = k\n\n"
        "def task_a():\n    return dict(_CACHE)\n",
    )
    before, _ = task_digest(tmp_path, "task_a")
    edit(tmp_path, "tasks_x.py", "_CACHE[k] = k", "_CACHE[k] = -k")
    assert task_digest(tmp_path, "task_a")[0] != before
