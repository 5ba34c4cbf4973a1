"""A gateway outage that ends in a new session: what was said meanwhile is read back and answered, once."""

from __future__ import annotations

from pathlib import Path

import pytest

from observability import jsonlog
from testkit.process import wait_for


def gateway(sb, action: str | None = None) -> dict:
    """The emulator's gateway: drive it (`outage`, `restore`, ...) or read its state."""
    path = "/_sandbox/gateway"
    response = sb.http.post(path, json={"action": action}) if action else sb.http.get(path)
    response.raise_for_status()
    return response.json()


@pytest.mark.slow  # over 7 s: make test stays under 8 minutes
def test_what_was_said_while_the_session_was_lost_is_answered_once_after_a_new_session(make_stack) -> None:
    stack = make_stack()
    sb = stack.sandbox
    general, lounge = sb.channel("general"), sb.channel("lounge")
    t = sb.command(lounge, "alice", "!tz add lilith", "Added")
    t = sb.post(lounge, "alice", "!tz activate lilith")  # lounge: activated
    sb.said(lounge, t, "now answers every message")
    t = sb.post(general, "alice", "@lilith hello")  # general: a live conversation
    sb.said(general, t, "heard: alice: hello")

    # The gateway goes away long enough for the session to expire: the bot's RESUME is refused, so it must
    # IDENTIFY anew, and nothing said meanwhile is replayed to it.
    assert gateway(sb, "outage")["sessions"] == 0
    missed = [
        (lounge, sb.post(lounge, "bob", "while you were away, bob"), "heard: bob: while you were away, bob"),
        (lounge, sb.post(lounge, "carol", "while you were away, carol"), "heard: carol: while you were away, carol"),
        (general, sb.post(general, "bob", "@lilith did you miss me"), "heard: bob: did you miss me"),
    ]
    wait_for(lambda: gateway(sb)["waiting"] == 1, what="the bot to IDENTIFY anew")
    assert gateway(sb, "restore")["connected"] == 1

    for channel, trigger, answer in missed:
        sb.said(channel, trigger, answer)
    wait_for(lambda: stack.bot.output().count("connected as") == 2, what="the second session's on_ready")
    for channel, trigger, answer in missed:
        assert sum(answer in m["content"] for m in sb.replies(channel, trigger)) == 1  # once each
    events = jsonlog.read(Path(stack.bot.data_dir) / "events.log")
    caught = {int(r["trigger"]) for r in events if r["event"] == "caught_up"}
    assert caught == {trigger for _, trigger, _ in missed}  # read back by the catch-up, not seen live
