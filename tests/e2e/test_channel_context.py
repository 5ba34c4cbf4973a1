"""The channel's context, end to end: a personality knows what it told someone else in the same channel."""

from __future__ import annotations


def test_the_second_user_asks_what_the_personality_just_told_the_first_and_it_knows(make_stack) -> None:
    stack = make_stack()
    sb = stack.sandbox
    general = sb.channel("general")
    sb.command(general, "alice", "!tz add lilith", "Added **Lilith**")
    t = sb.post(general, "alice", "@lilith the password is swordfish")
    told = sb.said(general, t, "heard: alice: the password is swordfish")[0]["content"]

    t = sb.post(general, "bob", "@lilith what did you just tell alice?")
    sb.said(general, t, "heard: bob: what did you just tell alice?")
    prompt = stack.ai.last_requests(1)[0]["messages"]
    [channel] = [m["content"] for m in prompt[1:] if m["role"] == "system"]  # what others said here lately
    assert "alice: @lilith the password is swordfish" in channel  # who said what
    assert f"Lilith (you): {told}" in channel  # her own answer to alice, as hers
    assert prompt[-1] == {"role": "user", "content": "bob: what did you just tell alice?"}  # the turn is bob's

    # Her owner makes her see only each user's own turns: carol's question carries nobody else's words.
    sb.command(general, "alice", "!tz config lilith context user", "context")
    t = sb.post(general, "carol", "@lilith and now?")
    sb.said(general, t, "heard: carol: and now?")
    prompt = stack.ai.last_requests(1)[0]["messages"]
    assert [m["role"] for m in prompt] == ["system", "user"]
