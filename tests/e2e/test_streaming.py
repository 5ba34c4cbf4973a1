"""Streamed answers end to end: the personality's message appears early, is edited to the whole answer, and a
kill -9 of the channel's actor mid-answer leaves no half answer and no double."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import pytest

from emulator.ai import long_text
from testkit.process import wait_for

SIZE = 2600  # two messages


def lilith_said(sb: Any, channel: int, after: int) -> list[dict[str, Any]]:
    return [m for m in sb.replies(channel, after) if m["author"]["username"] == "Lilith"]


def watch(sb: Any, channel: int, after: int, full: str, timeout: float, during: Any = None) -> dict[str, list[str]]:
    """Every content each of Lilith's messages had, polled until together they say `full` (split at message
    boundaries, where whitespace goes); `during` is called once, with the first of them shown."""
    seen: dict[str, list[str]] = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        said = lilith_said(sb, channel, after)
        for m in said:
            history = seen.setdefault(m["id"], [])
            if not history or history[-1] != m["content"]:
                history.append(m["content"])
        if during is not None and said:
            during, _ = None, during(said)
        if said and words(said) == full.split():
            return seen
        time.sleep(0.03)
    raise AssertionError(f"the answer was not finished in {timeout} s: {[h[-1][:60] for h in seen.values()]}")


def words(said: list[dict[str, Any]]) -> list[str]:
    return [w for m in said for w in m["content"].split()]


def work_open(stack: Any, user: int) -> list[int]:
    store = stack.store()
    try:
        return [int(row["message_id"]) for row in store.work_open_for_user(user)]
    finally:
        store.close()


@pytest.mark.slow
def test_an_answer_appears_early_and_is_edited_to_the_whole_text(make_stack) -> None:
    stack = make_stack()
    sb = stack.sandbox
    general = sb.channel("general")
    sb.command(general, "alice", "!tz add lilith", "Added")
    sb.said(general, sb.post(general, "alice", "@lilith hi"), "heard")  # the channel's webhook is made
    asked = sb.post(general, "alice", f"@lilith tell me LONG:{SIZE} SPREAD:3000")
    seen = watch(sb, general, asked, long_text(SIZE), timeout=40)
    assert len(seen) == 2  # split past 2,000 characters, never posted twice
    assert all(len(c) <= 2000 for history in seen.values() for c in history)
    # Discord's side: the first message was posted early and then edited as the answer grew, each message at
    # most once a second.
    edits: dict[str, list[float]] = {}
    posts = []
    for r in stack.discord.requests():
        if r.method == "PATCH" and "/messages/" in r.path and r.status == 200:
            edits.setdefault(r.path.rsplit("/", 1)[-1], []).append(r.at)
        elif r.method == "POST" and r.path.startswith("/api/v10/webhooks/") and r.status == 200:
            posts.append(r.at)
    first_id = next(iter(seen))
    assert edits.get(first_id), "the first message was edited as the answer grew"
    assert min(posts[-2:]) < max(edits[first_id])
    for times in edits.values():
        assert all(b - a >= 0.9 for a, b in zip(times, times[1:], strict=False)), times
    wait_for(lambda: asked not in work_open(stack, sb.user("alice")), what="the message's work closed")
    assert sb.violations() == []


@pytest.mark.slow
def test_a_channel_killed_mid_answer_leaves_no_half_answer_and_no_double(make_stack) -> None:
    stack = make_stack()
    sb = stack.sandbox
    general = sb.channel("general")
    sb.command(general, "alice", "!tz add lilith", "Added")
    asked = sb.post(general, "alice", f"@lilith tell me LONG:{SIZE} SPREAD:4000")
    killed: list[int] = []

    def kill(said: list[dict[str, Any]]) -> None:
        pid = stack.actor_pid("channel", general, live_only=True)
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)

    seen = watch(sb, general, asked, long_text(SIZE), timeout=90, during=kill)
    assert killed, "the channel's actor was killed while the answer was being shown"
    assert len(seen) == 2, f"exactly the two messages of the answer: {[h[-1][:40] for h in seen.values()]}"
    wait_for(lambda: asked not in work_open(stack, sb.user("alice")), timeout=60, what="the message's work closed")
    said = lilith_said(sb, general, asked)  # and nothing more was posted meanwhile
    assert len(said) == 2 and words(said) == long_text(SIZE).split()


@pytest.mark.slow
def test_a_users_actor_killed_mid_answer_asks_again_and_finishes_the_same_messages(make_stack) -> None:
    stack = make_stack()
    sb = stack.sandbox
    general = sb.channel("general")
    sb.command(general, "alice", "!tz add lilith", "Added")
    asked = sb.post(general, "alice", f"@lilith tell me LONG:{SIZE} SPREAD:4000")
    killed: list[int] = []

    def kill(said: list[dict[str, Any]]) -> None:
        pid = stack.actor_pid("user", sb.user("alice"), live_only=True)
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)

    seen = watch(sb, general, asked, long_text(SIZE), timeout=120, during=kill)
    assert killed, "alice's actor was killed while the answer was being shown"
    wait_for(lambda: asked not in work_open(stack, sb.user("alice")), timeout=60, what="the message's work closed")
    said = lilith_said(sb, general, asked)
    assert len(said) == 2 == len(seen) and words(said) == long_text(SIZE).split()  # the same messages, finished
