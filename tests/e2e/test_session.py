"""A whole session through the Discord and AI emulators, as a user lives it (the personality issue's proof)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from emulator.ai.replies import key_fingerprint
from testkit.process import wait_for


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)], autouse=True)
def store_backend(request: pytest.FixtureRequest) -> str:
    """Both tests run on SQLite and on PostgreSQL (`make_stack` hands the bot a fresh database); the
    PostgreSQL runs are `slow` (make test-slow, and .ci/run), to keep `make test` short."""
    return request.param


def last_prompt(stack) -> list[dict]:
    return stack.ai.last_requests(1)[0]["messages"]


@dataclass
class Session:
    """What a session left behind that its continuation looks for."""

    general: int
    lounge: int
    dm: int
    first: dict  # Lilith's first answer in general: a reply to it reaches her with the conversation so far


def live_a_session(stack) -> Session:
    """A user's whole session, from adding a personality to a refused key: what a restart, or a move to another
    store, must carry on from (`carries_on`). tests/e2e/test_moving_house.py lives it too."""
    sb = stack.sandbox
    general, lounge, dm = sb.channel("general"), sb.channel("lounge"), sb.dm("alice")

    # Create a personality and give it a multi-word alias: the alias works at once.
    t = sb.command(general, "alice", "!tz add lilith", "Added **Lilith**")
    t = sb.command(general, "alice", "!tz alias lilith the dark lady", "now means **Lilith**")
    t = sb.post(general, "alice", "@the dark lady hello")
    answer = sb.said(general, t, "heard: alice: hello")[0]
    assert answer["webhook_id"] is not None and answer["author"]["username"] == "Lilith"

    # Mention it by name, then reply to its answer: the reply reaches it with the conversation so far.
    t = sb.post(general, "alice", "@lilith how are you")
    first = sb.said(general, t, "heard: alice: how are you")[0]
    t = sb.post(general, "alice", "tell me more", reply_to=int(first["id"]))
    sb.said(general, t, "tell me more")
    prompt = last_prompt(stack)
    assert prompt[0]["role"] == "system" and "Lilith" in prompt[0]["content"]
    assert any("how are you" in m["content"] for m in prompt if m["role"] == "user")  # history went along

    # Activate it in a channel: it answers every plain message there, from anyone.
    t = sb.command(lounge, "alice", "!tz activate lilith", "now answers every message")
    t = sb.post(lounge, "bob", "anyone here?")
    assert sb.said(lounge, t, "heard: bob: anyone here?")[0]["author"]["username"] == "Lilith"

    # Autorespond in DMs: after addressing it once, plain messages continue the conversation.
    t = sb.command(dm, "alice", "!tz autorespond on", "Autorespond is on")
    t = sb.command(dm, "alice", "@lilith hi in private", "**Lilith:**")
    t = sb.command(dm, "alice", "and another thing", "heard: alice: and another thing")

    # A key: accepted in a DM and used for her requests; cleared again.
    t = sb.command(dm, "alice", "!tz auth key sk-alice-secret-123", "Your key is saved")
    t = sb.command(dm, "alice", "using my key now", "using my key now")
    assert stack.ai.last_requests(1)[0]["key"] == key_fingerprint("sk-alice-secret-123")
    t = sb.command(dm, "alice", "!tz auth clear", "Your key is removed")

    # Export, then import into another account: the file round-trips; a taken name is refused plainly.
    t = sb.post(general, "alice", "!tz export")
    exported = sb.said(general, t, "Your 1 personality")[0]
    [attachment] = exported["attachments"]
    assert attachment["filename"] == "personalities.json" and '"lilith"' in attachment["content"]
    data = json.loads(attachment["content"])
    t = sb.post(general, "bob", "!tz import", attachments=[{"filename": "mine.json", "content": attachment["content"]}])
    sb.said(general, t, "is taken")
    data["personalities"][0]["name"] = "lilith2"
    t = sb.post(general, "bob", "!tz import", attachments=[{"filename": "mine.json", "content": json.dumps(data)}])
    sb.said(general, t, "Imported 1: lilith2")
    t = sb.command(general, "bob", "!tz info lilith2", f"<@{sb.user('bob')}>")  # owned by the importer

    # A key posted in a server channel is refused, deleted, and the user is warned.
    t = sb.command(general, "bob", "!tz auth key sk-bob-oops-4567", "Never post a key in a server channel")
    wait_for(lambda: all(int(m["id"]) != t for m in sb.messages(general)), what="the key message deleted")
    return Session(general, lounge, dm, first)


def carries_on(stack, s: Session) -> None:
    """After a restart (or a move): personalities, aliases, activation, conversation and reply map survive."""
    sb = stack.sandbox
    t = sb.command(s.lounge, "carol", "still there?", "heard: carol: still there?")
    t = sb.command(s.dm, "alice", "after the restart", "heard: alice: after the restart")
    assert any("and another thing" in m["content"] for m in last_prompt(stack) if m["role"] == "user")
    t = sb.post(s.general, "alice", "and now?", reply_to=int(s.first["id"]))
    sb.said(s.general, t, "alice: and now?")
    t = sb.command(s.general, "alice", "@the dark lady are you the same?", "are you the same?")


@pytest.mark.slow  # over 7 s: make test stays under 8 minutes
def test_a_whole_session(make_stack) -> None:
    stack = make_stack(env={"TZUROT_USER_BURST": "50"})  # a whole session in seconds: not a flood
    session = live_a_session(stack)
    stack.bot.stop()  # restart everything
    stack.bot.start()
    carries_on(stack, session)

    output = stack.bot.output() + "".join(open(p).read() for p in stack.bot.data_dir.glob("*.log"))
    assert "sk-alice-secret-123" not in output and "sk-bob-oops-4567" not in output
    assert "Traceback" not in output


@pytest.mark.slow  # over 7 s: make test stays under 8 minutes
def test_messages_said_while_the_bot_was_down_are_answered_after_it_starts(make_stack) -> None:
    stack = make_stack()
    sb = stack.sandbox
    lounge = sb.channel("lounge")
    sb.command(lounge, "alice", "!tz add lilith", "Added")
    sb.command(lounge, "alice", "!tz activate lilith", "now answers every message")

    stack.bot.stop()
    missed = [sb.post(lounge, user, f"while you were away, {user}") for user in ("alice", "bob")]
    stack.bot.start()

    for trigger, user in zip(missed, ("alice", "bob"), strict=True):
        sb.said(lounge, trigger, f"heard: {user}: while you were away, {user}")
    assert sum("while you were away" in m["content"] for m in sb.replies(lounge, missed[0])) == 2  # once each
