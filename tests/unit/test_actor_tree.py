"""The one place that names the kinds of actor and their classes (`actors/kinds.py`, `actors/tree.py`)."""

from __future__ import annotations

import importlib
from pathlib import Path

from actors.kinds import Kind
from actors.tree import ACTORS, SHARDED, SINGLE, class_path, default_tree
from config import Settings


def test_every_kind_has_one_class_whose_state_is_of_that_kind() -> None:
    assert set(ACTORS) == set(Kind) and not set(SHARDED) & set(SINGLE)
    for kind, cls in ACTORS.items():
        assert cls.state_class.KIND == kind


def test_the_default_tree_names_every_kind_by_a_path_that_imports_its_class(tmp_path: Path) -> None:
    tree = default_tree(Settings(data_dir=tmp_path, user_shards=3, channel_shards=2))
    assert [(g.name, g.shards) for g in tree.groups] == [("user", 3), ("channel", 2)]
    assert [name for name, _ in tree.singletons] == ["registry", "blacklist", "slots"]
    paths = [g.child_class for g in tree.groups] + [path for _, path in tree.singletons]
    for kind, path in zip([g.name for g in tree.groups] + [n for n, _ in tree.singletons], paths, strict=True):
        module, _, name = path.rpartition(".")
        assert getattr(importlib.import_module(module), name) is ACTORS[Kind(kind)]
        assert path == class_path(ACTORS[Kind(kind)])


def test_supervision_sees_plain_strings() -> None:
    tree = default_tree(Settings())
    assert all(type(g.name) is str for g in tree.groups) and all(type(n) is str for n, _ in tree.singletons)


def test_no_shell_module_shares_a_bare_name_with_a_state_module() -> None:
    """`actors/user_actor.py` is the shell of `actors/state/user.py`: one name, one file, wherever you search."""
    actors = Path(__file__).resolve().parents[2] / "actors"
    shells = {p.stem for p in actors.glob("*.py")} - {"__init__"}
    assert shells & {p.stem for p in (actors / "state").glob("*.py")} == set()
