"""Merged turns and the default rate limit, against the real bot: what a fast human sees.

A user's lines to one personality, sent while their turn is being answered, are one turn: one answer that saw
every line. At the default limits a person writing every few seconds, or in bursts of five lines, is never told
to slow down.
"""

from __future__ import annotations

import time

import pytest

from emulator.ai.replies import heard_of
from testkit.process import wait_for
from tests.e2e.test_many_users import asked, on_model, open_work, quiet

LINES = ["hey", "so about yesterday", "I tried the recipe", "it burned", "any tips?"]


def test_five_lines_within_two_seconds_get_one_answer_that_saw_all_five(make_stack) -> None:
    stack = make_stack()
    sb = stack.sandbox
    general = sb.channel("general")
    on_model(sb, general, "lilith", "turn-model")
    stack.ai.add_fault(model="turn-model", latency_s=1.0, count=1)  # a model that thinks a while, as real ones do

    started = time.monotonic()
    first = sb.post(general, "alice", f"@lilith {LINES[0]}")
    wait_for(lambda: asked(stack, LINES[0]), what="the first line to reach the AI")
    for line in LINES[1:]:  # while the model thinks about the first
        sb.post(general, "alice", f"@lilith {line}")
    assert time.monotonic() - started < 2.0, "the five lines took longer than two seconds to post"

    expected = "heard: " + "\n".join(f"alice: {line}" for line in LINES)
    [answer] = sb.said(general, first, expected)
    quiet(stack)  # the one answer closed the work of all five
    answers = [m for m in sb.replies(general, first) if "heard:" in m["content"]]
    assert answers == [answer], [m["content"] for m in answers]
    final = [r for r in stack.ai.last_requests(10) if r["model"] == "turn-model"][-1]
    assert heard_of(final) == "\n".join(f"alice: {line}" for line in LINES)
    users = [m["content"] for m in final["messages"] if m["role"] == "user"]
    assert users == [f"alice: {line}" for line in LINES]  # each line its own user message, in the order sent
    assert not open_work(stack)


@pytest.mark.slow  # 15-20 s: runs in .ci/run (make test-slow), keeping make test under 8 minutes
def test_a_fast_human_at_the_default_limits_is_never_told_to_slow_down(make_stack) -> None:
    stack = make_stack()  # the default limits
    sb = stack.sandbox
    general = sb.channel("general")
    on_model(sb, general, "lilith", "quick-model")
    first = sb.post(general, "alice", "@lilith message 0")
    sent = 1
    for n in range(1, 3):  # one message every 5 s...
        time.sleep(5)  # the pace of the person being simulated, not a wait for the bot
        sb.post(general, "alice", f"@lilith message {n}")
        sent += 1
    time.sleep(2)
    for n in range(5):  # ...then a burst of five short lines, as fast as a client posts them
        sb.post(general, "alice", f"@lilith burst {n}")
        sent += 1

    def quoted() -> int:
        return sum(m["content"].count("alice: ") for m in sb.replies(general, first) if "heard:" in m["content"])

    wait_for(lambda: quoted() >= sent, what="every line answered")
    quiet(stack)
    refusals = [m["content"] for m in sb.replies(general, first) if "faster than" in m["content"]]
    assert refusals == [] and quoted() == sent
