"""Data rights end to end: the export a user gets in DMs, and a delete that leaves nothing of them in the store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from store import open_target
from store.base import decode
from testkit.process import wait_for

SECRET = "Biscuit"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)], autouse=True)
def store_backend(request: pytest.FixtureRequest) -> str:
    return request.param


def everything_stored(target) -> str:
    """Every row of every table the bot keeps, decoded where it can be, as one text to search."""
    store = open_target(target)
    try:
        rows = [str(decode(bytes(data))) for _, _, _, _, data in store.rows()]
        rows += [str(r) for r in store.execute("SELECT user_id, personality, text FROM memories").fetchall()]
        rows += [str(decode(bytes(r[3]))) for r in store.work_rows()]
        return "\n".join(rows)
    finally:
        store.close()


def test_export_hands_over_everything_but_the_key_and_delete_leaves_nothing_in_the_store(
        make_stack, request: pytest.FixtureRequest, store_backend: str) -> None:
    stack = make_stack(env={"TZUROT_USER_BURST": "50"})
    sb = stack.sandbox
    general, dm = sb.channel("general"), sb.dm("alice")
    target = request.getfixturevalue("postgres_url") if store_backend == "postgresql" else \
        Path(stack.bot.data_dir) / "tzurot.sqlite3"
    sb.command(general, "alice", "!tz add lilith", "Added **Lilith**")
    sb.command(dm, "alice", "!tz auth key sk-alice-secret-123", "Your key is saved")
    sb.command(dm, "alice", "!tz persona set I'm Sam, a nurse.", "Saved")
    t = sb.post(general, "alice", f"@lilith my cat is called {SECRET}")
    sb.said(general, t, f"my cat is called {SECRET}")
    prompt = "\n".join(str(m["content"]) for m in stack.ai.last_requests(1)[0]["messages"])
    assert "About alice, in their own words: I'm Sam, a nurse." in prompt  # her persona, told to lilith
    t = sb.post(general, "bob", "@lilith hi, I'm bob")
    sb.said(general, t, "hi, I'm bob")

    t = sb.post(dm, "alice", "!tz data export")
    sent = sb.said(dm, t, "everything I hold about you")[0]
    [file] = sent["attachments"]
    data = json.loads(file["content"])
    assert file["filename"] == "my-data.json" and data["settings"]["own_api_key_set"] is True
    assert "sk-alice-secret-123" not in file["content"]
    assert data["personas"] == {"*": "I'm Sam, a nurse."} and SECRET in json.dumps(data["memories"])
    assert [p["name"] for p in data["personalities"]] == ["lilith"]  # in the form `import` reads

    assert SECRET in everything_stored(target)
    sb.command(general, "alice", "!tz data delete", "cannot be undone")
    sb.command(general, "alice", "!tz data delete confirm delete", "Erased:")
    wait_for(lambda: SECRET not in everything_stored(target), what="nothing of alice's words left in the store")
    stored = everything_stored(target)
    assert "I'm Sam" not in stored and "hi, I'm bob" in stored  # bob's words stay
    store = open_target(target)
    try:
        assert store.execute("SELECT COUNT(*) FROM memories WHERE user_id=?", (sb.user("alice"),)).fetchone()[0] == 0
        [user] = [decode(d) for _, key, _, _, d in store.rows("user") if key == str(sb.user("alice"))]
        assert user["sealed_key"] is None and user["personas"] == {} and user["histories"] == []
        assert [key for _, key, *_ in store.rows("personality")] == []  # her personality is deleted
    finally:
        store.close()
