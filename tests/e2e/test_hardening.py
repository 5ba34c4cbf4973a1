"""Issue #11's defects, each shown through the real bot: what a user or an operator would see."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.e2e.bot_process import wait_for


def said(sb, channel: int, after: int, text: str = "", n: int = 1, timeout: float = 20.0) -> list[dict]:
    """At least `n` bot messages in `channel` after message `after` (containing `text`)."""
    def found() -> list[dict]:
        hits = [m for m in sb.replies(channel, after) if text in m["content"]]
        return hits if len(hits) >= n else []

    return wait_for(found, timeout, what=f"{n} bot message(s) with {text!r} in channel {channel}")


def test_names_that_look_like_numbers_never_stop_the_bot_from_starting_again(make_stack) -> None:
    stack = make_stack(env={"TZUROT_USER_BURST": "50"})
    sb = stack.sandbox
    general = sb.channel("general")
    for name in ("²²", "0123"):
        t = sb.post(general, "alice", f"!tz add {name}")
        said(sb, general, t, "Added **")
    # Someone (a bad disk, a hand edit) leaves a row nobody can read: it must not stop a start either.
    store = sqlite3.connect(Path(stack.bot.data_dir) / "tzurot.sqlite3")
    store.execute("INSERT INTO routes(kind, key, value, key_type) VALUES ('alias', 'broken', '{not json', 'str')")
    store.commit()
    store.close()

    stack.bot.stop()
    stack.bot.start()  # raises if the bot exits instead of connecting

    t = sb.post(general, "bob", "@0123 are you still there?")  # found by its exact name, not as the number 123
    said(sb, general, t, "heard: bob: are you still there?")
    t = sb.post(general, "bob", "@²² and you?")
    said(sb, general, t, "heard: bob: and you?")
    problems = [r for r in stack.bot.supervisor_log() if r["event"] == "quarantined" and "broken" in r["detail"]]
    assert problems, "the unreadable routing row is reported in the supervisor log"


def test_a_key_set_while_the_store_fails_never_reaches_a_log_and_its_user_is_answered(make_stack) -> None:
    from tests.e2e.test_security import files_holding

    key = "sk-planted-STOREFAIL-424242"
    stack = make_stack(env={"TZUROT_USER_BURST": "50"})
    sb = stack.sandbox
    dm = sb.dm("alice")
    t = sb.post(dm, "alice", "!tz ping")  # alice's actor is up before the store goes away
    said(sb, dm, t, "Pong")
    data = Path(stack.bot.data_dir)
    lock = sqlite3.connect(data / "tzurot.sqlite3", timeout=1, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")  # every write now fails after the store's busy timeout: a failing disk
    try:
        t = sb.post(dm, "alice", f"!tz auth key {key}")
        wait_for(lambda: "store_failed" in (data / "events.log").read_text(), 30, "the save of the key to fail")
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    said(sb, dm, t, "key", timeout=40)  # told what happened, whichever way it went
    stack.bot.stop()  # everything flushed to disk
    assert files_holding(data, "STOREFAIL-424242", skip="tzurot.sqlite3") == []
