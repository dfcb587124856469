"""Code fingerprints (SPEC section 5): what counts as a change of a task's code, and what not.

Every test writes real source files into tmp_path and hashes their functions with a fresh
SourceIndex, as a new `lp` process would.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from little_pipelines.fingerprint.code import (
    SourceIndex,
    digest,
    file_digest,
)
from little_pipelines.fingerprint.inputs import expand_inputs


def write(root: Path, rel: str, source: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source).lstrip("\n"), encoding="utf-8")
    return path


def digests(root: Path, rel: str, *names: str) -> dict[str, str | None]:
    """The code digest of each named definition in `rel`, from a fresh index."""
    index = SourceIndex(root)
    return {name: index.definition_digest(root / rel, name) for name in names}


def changed(before: dict[str, str | None], after: dict[str, str | None]) -> set[str]:
    return {name for name in before if before[name] != after[name]}


BASE = '''
"""Module docstring."""

RATE = 0.2


def helper(x):
    return x * 2


def task_a():
    """Doubles."""
    # a comment
    return helper(21)


def task_b(a):
    return a + 1
'''


@pytest.mark.parametrize(
    "edited",
    [
        pytest.param(
            BASE.replace("    # a comment\n", "    # another comment, longer\n"), id="comment"
        ),
        pytest.param(BASE.replace('"""Doubles."""', '"""Doubles, differently."""'), id="docstring"),
        pytest.param(BASE.replace('    """Doubles."""\n', ""), id="docstring-removed"),
        pytest.param(BASE.replace('"""Module docstring."""', '"""Other text."""'), id="module-doc"),
        pytest.param(BASE.replace("\n\ndef task_a", "\n\n\n\n\ndef task_a"), id="blank-lines"),
        pytest.param(
            BASE.replace("    return helper(21)", "    return helper(  21  )  # trailing"),
            id="formatting",
        ),
        pytest.param(
            BASE.replace(
                "def helper(x):\n    return x * 2", "def helper(x):\n    return (x\n * 2)"
            ),
            id="helper-formatting",
        ),
    ],
)
def test_edits_that_do_not_change_behaviour_change_no_digest(tmp_path, edited):
    names = ("task_a", "task_b", "helper")
    write(tmp_path, "tasks_x.py", BASE)
    before = digests(tmp_path, "tasks_x.py", *names)
    write(tmp_path, "tasks_x.py", edited)
    assert changed(before, digests(tmp_path, "tasks_x.py", *names)) == set()


def test_editing_a_task_body_changes_only_that_task(tmp_path):
    write(tmp_path, "tasks_x.py", BASE)
    before = digests(tmp_path, "tasks_x.py", "task_a", "task_b")
    write(tmp_path, "tasks_x.py", BASE.replace("return a + 1", "return a + 2"))
    assert changed(before, digests(tmp_path, "tasks_x.py", "task_a", "task_b")) == {"task_b"}


def test_renaming_a_parameter_is_a_change(tmp_path):
    write(tmp_path, "tasks_x.py", BASE)
    before = digests(tmp_path, "tasks_x.py", "task_b")
    write(
        tmp_path,
        "tasks_x.py",
        BASE.replace("def task_b(a):\n    return a + 1", "def task_b(b):\n    return b + 1"),
    )
    assert changed(before, digests(tmp_path, "tasks_x.py", "task_b")) == {"task_b"}


SAME_MODULE = """
LIMIT = 10
OTHER = "x"


def inner(x):
    return x + 1


def helper(x):
    return inner(x) * 2


def unused():
    return 0


def task_uses_helper():
    return helper(1)


def task_uses_limit():
    return list(range(LIMIT))


def task_plain():
    return 3
"""
TASKS = ("task_uses_helper", "task_uses_limit", "task_plain")


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(
            "return inner(x) * 2", "return inner(x) * 3", {"task_uses_helper"}, id="helper"
        ),
        pytest.param("return x + 1", "return x + 5", {"task_uses_helper"}, id="transitive-helper"),
        pytest.param("LIMIT = 10", "LIMIT = 11", {"task_uses_limit"}, id="constant"),
        pytest.param('OTHER = "x"', 'OTHER = "y"', set(), id="unused-constant"),
        pytest.param("return 0", "return 1", set(), id="unused-function"),
        pytest.param("return 3", "return 4", {"task_plain"}, id="task-itself"),
    ],
)
def test_same_module_edits_change_exactly_their_users(tmp_path, old, new, expected):
    write(tmp_path, "tasks_x.py", SAME_MODULE)
    before = digests(tmp_path, "tasks_x.py", *TASKS)
    assert SAME_MODULE.count(old) == 1
    write(tmp_path, "tasks_x.py", SAME_MODULE.replace(old, new))
    assert changed(before, digests(tmp_path, "tasks_x.py", *TASKS)) == expected


def test_adding_a_new_function_changes_nothing(tmp_path):
    write(tmp_path, "tasks_x.py", SAME_MODULE)
    before = digests(tmp_path, "tasks_x.py", *TASKS)
    write(tmp_path, "tasks_x.py", SAME_MODULE + "\n\ndef brand_new():\n    return 42\n")
    assert changed(before, digests(tmp_path, "tasks_x.py", *TASKS)) == set()


def test_a_parameter_shadowing_a_helper_does_not_follow_the_helper(tmp_path):
    source = """
    def data():
        return 1


    def task_user(data):
        return data + 1
    """
    write(tmp_path, "tasks_x.py", source)
    before = digests(tmp_path, "tasks_x.py", "task_user")
    write(tmp_path, "tasks_x.py", textwrap.dedent(source).replace("return 1", "return 2"))
    assert changed(before, digests(tmp_path, "tasks_x.py", "task_user")) == set()


HELPERS = """
SCALE = 3


def double(x):
    return x * 2


def triple(x):
    return x * SCALE
"""

IMPORTING = """
import helpers
from helpers import triple
from pkg import mod
from pkg.deep import thing as renamed


def task_attr():
    return helpers.double(1)


def task_from():
    return triple(1)


def task_pkg_mod():
    return mod.f()


def task_aliased():
    return renamed(1)


def task_none():
    return 0
"""
IMPORTERS = ("task_attr", "task_from", "task_pkg_mod", "task_aliased", "task_none")


def project(root: Path) -> None:
    write(root, "helpers.py", HELPERS)
    write(root, "pkg/__init__.py", "")
    write(root, "pkg/mod.py", "def f():\n    return 'f'\n\n\ndef g():\n    return 'g'\n")
    write(root, "pkg/deep.py", "def thing(x):\n    return x\n")
    write(root, "tasks_x.py", IMPORTING)


@pytest.mark.parametrize(
    ("rel", "old", "new", "expected"),
    [
        pytest.param("helpers.py", "return x * 2", "return x * 4", {"task_attr"}, id="import-mod"),
        pytest.param(
            "helpers.py", "return x * SCALE", "return x + SCALE", {"task_from"}, id="from-import"
        ),
        pytest.param("helpers.py", "SCALE = 3", "SCALE = 4", {"task_from"}, id="imported-constant"),
        pytest.param(
            "pkg/mod.py", "return 'f'", "return 'F'", {"task_pkg_mod"}, id="from-pkg-import-mod"
        ),
        pytest.param("pkg/mod.py", "return 'g'", "return 'G'", set(), id="unused-function-of-mod"),
        pytest.param("pkg/deep.py", "return x", "return -x", {"task_aliased"}, id="aliased-import"),
    ],
)
def test_project_module_edits_change_exactly_their_users(tmp_path, rel, old, new, expected):
    project(tmp_path)
    before = digests(tmp_path, "tasks_x.py", *IMPORTERS)
    assert all(before.values())
    path = tmp_path / rel
    text = path.read_text()
    assert text.count(old) == 1
    path.write_text(text.replace(old, new))
    assert changed(before, digests(tmp_path, "tasks_x.py", *IMPORTERS)) == expected


def test_helper_docstring_and_comment_edits_in_another_module_change_nothing(tmp_path):
    project(tmp_path)
    before = digests(tmp_path, "tasks_x.py", *IMPORTERS)
    write(
        tmp_path,
        "helpers.py",
        '"""Helpers."""\n'
        + HELPERS.replace("def double(x):", "def double(x):  # doubles\n    'Doc.'"),
    )
    assert changed(before, digests(tmp_path, "tasks_x.py", *IMPORTERS)) == set()


def test_third_party_and_stdlib_modules_are_not_followed(tmp_path):
    root = tmp_path / "project"
    site = tmp_path / "site-packages"
    write(site, "thirdparty.py", "def compute():\n    return 1\n")
    source = """
    import json
    import os.path
    from thirdparty import compute


    def task_x():
        return json.dumps(compute()) + os.path.join("a", "b")
    """
    write(root, "tasks_x.py", source)
    index = SourceIndex(root)
    first = index.definition_digest(root / "tasks_x.py", "task_x")
    assert first is not None
    assert index.resolve_module("json") is None
    assert index.resolve_module("thirdparty") is None
    write(site, "thirdparty.py", "def compute():\n    return 2\n")
    assert digests(root, "tasks_x.py", "task_x")["task_x"] == first


def test_digest_does_not_depend_on_where_the_project_lives(tmp_path):
    for name in ("one", "two"):
        project(tmp_path / name)
    assert digests(tmp_path / "one", "tasks_x.py", *IMPORTERS) == digests(
        tmp_path / "two", "tasks_x.py", *IMPORTERS
    )


def test_unknown_definition_has_no_digest(tmp_path):
    write(tmp_path, "tasks_x.py", BASE)
    assert digests(tmp_path, "tasks_x.py", "task_missing") == {"task_missing": None}


def test_syntax_error_is_raised_with_the_file(tmp_path):
    path = write(tmp_path, "tasks_x.py", "def task_a(:\n    return 1\n")
    with pytest.raises(SyntaxError) as info:
        SourceIndex(tmp_path).definition_digest(path, "task_a")
    assert info.value.filename == str(path)
    assert info.value.lineno == 1


def test_digest_is_order_sensitive_and_unambiguous():
    assert digest("a", "b") != digest("b", "a")
    assert digest("ab", "c") != digest("a", "bc")
    assert digest(b"x") == digest("x")


def test_file_digest_follows_content(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("a,b\n")
    first = file_digest(path)
    path.write_text("a,b\n")
    assert file_digest(path) == first
    path.write_text("a,c\n")
    assert file_digest(path) != first


def test_expand_inputs_lists_glob_matches_and_keeps_missing_plain_paths(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_text("1")
    (tmp_path / "data" / "b.csv").write_text("2")
    (tmp_path / "data" / "notes.txt").write_text("not matched")
    assert expand_inputs(tmp_path, ["data/*.csv", "config.toml"]) == [
        tmp_path / "config.toml",
        tmp_path / "data" / "a.csv",
        tmp_path / "data" / "b.csv",
    ]


@pytest.mark.parametrize(
    ("source", "old", "new"),
    [
        pytest.param(
            "import sys\nif sys.version_info > (3,):\n    K = 1\nelse:\n    K = 2\n",
            "K = 1",
            "K = 3",
            id="constant-in-if",
        ),
        pytest.param("K, B = 1, 2\n", "1, 2", "7, 2", id="tuple-assignment"),
        pytest.param("K: int = 1\n", "K: int = 1", "K: int = 2", id="annotated"),
        pytest.param(
            "def h():\n    return 1\n\n\nK = h()\n", "return 1", "return 2", id="computed"
        ),
        pytest.param("K = 1\nK += 1\n", "K = 1", "K = 5", id="augmented"),
    ],
)
def test_module_constants_count_however_they_are_assigned(tmp_path, source, old, new):
    task = "\n\ndef task_k():\n    return K\n"
    write(tmp_path, "tasks_x.py", source + task)
    before = digests(tmp_path, "tasks_x.py", "task_k")
    write(tmp_path, "tasks_x.py", source.replace(old, new) + task)
    assert changed(before, digests(tmp_path, "tasks_x.py", "task_k")) == {"task_k"}


@pytest.mark.parametrize(
    "importing",
    [
        pytest.param("from helpers import *\n", id="star-import"),
        pytest.param(
            "if True:\n    from helpers import double\n",
            id="import-in-if",
        ),
        pytest.param(
            "try:\n    from helpers import double\nexcept ImportError:\n    double = None\n",
            id="import-in-try",
        ),
    ],
)
def test_helpers_imported_in_other_ways_are_still_followed(tmp_path, importing):
    write(tmp_path, "helpers.py", HELPERS)
    write(tmp_path, "tasks_x.py", importing + "\n\ndef task_d():\n    return double(2)\n")
    before = digests(tmp_path, "tasks_x.py", "task_d")
    write(tmp_path, "helpers.py", HELPERS.replace("return x * 2", "return x * 4"))
    assert changed(before, digests(tmp_path, "tasks_x.py", "task_d")) == {"task_d"}


def test_class_helpers_count_by_their_methods(tmp_path):
    source = """
    class Cleaner:
        def clean(self, rows):
            return [r.strip() for r in rows]


    def task_clean():
        return Cleaner().clean([" a "])
    """
    write(tmp_path, "tasks_x.py", source)
    before = digests(tmp_path, "tasks_x.py", "task_clean")
    write(tmp_path, "tasks_x.py", textwrap.dedent(source).replace("r.strip()", "r.lower()"))
    assert changed(before, digests(tmp_path, "tasks_x.py", "task_clean")) == {"task_clean"}


def test_relative_imports_inside_a_package_are_followed(tmp_path):
    write(tmp_path, "pkg/__init__.py", "")
    write(tmp_path, "pkg/helpers.py", HELPERS)
    write(
        tmp_path,
        "pkg/tasks_x.py",
        "from . import helpers\nfrom .helpers import triple\n\n\n"
        "def task_mod():\n    return helpers.double(1)\n\n\n"
        "def task_fn():\n    return triple(1)\n",
    )
    names = ("task_mod", "task_fn")
    before = digests(tmp_path, "pkg/tasks_x.py", *names)
    write(tmp_path, "pkg/helpers.py", HELPERS.replace("return x * 2", "return x * 4"))
    assert changed(before, digests(tmp_path, "pkg/tasks_x.py", *names)) == {"task_mod"}


def test_a_package_importing_its_own_submodules_is_followed_without_looping(tmp_path):
    """`from . import clean` in `etl/__init__.py`, used as `etl.clean.normalise()`."""
    write(tmp_path, "etl/__init__.py", "from . import clean\n")
    write(
        tmp_path,
        "etl/clean.py",
        "def normalise(s):\n    return s.strip()\n\ndef other():\n    return 1\n",
    )
    write(
        tmp_path,
        "tasks_x.py",
        "import etl\n\ndef task_name():\n    return etl.clean.normalise(' a ')\n\n"
        "def task_plain():\n    return 1\n",
    )
    before = digests(tmp_path, "tasks_x.py", "task_name", "task_plain")
    write(
        tmp_path,
        "etl/clean.py",
        "def normalise(s):\n    return s.strip()\n\ndef other():\n    return 2\n",
    )
    assert changed(before, digests(tmp_path, "tasks_x.py", "task_name", "task_plain")) == set()
    write(
        tmp_path,
        "etl/clean.py",
        "def normalise(s):\n    return s.upper()\n\ndef other():\n    return 2\n",
    )
    after = digests(tmp_path, "tasks_x.py", "task_name", "task_plain")
    assert changed(before, after) == {"task_name"}


@pytest.mark.parametrize(
    ("files", "task", "edit"),
    [
        pytest.param(
            {
                "helpers.py": "from impl import f\n",
                "impl.py": "def f():\n    return 1\n",
                "impl2.py": "def f():\n    return 2\n",
            },
            "from helpers import f\n\ndef task_a():\n    return f()\n",
            ("helpers.py", "from impl import f", "from impl2 import f"),
            id="re-exported-name-changes-source",
        ),
        pytest.param(
            {},
            "from math import floor as rnd\n\ndef task_a():\n    return rnd(2.5)\n",
            ("tasks_x.py", "floor as rnd", "ceil as rnd"),
            id="import-alias-of-a-third-party-name",
        ),
        pytest.param(
            {"helpers.py": "def f():\n    return 1\n"},
            "import helpers\n\ndef task_a():\n    return getattr(helpers, 'f')()\n",
            ("helpers.py", "return 1", "return 2"),
            id="module-used-as-a-value",
        ),
        pytest.param(
            {"utils/text.py": "def clean():\n    return 1\n"},
            "import utils.text\n\ndef task_a():\n    return utils.text.clean()\n",
            ("utils/text.py", "return 1", "return 2"),
            id="namespace-package",
        ),
        pytest.param(
            {},
            "def scale(x):\n    return x * 2\n\ndef task_a():\n"
            "    def fmt(v, scale=1):\n        return v\n    return fmt(scale(10))\n",
            ("tasks_x.py", "x * 2", "x * 3"),
            id="inner-parameter-shadowing-an-outer-name",
        ),
        pytest.param(
            {"helpers.py": "CONFIG = {}\nCONFIG.update(rate=2)\n"},
            "from helpers import CONFIG\n\ndef task_a():\n    return CONFIG['rate']\n",
            ("helpers.py", "rate=2", "rate=3"),
            id="module-level-method-call",
        ),
        pytest.param(
            {"helpers.py": "TABLE = {}\nfor k in 'ab':\n    TABLE[k] = 1\n"},
            "from helpers import TABLE\n\ndef task_a():\n    return TABLE\n",
            ("helpers.py", "TABLE[k] = 1", "TABLE[k] = 2"),
            id="module-level-loop",
        ),
    ],
)
def test_edits_that_change_behaviour_change_the_digest(tmp_path, files, task, edit):
    for rel, source in files.items():
        write(tmp_path, rel, source)
    write(tmp_path, "tasks_x.py", task)
    before = digests(tmp_path, "tasks_x.py", "task_a")
    rel, old, new = edit
    path = tmp_path / rel
    path.write_text(path.read_text().replace(old, new))
    assert changed(before, digests(tmp_path, "tasks_x.py", "task_a")) == {"task_a"}
