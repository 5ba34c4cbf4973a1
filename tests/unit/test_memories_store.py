"""Long-term memory in the store: the same answers from SQLite (FTS5, BM25) and PostgreSQL (full-text search)."""

from __future__ import annotations

import pytest

import store.memories as memories_module
from ai.embeddings import EmbeddedMemories
from store.memories import Memories, terms

NOW = 1_700_000_000.0
ALICE, BOB = 11, 12


@pytest.fixture
def mem(sql_store) -> Memories:
    return Memories(sql_store)


def remember(mem: Memories, text: str, user: int = ALICE, personality: str = "lilith", private: bool = False) -> int:
    return mem.add(user, personality, 500 if not private else 600, private, text, NOW)


def test_the_most_relevant_memory_is_found_first_and_only_the_users_own(mem: Memories) -> None:
    remember(mem, "alice: I just got back from the market\nLilith: How was it?")
    cat = remember(mem, "alice: my cat is called Biscuit and she is orange\nLilith: Biscuit sounds lovely.")
    remember(mem, "alice: what a day\nLilith: Tell me about it.")
    remember(mem, "bob: my cat is called Pepper", user=BOB)
    remember(mem, "alice: my cat is called Tiger", personality="bob")

    found = mem.search(ALICE, "lilith", "What is my cat called again?", False, 3)
    assert found[0][0] == cat and "Biscuit" in found[0][1]
    assert not any("Pepper" in text or "Tiger" in text for _, text, _ in found)  # bob's, and another personality's
    assert mem.search(ALICE, "lilith", "zebra crossing", False, 3) == []


def test_a_memory_from_a_dm_is_found_again_only_in_dms(mem: Memories) -> None:
    remember(mem, "alice: my secret password is hunter2", private=True)
    assert mem.search(ALICE, "lilith", "my secret password", False, 5) == []
    assert [t for _, t, _ in mem.search(ALICE, "lilith", "my secret password", True, 5)] == [
        "alice: my secret password is hunter2"]


def test_any_text_can_be_searched_for_without_an_error(mem: Memories) -> None:
    remember(mem, "alice: I love \"quotes\" and 'apostrophes' and café")
    for query in ['"; DROP TABLE memories; --', "a:b OR NOT c* (d) & | ! <-> ''", "", "   ", "café", "ü" * 500,
                  "NEAR(x y)", "\x00"]:
        mem.search(ALICE, "lilith", query, False, 5)
    assert mem.search(ALICE, "lilith", "café?", False, 5)[0][1].endswith("café")
    assert terms("What's the CAT's name, cat? a b c") == ["cat", "name"]


def test_memories_are_bounded_per_user_and_personality_oldest_forgotten(mem: Memories, monkeypatch) -> None:
    monkeypatch.setattr(memories_module, "MEMORY_CAP", 3)
    ids = [remember(mem, f"alice: fact number {n} about apples") for n in range(5)]
    remember(mem, "alice: fact about apples for bob", personality="bob")
    kept = [m["id"] for m in mem.list(ALICE) if m["personality"] == "lilith"]
    assert kept == ids[:1:-1]  # the newest three, newest first
    assert {m for m, _, _ in mem.search(ALICE, "lilith", "apples", False, 10)} == set(ids[2:])


def test_forgetting_one_or_all_leaves_nothing_to_find(mem: Memories, sql_store) -> None:
    first = remember(mem, "alice: I was born in Lisbon")
    remember(mem, "alice: I work as a baker in Lisbon")
    remember(mem, "bob: Lisbon is far", user=BOB)
    assert mem.forget(ALICE, first) == 1
    assert mem.forget(BOB, first) == 0  # not bob's to forget
    assert [t for _, t, _ in mem.search(ALICE, "lilith", "Lisbon", False, 5)] == ["alice: I work as a baker in Lisbon"]
    assert mem.forget(ALICE) == 1
    assert mem.search(ALICE, "lilith", "Lisbon baker", False, 5) == [] and mem.list(ALICE) == []
    rows = sql_store.execute("SELECT user_id, text FROM memories").fetchall()
    assert [(int(u), t) for u, t in rows] == [(BOB, "bob: Lisbon is far")]  # the store holds nothing of alice's
    assert len(mem.search(BOB, "lilith", "Lisbon", False, 5)) == 1


def test_forgetting_a_user_erases_their_memories_answered_messages_and_set_aside_rows(mem: Memories, sql_store) -> None:
    remember(mem, "alice: I was born in Lisbon")
    remember(mem, "bob: hello", user=BOB)
    for mid, user in ((1, ALICE), (2, ALICE), (3, BOB)):
        sql_store.work_open(mid, 500, user, {"content": f"message {mid} of {user}"})
    sql_store.work_done(1, 99)
    sql_store.work_done(3, 99)
    sql_store.put_raw("user", str(ALICE), b"\xc1 not msgpack")
    sql_store.load("user", str(ALICE))  # unreadable: set aside in the quarantine
    assert sql_store.quarantined("user")

    assert mem.forget_user(ALICE) == 1
    assert mem.list(ALICE) == [] and len(mem.list(BOB)) == 1
    assert sorted(int(r[0]) for r in sql_store.work_rows()) == [2, 3]  # her open message is still answered
    assert sql_store.quarantined("user") == []


def test_embeddings_are_kept_with_their_memory_and_recall_by_meaning(mem: Memories) -> None:
    from tests.ai.test_embeddings import Synonyms

    recall = EmbeddedMemories(mem, Synonyms())
    cat = recall.add(ALICE, "lilith", 500, False, "alice: my cat is called Biscuit", NOW)
    recall.add(ALICE, "lilith", 500, False, "alice: I bake bread", NOW)
    recall.add(ALICE, "lilith", 600, True, "alice: my cat's secret vet", NOW)
    assert [len(v) for _, _, _, v in mem.vectors(ALICE, "lilith", False)] == [8, 8]  # two float32s, DMs left out
    assert [m for m, _, _ in recall.search(ALICE, "lilith", "my feline friend", False, 4)] == [cat]
