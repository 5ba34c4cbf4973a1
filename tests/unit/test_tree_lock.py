"""One actor tree per PostgreSQL database: a second is refused with a reason, and may start once the first stops."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from store.tree_lock import claim_tree


def test_a_second_tree_on_one_database_is_refused_until_the_first_lets_go(postgres_url: str) -> None:
    settings = SimpleNamespace(database_url=postgres_url, database_listen_url="")
    first = claim_tree(settings)
    assert first is not None
    with pytest.raises(RuntimeError, match="another actor tree is running on this database"):
        claim_tree(settings, wait_s=0.5)
    first.release()
    second = claim_tree(settings, wait_s=5)
    assert second is not None
    second.release()


def test_sqlite_needs_no_claim() -> None:
    assert claim_tree(SimpleNamespace(database_url="", database_listen_url="")) is None
