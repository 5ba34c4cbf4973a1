"""The real bot against Discord faults that concern the whole bot, not one channel."""

from __future__ import annotations

import time

from testkit.process import wait_for


def test_a_global_429_pauses_every_channel_actor_until_retry_after(make_stack) -> None:
    """A global 429 means nobody sends: channel actors in other processes wait too (the shared gate)."""
    stack = make_stack()
    sb = stack.sandbox
    general, lounge = sb.channel("general"), sb.channel("lounge")
    for channel in (general, lounge):  # each channel actor is running (its own process) and has its webhook
        sb.command(channel, "alice", sb.mention("warm up"), "")
    assert not [r for r in stack.discord.requests() if r.rate_limited]

    sb.fault(kind="rate_limit", count=1, seconds=1.0, scope="global")
    in_general = sb.post(general, "alice", sb.mention("first after the limit"))
    [hit] = wait_for(lambda: [r for r in stack.discord.requests() if r.rate_limited], what="the global 429")
    assert hit.scope == "global" and hit.retry_after == 1.0 and hit.channel_id == general
    # Only now does lounge get something to say: its actor was idle, so nothing of its was in flight when the
    # 429 came. Its message reaches the bot while the pause holds.
    in_lounge = sb.post(lounge, "bob", sb.mention("second after the limit"))
    assert time.monotonic() < hit.at + hit.retry_after

    general_reply = sb.said(general, in_general)
    lounge_reply = sb.said(lounge, in_lounge)
    assert len(general_reply) == 1 and "first after the limit" in general_reply[0]["content"]
    assert len(lounge_reply) == 1 and "second after the limit" in lounge_reply[0]["content"]

    requests = stack.discord.requests()
    pause_ends = hit.at + hit.retry_after
    during = [(r.method, r.path, round(r.at - hit.at, 3)) for r in requests if hit.at < r.at < pause_ends]
    assert during == [], f"requests reached Discord during the global pause: {during}"
    assert [r for r in requests if r.rate_limited] == [hit]  # waiting out the pause tripped nothing else
    sent_after = {r.channel_id for r in requests if r.at >= pause_ends and r.method == "POST" and r.status < 300}
    assert {general, lounge} <= sent_after  # both channels sent once the pause was over
