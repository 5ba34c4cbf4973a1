"""Issue #11's defects, each shown through the real bot: what a user or an operator would see."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
from pathlib import Path

import pytest

from testkit.process import wait_for
from testkit.stack import world_denying


def add_lilith(sb, channel: int) -> None:
    sb.command(channel, "alice", "!tz add lilith", "Added **Lilith**")


@pytest.mark.slow  # over 7 s: make test stays under 8 minutes
def test_names_that_look_like_numbers_never_stop_the_bot_from_starting_again(make_stack) -> None:
    stack = make_stack(env={"TZUROT_USER_BURST": "50"})
    sb = stack.sandbox
    general = sb.channel("general")
    for name in ("²²", "0123"):
        t = sb.command(general, "alice", f"!tz add {name}", "Added **")
    # Someone (a bad disk, a hand edit) leaves a row nobody can read: it must not stop a start either.
    store = sqlite3.connect(Path(stack.bot.data_dir) / "tzurot.sqlite3")
    store.execute("INSERT INTO routes(kind, key, value, key_type) VALUES ('alias', 'broken', '{not json', 'str')")
    store.commit()
    store.close()

    stack.bot.stop()
    stack.bot.start()  # raises if the bot exits instead of connecting

    t = sb.post(general, "bob", "@0123 are you still there?")  # found by its exact name, not as the number 123
    sb.said(general, t, "heard: bob: are you still there?")
    t = sb.command(general, "bob", "@²² and you?", "heard: bob: and you?")
    problems = [r for r in stack.bot.supervisor_log() if r["event"] == "quarantined" and "broken" in r["detail"]]
    assert problems, "the unreadable routing row is reported in the supervisor log"


@pytest.mark.slow  # 13 s: runs in .ci/run (make test-slow), keeping make test under 8 minutes
def test_a_key_set_while_the_store_fails_never_reaches_a_log_and_its_user_is_answered(make_stack) -> None:
    from tests.e2e.test_security import files_holding

    key = "sk-planted-STOREFAIL-424242"
    stack = make_stack(env={"TZUROT_USER_BURST": "50"})
    sb = stack.sandbox
    dm = sb.dm("alice")
    t = sb.post(dm, "alice", "!tz ping")  # alice's actor is up before the store goes away
    sb.said(dm, t, "Pong")
    data = Path(stack.bot.data_dir)
    lock = sqlite3.connect(data / "tzurot.sqlite3", timeout=1, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")  # every write now fails after the store's busy timeout: a failing disk
    try:
        t = sb.post(dm, "alice", f"!tz auth key {key}")
        wait_for(lambda: "store_failed" in (data / "events.log").read_text(), 30, "the save of the key to fail")
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    sb.said(dm, t, "key", timeout=40)  # told what happened, whichever way it went
    stack.bot.stop()  # everything flushed to disk
    assert files_holding(data, "STOREFAIL-424242", skip="tzurot.sqlite3") == []


def events(stack, event: str, trigger: int | None = None) -> list[dict]:
    path = Path(stack.bot.data_dir) / "events.log"
    lines = path.read_text().splitlines() if path.exists() else []
    records = [json.loads(line) for line in lines if line.strip()]
    return [r for r in records if r.get("event") == event and (trigger is None or r.get("trigger") == trigger)]


@pytest.mark.slow  # 40 s: the model takes 35 s, longer than the sweep's old patience
def test_a_slow_answer_is_not_taken_for_a_lost_one(make_stack) -> None:
    stack = make_stack()
    sb = stack.sandbox
    general = sb.channel("general")
    add_lilith(sb, general)
    stack.ai.add_fault(model="e2e-model", latency_s=35.0, count=1)  # a slow model (or a long wait for a slot)
    t = sb.command(general, "alice", "@lilith take your time", "heard: alice: take your time", timeout=60)
    assert events(stack, "redelivered", t) == []  # in an actor's hands all along: never handed on again
    assert stack.ai.last_requests(1)[0]["max_tokens"] == 1024  # AI_MAX_TOKENS: answers have a bound
    assert len([m for m in sb.replies(general, t) if "take your time" in m["content"]]) == 1


@pytest.mark.slow  # over 7 s: make test stays under 8 minutes
def test_messages_lost_with_a_killed_actor_are_answered_in_the_order_sent(make_stack) -> None:
    stack = make_stack(env={"TZUROT_USER_BURST": "50"})
    sb = stack.sandbox
    general, lounge = sb.channel("general"), sb.channel("lounge")
    add_lilith(sb, general)
    alice = sb.user("alice")
    stack.ai.add_fault(model="e2e-model", latency_s=4.0, count=2)  # the first answer is slow, also after a restart
    zero = sb.post(general, "alice", "@lilith zero")
    wait_for(lambda: events(stack, "ai_call", zero), what="alice's actor to be busy with her first message")
    one = sb.post(general, "alice", "@lilith one")  # waits in the busy actor's mailbox
    t = sb.post(lounge, "bob", "!tz ping")  # a round trip through the edge and the actors: 'one' is delivered
    sb.said(lounge, t, "Pong")
    old = stack.actor_pid("user", alice, live_only=True)
    assert old is not None
    os.kill(old, signal.SIGKILL)  # 'one' dies with the process; 'zero' was saved in the actor's queue
    wait_for(lambda: stack.actor_pid("user", alice, live_only=True) not in (None, old),
             what="alice's actor to be restarted")
    two = sb.post(general, "alice", "@lilith two")
    sb.said(general, zero, "alice: two", timeout=60)
    quiet_answers = [m["content"] for m in sb.replies(general, zero) if "heard: alice:" in m["content"]]
    # Lines that came while a slow answer was in flight are merged into its turn: one answer can quote several.
    order = [word for text in quiet_answers for word in re.findall(r"(?:heard: |\n)alice: (\w+)", text)]
    assert order == ["zero", "one", "two"], quiet_answers
    assert two > one > zero


def test_a_key_the_bot_could_not_delete_is_said_to_be_visible_not_deleted(make_stack) -> None:
    from emulator.discord.permissions import MANAGE_MESSAGES

    world, open_channel = world_denying(MANAGE_MESSAGES, "no-moderation")
    stack = make_stack(world)
    sb = stack.sandbox
    t = sb.post(open_channel.id, "bob", "!tz auth key sk-visible-KEY-123456")
    [notice] = sb.said(open_channel.id, t, "key")
    assert any(int(m["id"]) == t for m in sb.messages(open_channel.id))  # it is still there...
    assert "deleted" not in notice["content"].replace("not deleted", "").replace("couldn't delete", "")
    assert "revoke" in notice["content"].lower() and "visible" in notice["content"].lower()  # ...and it says so


@pytest.mark.slow  # 13 s: runs in .ci/run (make test-slow), keeping make test under 8 minutes
def test_a_message_for_a_parked_actor_is_answered_unavailable_then_answered_when_it_is_back(make_stack) -> None:
    stack = make_stack(env={"TZUROT_INTENSITY_MAX_RESTARTS": "1", "TZUROT_PARK_COOLDOWN_S": "8"})
    sb = stack.sandbox
    general = sb.channel("general")
    add_lilith(sb, general)
    t = sb.command(general, "bob", "@lilith hello", "heard: bob: hello")
    bob, last = sb.user("bob"), None
    for _ in range(2):  # bob's actor dies twice in a row: with one restart allowed, it is parked
        pid = wait_for(lambda last=last: (p := stack.actor_pid("user", bob, live_only=True)) not in (None, last) and p,
                       what="bob's actor to be running")
        os.kill(pid, signal.SIGKILL)
        stack.bot.pids.add(pid)
        last = pid
    wait_for(lambda: stack.status()["parked"], what="bob's actor parked")

    t = sb.post(general, "bob", "@lilith are you still there?")
    [notice] = sb.said(general, t, "temporarily unavailable")
    assert notice["reply_to"] == str(t) and not notice["webhook_id"]  # the bot itself, in reply to bob
    t2 = sb.post(general, "bob", "@lilith hello??")  # a second one in the same minute: no second notice
    sb.said(general, t, "heard: bob: are you still there?", timeout=60)  # kept, and answered once it is back
    sb.said(general, t2, "bob: hello??", timeout=60)  # both waited for the actor: one turn may answer both
    assert sum("temporarily unavailable" in m["content"] for m in sb.replies(general, t)) == 1


@pytest.mark.slow  # over 7 s: make test stays under 8 minutes
def test_every_bad_import_file_gets_a_clear_answer_and_changes_nothing(make_stack) -> None:
    stack = make_stack(env={"TZUROT_USER_COMMAND_BURST": "20"})
    sb = stack.sandbox
    dm = sb.dm("alice")
    nested = "[" * 50_000 + "]" * 50_000  # json.loads raises RecursionError on this, not ValueError
    files = {
        "nested": ({"filename": "deep.json", "content": nested}, "nested too deeply"),
        "huge": ({"filename": "huge.json", "content": "[" + ", ".join(['{"name": "x"}'] * 20_000) + "]"},
                 "at most 256 KB"),
        "picture": ({"filename": "cat.png", "content": "not really a picture"}, "not a .json or .txt file"),
        "not-a-list": ({"filename": "x.json", "content": '{"hello": 1}'}, "a list of personalities"),
        "wrong-fields": ({"filename": "x.json", "content": '[{"name": "ok", "prompt": [[["deep"]]]}]'},
                         "prompt is not a plain value"),
    }
    for name, (attachment, expected) in files.items():
        t = sb.post(dm, "alice", "!tz import", attachments=[attachment])
        [answer] = sb.said(dm, t)
        assert expected in answer["content"], (name, answer["content"])
    t = sb.command(dm, "alice", "!tz list", "You have no personalities yet")
    assert stack.bot.proc.poll() is None
