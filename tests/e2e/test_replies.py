"""Replies at the edge: a reply to a personality is answered, a reply between people wakes nothing."""

from __future__ import annotations

from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from observability import jsonlog
from testkit.process import wait_for


def dropped_as_chatter(stack) -> float:
    text = httpx.get(f"http://127.0.0.1:{stack.http_port}/metrics", timeout=10).text
    return sum(s.value for family in text_string_to_metric_families(text) for s in family.samples
               if s.name == "tzurot_messages_dropped_total" and s.labels.get("reason") == "chatter")


def received(stack, message_id: int) -> list[dict]:
    """The edge's events.log lines about this message."""
    records = jsonlog.read(Path(stack.bot.data_dir) / "events.log")
    return [r for r in records if str(r.get("trigger")) == str(message_id)]


def test_a_reply_to_another_human_wakes_no_actor_but_a_reply_to_a_personality_is_answered(make_stack) -> None:
    stack = make_stack()
    sb = stack.sandbox
    general = sb.channel("general")
    t = sb.post(general, "alice", "!tz add lilith")
    wait_for(lambda: [m for m in sb.replies(general, t) if "Added" in m["content"]], what="lilith to be added")
    t = sb.post(general, "alice", "@lilith hello")
    [answer] = wait_for(lambda: [m for m in sb.replies(general, t) if "heard: alice: hello" in m["content"]],
                        what="lilith's answer")

    # In a plain channel (no activation; no personality spoke there, so no live conversation) people talk among
    # themselves, and one answers another with a reply.
    plain = sb.channel("help")
    chatter = sb.post(plain, "bob", "nice weather today")
    wait_for(lambda: dropped_as_chatter(stack) == 1, what="bob's chatter dropped")
    between_people = sb.post(plain, "carol", "it really is", reply_to=chatter)
    wait_for(lambda: dropped_as_chatter(stack) == 2, what="carol's reply to bob dropped as chatter")

    # carol never spoke to lilith: only her reply says whom she means. (General has a live conversation since
    # lilith answered there; that such a reply passes the edge where nothing else would let it through is shown
    # in tests/unit/test_routing.py and, on discord.py's own messages, in tests/emulator/test_replies.py.)
    to_lilith = sb.post(general, "carol", "and what do you think?", reply_to=int(answer["id"]))
    wait_for(lambda: [m for m in sb.replies(general, to_lilith) if "carol: and what do you think?"
                      in m["content"]], what="lilith's answer to carol's reply")
    assert stack.recorded(to_lilith) and [r["event"] for r in received(stack, to_lilith)][:1] == ["received"]

    # The reply between people woke no actor: never written down, never received, never answered.
    assert not stack.recorded(between_people) and received(stack, between_people) == []
    assert sb.replies(plain, chatter) == []
    assert dropped_as_chatter(stack) == 2
