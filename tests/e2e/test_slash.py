"""Slash commands through the real bot, as a user drives them in the emulator: registration, autocomplete,
private answers, the `auth key` modal (the key nowhere but sealed in the store), permission refusals, and a
deferred answer whose user actor was killed before it could answer (one answer, not zero, not two)."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import httpx

from testkit.process import wait_for
from tests.e2e.test_security import every_message, files_holding

MODAL_KEY = "sk-modal-SECRET-24680135"


def test_slash_commands_through_the_actors(make_stack) -> None:
    stack = make_stack()
    sb = stack.sandbox
    general, dm = sb.channel("general"), sb.dm("alice")

    added = sb.slash(general, "alice", "tz add", name="lilith")
    assert added["response"] == 5 and added["ephemeral"]  # deferred at once, privately
    done = sb.slash_answer(added["id"], "Added")
    assert done["original"]["ephemeral"] and done["followups"] == []
    assert any("Added" in m["content"] for m in sb.seen_by(general, "alice"))
    assert not any("Added" in m["content"] for m in sb.seen_by(general, "bob"))  # alice's alone

    hints = sb.slash(general, "bob", "tz info", focused="personality", personality="li")
    assert hints["response"] == 8 and [c["value"] for c in hints["choices"]] == ["lilith"]
    info = sb.slash(general, "bob", "tz info", personality="lilith")
    assert "lilith" in sb.slash_answer(info["id"], "Lilith")["original"]["content"].lower()

    listed = sb.slash(general, "alice", "tz list")
    assert "lilith" in sb.slash_answer(listed["id"], "lilith")["original"]["content"]
    unknown = sb.slash(general, "alice", "tz info", personality="nobody-here")
    assert sb.slash_answer(unknown["id"], "")["original"]["ephemeral"]  # an error is private too

    # Moderation: Discord hides /activate from bob (no Manage Messages); alice owns the server.
    hidden = sb.http.post("/_sandbox/interactions", json={"channel_id": str(general), "user_id": str(sb.user("bob")),
                                                          "command": "activate", "options": {"personality": "lilith"}})
    assert hidden.status_code == 403
    activated = sb.slash(general, "alice", "activate", personality="lilith")
    assert not activated["ephemeral"]
    sb.slash_answer(activated["id"], "now answers every message")
    assert any("now answers every message" in m["content"] for m in sb.seen_by(general, "bob"))  # public
    refused = sb.slash(sb.dm("bob"), "bob", "blacklist list")  # in a DM only the bot owner may, and bob is not
    assert "Only the bot owner" in sb.slash_answer(refused["id"], "Only the bot owner")["original"]["content"]

    # The key: typed into a modal in a server channel, never posted, never written in clear.
    opened = sb.slash(general, "alice", "tz auth", action="key")
    assert opened["response"] == 9 and opened["modal"]["components"]
    field = opened["modal"]["components"][0]["components"][0]["custom_id"]
    submitted = sb.submit_modal(opened["id"], **{field: MODAL_KEY})
    assert "Your key is saved" in sb.slash_answer(submitted["id"], "Your key is saved")["original"]["content"]
    status = sb.slash(general, "alice", "tz auth")
    assert "your own key" in sb.slash_answer(status["id"], "your own key")["original"]["content"]
    seen = json.dumps([sb.seen_by(c, u) for c in (general, dm) for u in ("alice", "bob")]) + every_message(sb)
    assert MODAL_KEY not in seen
    data = Path(stack.bot.data_dir)
    assert files_holding(data, MODAL_KEY) == []  # logs, store (sealed), work table: nowhere in clear
    assert MODAL_KEY not in stack.bot.output()
    token_mark = "aW50ZXJhY3Rpb24"  # how every interaction token of the emulator begins: none in any log either
    logs = "".join(p.read_text(errors="replace") for p in data.glob("*.log*") if p.is_file())
    assert token_mark not in stack.bot.output() and token_mark not in logs


def test_registered_once_and_synced_only_when_changed(make_stack, tmp_path: Path) -> None:
    stack = make_stack()
    registered = [r for r in stack.discord.requests() if r.method == "PUT" and r.route and "commands" in r.route]
    assert len(registered) == 1
    stack.bot.stop()
    stack.bot.start()  # the same definitions: not registered again
    again = [r for r in stack.discord.requests() if r.method == "PUT" and r.route and "commands" in r.route]
    assert len(again) == 1
    app = stack.sandbox.bot_id
    listed = httpx.get(f"{stack.discord.api_base}/applications/{app}/commands",
                       headers={"Authorization": "Bot sandbox-token"}).json()
    names = sorted(c["name"] for c in listed)
    assert names == ["activate", "blacklist", "deactivate", "tz"]
    moderation = {c["name"]: c["default_member_permissions"] for c in listed}
    assert moderation["activate"] == str(1 << 13) and moderation["blacklist"] == str(1 << 5)


def test_deferred_answer_survives_its_user_actor_killed(make_stack) -> None:
    stack = make_stack()
    sb = stack.sandbox
    general = sb.channel("general")
    sb.slash_answer(sb.slash(general, "alice", "tz add", name="lilith")["id"], "Added")
    pid = wait_for(lambda: stack.actor_pid("user", sb.user("alice"), live_only=True), what="alice's actor")
    os.kill(pid, signal.SIGSTOP)  # it takes the next command into its mailbox and never reads it
    try:
        asked = sb.slash(general, "alice", "tz list")
        assert asked["response"] == 5  # the edge deferred it: the user sees "thinking…"
        wait_for(lambda: stack.recorded(int(asked["id"])), what="the command in the work table")
    finally:
        os.kill(pid, signal.SIGKILL)
    answered = sb.slash_answer(asked["id"], "lilith", timeout=60)
    assert answered["followups"] == []  # one answer: the deferred one, filled once
    assert wait_for(lambda: stack.actor_pid("user", sb.user("alice"), live_only=True) not in (None, pid),
                    what="alice's actor restarted")
