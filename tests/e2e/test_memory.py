"""Long-term memory end to end: what survives a reset, what the user sees and erases (a persona in the prompt:
tests/e2e/test_data_rights.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from store import open_target


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)], autouse=True)
def store_backend(request: pytest.FixtureRequest) -> str:
    return request.param


def prompt_of(stack) -> str:
    return "\n".join(str(m["content"]) for m in stack.ai.last_requests(1)[0]["messages"])


def embedded(stack, request: pytest.FixtureRequest, backend: str) -> int:
    """How many memories the store holds with an embedding (the AI emulator offers /embeddings)."""
    target = request.getfixturevalue("postgres_url") if backend == "postgresql" else \
        Path(stack.bot.data_dir) / "tzurot.sqlite3"
    store = open_target(target)
    try:
        return int(store.execute("SELECT COUNT(*) FROM memories WHERE vector IS NOT NULL").fetchone()[0])
    finally:
        store.close()


def test_a_personality_remembers_past_a_reset_until_the_user_forgets(
        make_stack, request: pytest.FixtureRequest, store_backend: str) -> None:
    stack = make_stack(env={"TZUROT_USER_BURST": "50"})
    sb = stack.sandbox
    general = sb.channel("general")
    sb.command(general, "alice", "!tz add lilith", "Added **Lilith**")
    t = sb.post(general, "alice", "@lilith my cat is called Biscuit")
    sb.said(general, t, "my cat is called Biscuit")
    sb.command(general, "alice", "!tz reset lilith", "starts fresh")

    t = sb.post(general, "alice", "@lilith what is my cat called?")
    sb.said(general, t, "what is my cat called?")
    assert "alice: my cat is called Biscuit" in prompt_of(stack)  # recalled from the store
    assert embedded(stack, request, store_backend) == 2  # by their embeddings: the backend offers them

    sb.command(general, "alice", "!tz memory list", "alice: my cat is called Biscuit")  # newest first, with ids
    sb.command(general, "alice", "!tz memory forget all", "Forgot all of your memories (2)")
    sb.command(general, "alice", "!tz reset lilith", "starts fresh")
    t = sb.post(general, "alice", "@lilith what is my cat called?")
    sb.said(general, t, "what is my cat called?")
    assert "Biscuit" not in prompt_of(stack)
