"""Slash commands through the real bot, as a user drives them in the emulator: registration, autocomplete,
private answers, the `auth key` modal (the key nowhere but sealed in the store), permission refusals, and a
deferred answer whose user actor was killed before it could answer (one answer, not zero, not two)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

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


@pytest.mark.slow  # about 20 s: the bot started twice, and bot.py run three times
def test_registered_once_and_synced_only_when_changed(make_stack) -> None:
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

    def commands(action: str, **env: str) -> str:
        done = subprocess.run([sys.executable, "bot.py", "commands", action], env={**stack.bot.env, **env},
                              capture_output=True, text=True, timeout=60, check=True)
        return done.stdout

    assert "registered, unchanged" in commands("show") and "/tz config <personality> <key> <value>" in commands("show")
    guild = str(stack.discord.call(lambda: stack.discord.emulator.world.channel_named("general").guild_id))
    assert "changed since the last registration" in commands("show", TZUROT_COMMAND_GUILD=guild)
    assert "registered 4 commands (guild" in commands("sync", TZUROT_COMMAND_GUILD=guild)
    in_guild = httpx.get(f"{stack.discord.api_base}/applications/{app}/guilds/{guild}/commands",
                         headers={"Authorization": "Bot sandbox-token"}).json()
    assert sorted(c["name"] for c in in_guild) == names
    assert "registered, unchanged" in commands("show", TZUROT_COMMAND_GUILD=guild)


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


EVERY = [  # (channel, user, command, options, what the private answer says)
    ("general", "alice", "tz add", {"name": "ember", "alias": "the flame"}, "Added"),
    ("general", "alice", "tz alias", {"personality": "ember", "alias": "embers"}, "embers"),
    ("general", "alice", "tz config", {"personality": "ember", "key": "temperature", "value": "0.5"}, "0.5"),
    ("general", "alice", "tz info", {"personality": "the flame"}, "Ember"),
    ("general", "alice", "tz list", {"page": 1}, "ember"),
    ("general", "alice", "tz autorespond", {"mode": "on"}, "Autorespond is on"),
    ("general", "alice", "tz reset", {"personality": "ember"}, "Ember"),
    ("general", "alice", "tz verify", {}, "age-restricted"),
    ("general", "alice", "tz help", {"command": "config"}, "config"),
    ("general", "alice", "tz ping", {}, "Pong"),
    ("general", "alice", "tz status", {}, "Autorespond"),
    ("general", "alice", "tz auth", {"action": "clear"}, "no key"),
    ("general", "alice", "tz persona", {"action": "set", "text": "I am Alice, a night owl."}, ""),
    ("general", "alice", "tz persona", {"action": "show"}, "night owl"),
    ("general", "alice", "tz memory", {"action": "list"}, ""),
    ("general", "alice", "tz data", {"action": "delete"}, ""),
    ("general", "alice", "blacklist add", {"user": "carol", "reason": "spam"}, "I will ignore"),
    ("general", "alice", "blacklist check", {"user": "carol"}, ""),
    ("general", "alice", "blacklist remove", {"user": "carol"}, ""),
    ("general", "alice", "activate", {"personality": "ember"}, "now answers every message"),
    ("general", "alice", "deactivate", {}, "no longer answers"),
    ("dm", "alice", "tz purgbot", {"mode": "system"}, "Deleted"),
    ("general", "alice", "tz remove", {"personality": "ember"}, "ember"),
]


@pytest.mark.slow  # about 14 s: twenty-odd commands after the bot's start
def test_every_slash_command_answers_once(make_stack) -> None:
    stack = make_stack(env={"TZUROT_USER_COMMANDS_PER_MIN": "600", "TZUROT_USER_COMMAND_BURST": "100"})
    sb = stack.sandbox
    places = {"general": sb.channel("general"), "dm": sb.dm("alice")}
    for place, user, command, options, answer in EVERY:
        if isinstance(options.get("user"), str):
            options = {**options, "user": str(sb.user(options["user"]))}
        asked = sb.slash(places[place], user, command, **options)
        assert asked["response"] == 5, (command, asked)
        done = sb.slash_answer(asked["id"])
        said = done["original"]["content"]
        assert answer in said, (command, said)
        assert done["followups"] == [] and done["ephemeral"] == (command not in ("activate", "deactivate")), command

    general = places["general"]
    sb.slash_answer(sb.slash(general, "alice", "tz add", name="ash")["id"], "Added")
    exported = sb.slash_answer(sb.slash(general, "alice", "tz export")["id"])["original"]
    assert len(exported["attachments"]) == 1 and exported["ephemeral"]  # the file is hers alone
    assert not any(m["attachments"] for m in sb.seen_by(general, "bob"))
    backup = httpx.get(exported["attachments"][0]["url"]).text
    assert '"ash"' in backup
    sb.slash_answer(sb.slash(general, "alice", "tz remove", personality="ash")["id"], "ash")
    imported = sb.slash(general, "alice", "tz import",
                        file={"filename": "backup.json", "content": backup, "content_type": "application/json"})
    sb.slash_answer(imported["id"], "ash")
    info = sb.slash(general, "bob", "tz info", personality="ash")
    assert "Ash" in sb.slash_answer(info["id"])["original"]["content"]  # back, for everyone
