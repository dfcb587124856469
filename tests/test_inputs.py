"""inputs.py: one glob dialect for task inputs — what expansion lists is what a save matches."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from little_pipelines.fingerprint.inputs import InputSet, expand_inputs, input_file_digests
from little_pipelines.paths import PathFilter
from little_pipelines.project.config import load_config


def touch(root: Path, *rels: str) -> None:
    for rel in rels:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rel)


def rels(root: Path, paths: list[Path]) -> list[str]:
    return [p.relative_to(root).as_posix() for p in paths]


def test_a_folder_counts_by_every_file_below_it_outside_skipped_folders(tmp_path: Path) -> None:
    touch(
        tmp_path,
        "data/a.csv",
        "data/deep/b.csv",
        "data/.git/config",
        "data/venv/pyvenv.cfg",
        "data/venv/lib/x.py",
        "data/__pycache__/c.pyc",
    )
    assert rels(tmp_path, expand_inputs(tmp_path, ["data"])) == ["data/a.csv", "data/deep/b.csv"]
    inputs = InputSet(tmp_path, ["data"])
    assert inputs.matches(tmp_path / "data/deep/b.csv")
    assert inputs.matches(tmp_path / "data/new.csv")  # a file that will appear
    assert not inputs.matches(tmp_path / "data/.git/config")
    assert not inputs.matches(tmp_path / "data/venv/lib/x.py")
    assert not inputs.matches(tmp_path / "other.csv")


def test_hidden_files_below_a_folder_or_glob_do_not_count_unless_named(tmp_path: Path) -> None:
    touch(tmp_path, "data/a.csv", "data/.DS_Store", "data/.~lock.a.csv#", ".env")
    assert rels(tmp_path, expand_inputs(tmp_path, ["data", "data/*"])) == ["data/a.csv"]
    assert not InputSet(tmp_path, ["data/*"]).matches(tmp_path / "data/.~lock.a.csv#")
    assert rels(tmp_path, expand_inputs(tmp_path, [".env"])) == [".env"]
    assert InputSet(tmp_path, [".env"]).matches(tmp_path / ".env")


def test_double_star_matches_any_depth_including_none(tmp_path: Path) -> None:
    touch(tmp_path, "data/a.csv", "data/x/b.csv", "data/x/y/c.csv", "data/x/notes.txt", "a.csv")
    found = rels(tmp_path, expand_inputs(tmp_path, ["data/**/*.csv"]))
    assert found == ["data/a.csv", "data/x/b.csv", "data/x/y/c.csv"]
    inputs = InputSet(tmp_path, ["data/**/*.csv"])
    assert inputs.matches(tmp_path / "data/x/y/z/new.csv")
    assert not inputs.matches(tmp_path / "data/x/notes.txt")
    assert not inputs.matches(tmp_path / "a.csv")
    assert rels(tmp_path, expand_inputs(tmp_path, ["*.csv"])) == ["a.csv"]  # `*` stays in a part


def test_the_whole_root_as_input_leaves_out_the_state_folder(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.little_pipelines]\ncache_dir = "state"\n')
    touch(tmp_path, "tasks_a.py", "state/cache.db", "state/logs/a.log", ".venv/pyvenv.cfg")
    paths = load_config(tmp_path).path_filter  # the project's rules know its state folder
    assert rels(tmp_path, expand_inputs(tmp_path, ["."], paths)) == ["pyproject.toml", "tasks_a.py"]
    assert rels(tmp_path, expand_inputs(tmp_path, ["state", "state/logs/a.log"], paths)) == []
    inputs = InputSet(tmp_path, ["."], paths)
    assert not inputs.matches(tmp_path / "state/cache.db")
    assert inputs.matches(tmp_path / "tasks_a.py")


def test_absolute_and_outside_patterns_work(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    touch(tmp_path, "shared/a.csv", "shared/b.csv", "shared/c.txt")
    shared = tmp_path / "shared"
    digests = input_file_digests(root, [f"{shared}/*.csv", "../shared/c.txt"])
    assert sorted(digests) == [str(shared / "a.csv"), str(shared / "b.csv"), str(shared / "c.txt")]
    inputs = InputSet(root, [f"{shared}/*.csv"])
    assert inputs.matches(shared / "new.csv")
    assert not inputs.matches(shared / "c.txt")
    assert inputs.outside_folders() == {shared}


def test_a_named_file_that_is_missing_is_kept(tmp_path: Path) -> None:
    assert input_file_digests(tmp_path, ["config.toml"]) == {"config.toml": "missing"}
    assert InputSet(tmp_path, ["config.toml"]).matches(tmp_path / "config.toml")


def test_excluded_files_and_folders_do_not_count(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.little_pipelines]\nexclude = ["tmp*"]\n')
    touch(tmp_path, "data/a.csv", "data/tmp1.csv", "data/tmp/b.csv")
    paths = load_config(tmp_path).path_filter
    assert rels(tmp_path, expand_inputs(tmp_path, ["data"], paths)) == ["data/a.csv"]
    assert not InputSet(tmp_path, ["data"], paths).matches(tmp_path / "data/tmp/b.csv")


# property: a path matches iff expansion lists it -------------------------------------------

PARTS = ["a", "b", "x.csv", "y.txt", ".h", "venv"]
GLOB_PARTS = ["a", "b", "*", "**", "*.csv", "?", "[ab]", "x.csv", ".h"]

trees = st.lists(st.lists(st.sampled_from(PARTS), min_size=1, max_size=4), max_size=12)
patterns = st.lists(
    st.lists(st.sampled_from(GLOB_PARTS), min_size=1, max_size=4).map("/".join),
    min_size=1,
    max_size=3,
)


def build(root: Path, tree: list[list[str]]) -> list[Path]:
    """Create the files of `tree` (skipping ones that clash with a folder); every file made."""
    made: list[Path] = []
    for parts in tree:
        path = root.joinpath(*parts)
        if any(p.is_file() for p in path.parents) or path.is_dir():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("/".join(parts))
        made.append(path)
    venv = root / "venv"
    if venv.is_dir():
        (venv / "pyvenv.cfg").write_text("")
        made.append(venv / "pyvenv.cfg")
    return made


@settings(max_examples=60, deadline=None)
@given(tree=trees, chosen=patterns)
def test_a_path_matches_iff_expansion_lists_it(tree: list[list[str]], chosen: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp).resolve()
        files = build(root, tree)
        inputs = InputSet(root, chosen, PathFilter(root, (), root / ".little_pipelines"))
        listed = set(inputs.expand())
        existing = {p for p in listed if p.exists()}
        assert existing == {f for f in files if inputs.matches(f)}
        for path in listed - existing:  # kept missing paths are plain names, and match
            assert inputs.matches(path)


@settings(max_examples=40, deadline=None)
@given(
    tree=st.lists(st.lists(st.sampled_from(["a", "b", "x.csv", "y.txt"]), min_size=1, max_size=3)),
    chosen=st.lists(
        st.lists(st.sampled_from(["a", "*", "**", "*.csv", "?"]), min_size=1, max_size=3).map(
            "/".join
        ),
        min_size=1,
        max_size=2,
    ),
)
def test_without_skipped_folders_globs_mean_what_pathlib_globs_meant(
    tree: list[list[str]], chosen: list[str]
) -> None:
    """Compatibility: where no rule skips a folder, the dialect is pathlib's (as before).

    Except a trailing `**`, which lists files too, as pathlib does from Python 3.13 on.
    """
    assume(not any(p.endswith("**") for p in chosen))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp).resolve()
        build(root, tree)
        before: set[Path] = set()  # the expansion of earlier versions, written with pathlib
        for pattern in chosen:
            named = root / pattern
            for path in root.glob(pattern) if any(c in pattern for c in "*?[") else [named]:
                if path.is_dir():
                    before.update(p for p in path.rglob("*") if p.is_file())
                elif path.is_file() or path == named:
                    before.add(path)
        assert set(expand_inputs(root, chosen, PathFilter(root))) == before


def test_sweeping_patterns_skip_what_the_rules_skip(tmp_path: Path) -> None:
    touch(tmp_path, "a.csv", ".git/HEAD", "node_modules/m.js")
    for pattern in ("**", "*", ".", str(tmp_path)):
        assert expand_inputs(tmp_path, [pattern]) == [tmp_path / "a.csv"], pattern
