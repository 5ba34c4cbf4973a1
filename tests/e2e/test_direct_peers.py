"""Direct peers through the real bot: a user's actor and the channel's actor talk straight to each other once they
know each other's address, and no answer is lost (or reordered) when either of them dies, restarts or is
passivated while the other still holds its old address."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from testkit.process import wait_for

# One shard per group and two live actors per shard: a third channel that wakes passivates the least recently
# used one. No burst limit in the way of a conversation.
ENV = {
    "TZUROT_USER_SHARDS": "1",
    "TZUROT_CHANNEL_SHARDS": "1",
    "TZUROT_LIVE_ACTOR_CAP": "4",
    "TZUROT_USER_BURST": "50",
    "TZUROT_USER_RATE_PER_MIN": "600",
}


def events(stack, event: str, trigger: int) -> list[dict]:
    path = Path(stack.bot.data_dir) / "events.log"
    lines = path.read_text().splitlines() if path.exists() else []
    return [r for r in map(json.loads, filter(None, lines)) if r.get("event") == event and r.get("trigger") == trigger]


def supervised(stack, event: str, kind: str, key: int) -> int:
    """How many times the supervisor log says `event` about the actor (kind, key)."""
    return sum(1 for r in stack.bot.supervisor_log()
               if r.get("event") == event and r.get("kind") == kind and r.get("key") == str(key))


@pytest.mark.slow  # 15-20 s: runs in .ci/run (make test-slow), keeping make test under 8 minutes
def test_a_conversation_goes_direct_and_survives_its_peers_dying_restarting_and_passivating(make_stack) -> None:
    stack = make_stack(env=ENV)
    sb = stack.sandbox
    general, lounge, help_ = sb.channel("general"), sb.channel("lounge"), sb.channel("help")
    alice = sb.user("alice")
    start = sb.command(general, "alice", "!tz add lilith", "Added **Lilith**")

    def say(word: str) -> int:
        trigger = sb.post(general, "alice", f"@lilith {word}")
        sb.said(general, trigger, f"heard: alice: {word}", timeout=60)
        return trigger

    def slow(word: str, seconds: float) -> int:
        """Alice's next answer takes `seconds` of the model's time: her actor is busy with it until then."""
        stack.ai.add_fault(model="e2e-model", latency_s=seconds, count=1)
        trigger = sb.post(general, "alice", f"@lilith {word}")
        wait_for(lambda: events(stack, "ai_call", trigger), 30, f"alice's actor to call the model for {word!r}")
        return trigger

    say("one")
    say("two")  # both know each other now: Heard and Speak go straight to the other actor
    wait_for(lambda: stack.counter("tzurot_deliver_sends_total", "path").get("direct", 0) >= 2, 30,
             "direct sends between alice's actor and the channel's to be counted")

    # The channel's actor is killed while alice's actor holds its address: her answer goes to a dead address.
    three = slow("three", 3.0)
    channel_pid = stack.actor_pid("channel", general, live_only=True)
    assert channel_pid is not None
    os.kill(channel_pid, signal.SIGKILL)
    sb.said(general, three, "heard: alice: three", timeout=60)
    assert stack.actor_pid("channel", general, live_only=True) not in (None, channel_pid)
    assert supervised(stack, "peer_bounced", "channel", general) == 1  # the answer went to the dead address

    # The channel's actor is passivated (two other channels wake; at most two live per shard) mid-answer.
    say("four")  # alice learns the new channel actor's address
    five = slow("five", 8.0)  # long enough for two other channels to wake meanwhile, even on a busy machine
    sb.command(lounge, "bob", "!tz ping", "Pong")
    sb.command(help_, "bob", "!tz ping", "Pong")
    assert supervised(stack, "passivated", "channel", general) >= 1
    assert not [m for m in sb.replies(general, five) if "five" in m["content"]], "answered before the passivation"
    sb.said(general, five, "heard: alice: five", timeout=60)
    # Either the stopping channel's PeerGone reached alice's actor before her answer left (a slow call lets its
    # actor read its mail before it speaks) and the answer went through the shards, or the answer went to the
    # old address and bounced: both reach the channel's next actor. A streamed answer is two messages (its
    # first part, then the whole), both sent before the first bounce's PeerGone can reach her actor.
    assert supervised(stack, "peer_bounced", "channel", general) - 1 in (0, 1, 2)

    # Alice's actor is killed; the channel still holds her old address when her next message comes.
    say("six")
    user_pid = stack.actor_pid("user", alice, live_only=True)
    assert user_pid is not None
    os.kill(user_pid, signal.SIGKILL)
    wait_for(lambda: stack.actor_pid("user", alice, live_only=True) not in (None, user_pid), 30,
             "alice's actor to be restarted")
    say("seven")
    assert supervised(stack, "peer_bounced", "user", alice) == 1  # the channel's Heard went to her dead actor
    say("eight")

    answers = [m["content"] for m in sb.replies(general, start) if "heard: alice:" in m["content"]]
    order = [text.split("heard: alice: ", 1)[1].split()[0] for text in answers]
    assert order == ["one", "two", "three", "four", "five", "six", "seven", "eight"], answers
