"""Embeddings for long-term memory: the emulator's /embeddings, the client, and recall that falls back to
full-text search whenever there are no embeddings to compare."""

from __future__ import annotations

from typing import Any

from ai.embeddings import MIN_SIMILARITY, RETRY_S, EmbeddedMemories, Embedder, pack, similarity
from emulator.ai.embeddings import embeddings_answer
from store.memories import MemoryList

NOW = 1_700_000_000.0


def test_the_emulator_answers_deterministic_vectors_where_shared_words_are_near(emulator) -> None:
    embedder = Embedder(emulator.base_url, None, "emb-model")
    try:
        cat, cat_again, bread = embedder.embed(["my cat Biscuit", "cat Biscuit is orange", "I bake bread"]) or []
    finally:
        embedder.close()
    assert similarity(cat, cat_again) > MIN_SIMILARITY > similarity(cat, bread)
    assert embeddings_answer({"input": "x y"})[1]["data"][0]["embedding"] == \
        embeddings_answer({"input": ["x y"]})[1]["data"][0]["embedding"]  # deterministic, a string or a list
    assert embeddings_answer({"input": [1, 2]})[0] == 400


def test_a_backend_without_embeddings_is_not_asked_again_for_a_while(emulator) -> None:
    clock = [0.0]
    embedder = Embedder(emulator.base_url + "/nowhere", None, "emb-model", clock=lambda: clock[0])
    try:
        assert embedder.embed(["hello"]) is None and embedder.off_until == RETRY_S
        clock[0] = RETRY_S - 1
        assert embedder.embed(["hello"]) is None and embedder.off_until == RETRY_S  # not asked: still off
        embedder.base_url = emulator.base_url
        embedder.close()
        clock[0] = RETRY_S + 1
        assert embedder.embed(["hello"]) is not None  # asked again, and it works now
    finally:
        embedder.close()


class Synonyms:
    """A fake embedder that knows a cat is a feline: what full-text search can never find."""

    def __init__(self) -> None:
        self.working = True

    def embed(self, texts: list[str]) -> list[bytes] | None:
        if not self.working:
            return None
        return [pack([1.0, 0.0] if ("cat" in t or "feline" in t) else [0.0, 1.0]) for t in texts]

    def close(self) -> None:
        pass


def test_recall_finds_by_meaning_with_embeddings_and_by_words_without() -> None:
    rows, synonyms = MemoryList(), Synonyms()
    memories: Any = EmbeddedMemories(rows, synonyms)
    cat = memories.add(1, "lilith", 5, False, "alice: my cat is called Biscuit", NOW)
    memories.add(1, "lilith", 5, False, "alice: I bake bread", NOW)
    assert [m for m, _, _ in memories.search(1, "lilith", "tell me about my feline", False, 4)] == [cat]
    synonyms.working = False  # the backend stopped offering embeddings: the words must match now
    assert memories.search(1, "lilith", "tell me about my feline", False, 4) == []
    assert [m for m, _, _ in memories.search(1, "lilith", "my cat?", False, 4)] == [cat]
    plain = memories.add(1, "lilith", 5, False, "alice: cat food is pricey", NOW)  # made without an embedding
    assert rows.rows[-1]["vector"] is None and plain in [m for m, _, _ in memories.search(1, "lilith", "cat", False, 4)]
    assert memories.forget(1) == 3 and memories.list(1) == []  # the rest is the rows' own
