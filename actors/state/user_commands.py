"""The `!tz` commands a user's actor answers itself, and where it sends the others.

Permission checks happen here, where the author's rights (from the edge) and the bot owner's id meet:
activating needs Manage Messages in that channel, a server blacklist needs Manage Server, the global one
the bot owner. Keys are accepted in DMs and from the slash command's modal (seen by nobody else): one posted in
a server channel is deleted at once.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from actors.effects import Call, Effect, Log, Save, Tell
from actors.kinds import Kind
from actors.messages import DeleteMessage, Heard, PersonaRequest
from actors.state.commands import Command, help_text
from actors.state.memory import MemoryCommands, Remembered
from actors.state.persona import PersonaCommands
from actors.state.voice import Voice

MODERATE = frozenset({"manage_messages", "administrator"})
ADMIN = frozenset({"manage_guild", "administrator"})
REGISTRY_COMMANDS = frozenset({"add", "remove", "alias", "list", "info", "config", "export", "import", "status"})


@dataclass(slots=True)
class Profile:
    """What a user set about themselves and commands change (kept in their row, see `UserState.snapshot`)."""

    autorespond: bool = False
    verified: bool = False
    sealed_key: str | None = None  # the user's own AI key, encrypted by the shell; never in clear here
    aliases: dict[str, str] = field(default_factory=dict)  # personal alias -> personality
    memory: bool = True  # long-term memory on (`memory on|off`)
    personas: dict[str, str] = field(default_factory=dict)  # "" (every personality) or a name -> who the user is
    remembered: Remembered = field(default_factory=Remembered)  # where their memories were made (memory.py)


@dataclass(slots=True)
class UserCommands:
    """The commands a user's actor answers itself, over the records they change: the profile, the histories
    (`reset`), and the `reset`s waiting for the Registry."""

    voice: Voice
    profile: Profile
    histories: OrderedDict[str, list[dict[str, str]]] = field(default_factory=OrderedDict)  # "chan:name" -> turns
    resets: dict[int, Heard] = field(default_factory=dict)

    def command(self, cmd: Command, heard: Heard, now: float) -> list[Effect]:
        msg = heard.incoming
        name, args, dm = cmd.name, cmd.args, msg.place.kind == "dm"
        owner = self.voice.is_bot_owner
        if name in REGISTRY_COMMANDS:
            facts = self.status_text(heard, now) if name == "status" else msg.attachment_text
            return [self.voice.forward(heard, cmd, Kind.REGISTRY, Kind.REGISTRY, facts)]
        if name in ("activate", "deactivate"):
            if dm:
                return [self.voice.notify(heard, "Personalities are activated in server channels, not in DMs.")]
            if not (msg.perms & MODERATE or owner):
                return [self.voice.notify(heard, f"You need the Manage Messages permission here to {name} a "
                                                 "personality.")]
            if name == "activate":
                return [self.voice.forward(heard, cmd, Kind.REGISTRY, Kind.REGISTRY)]
            return [self.voice.forward(heard, cmd, Kind.CHANNEL, msg.place.channel_id)]
        if name == "blacklist":
            global_ok = owner and (dm or args[0] in ("list", "check"))
            if not (owner or msg.perms & ADMIN) or (dm and not global_ok):
                return [
                    self.voice.notify(
                        heard,
                        "Only the bot owner (everywhere) or a server admin (for their server) "
                        "can manage the blacklist.",
                    )
                ]
            return [self.voice.forward(heard, cmd, Kind.BLACKLIST, Kind.BLACKLIST)]
        if name == "purgbot":
            if not dm:
                return [self.voice.notify(heard, "`purgbot` cleans up my messages in your DMs; use it there.")]
            return [self.voice.forward(heard, cmd, Kind.CHANNEL, msg.place.channel_id)]
        if name == "auth":
            return self.auth(args, heard)
        if name == "memory":
            return MemoryCommands(self.voice, self.profile).command(args, heard)
        if name == "persona":
            return PersonaCommands(self.voice, self.profile).command(args, heard)
        if name == "autorespond":
            return self.set_autorespond(args[0] if args else "status", heard)
        if name == "reset":
            # Looked up without blocking the queue: a lost answer costs only this command.
            self.resets[msg.message_id] = heard
            while len(self.resets) > 10:
                self.resets.pop(next(iter(self.resets)))
            return [Tell(Kind.REGISTRY, Kind.REGISTRY, PersonaRequest(args[0], self.voice.user_id, msg.message_id))]
        if name == "verify":
            if not msg.place.nsfw:
                return [self.voice.notify(heard, "Run `verify` in an age-restricted channel to confirm you may use "
                                                 "one.")]
            self.profile.verified = True
            return [Save(), self.voice.notify(heard, "Verified: you may talk to personalities in age-restricted "
                                                     "places.")]
        if name == "ping":
            lag = max(0.0, now - msg.created_at) * 1000 if msg.created_at else 0.0
            return [self.voice.notify(heard, f"Pong! Your message reached your actor {lag:.0f} ms after you sent it.")]
        if name == "help":
            slash = heard.incoming.interaction is not None
            return [self.voice.notify(heard, help_text(self.voice.options.prefix, args[0] if args else None, slash))]
        return [self.voice.notify(heard, f"`{name}` is not something I can do yet.")]

    def reset_found(self, heard: Heard, record: dict[str, Any] | None) -> list[Effect]:
        """The Registry answered a `reset`: forget that personality's conversation here."""
        if record is None:
            return [self.voice.notify(heard, "I don't know that personality.")]
        key = f"{heard.incoming.place.channel_id}:{record['name']}"
        had = self.histories.pop(key, None)
        said = (
            f"Forgot our conversation in this channel, **{record['display_name']}** starts fresh."
            if had
            else f"You have no conversation with **{record['display_name']}** here."
        )
        return [Save(), self.voice.notify(heard, said)]

    def auth(self, args: tuple[str, ...], heard: Heard) -> list[Effect]:
        msg = heard.incoming
        action = args[0] if args else "status"
        if action == "key":
            if msg.place.kind != "dm" and msg.interaction is None:  # a modal's key was never in the channel
                # Never store it; take it out of the channel at once, and say what really happened to it.
                p = self.voice.options.prefix
                deleted = (f"Never post a key in a server channel: I deleted that message. Send `{p}auth key <key>` "
                           "to me in a DM (or use `/tz auth action:key`, a form only you see), and consider revoking "
                           "that key.")
                failed = ("Never post a key in a server channel. I could not delete that message, so your key is "
                          "still visible to everyone here: revoke it now at your AI provider, delete the message "
                          f"yourself, and send the new key with `{p}auth key <key>` to me in a DM.")
                delete = DeleteMessage(msg.place.channel_id, msg.message_id, self.voice.user_id, deleted, failed)
                return [
                    Tell(Kind.CHANNEL, msg.place.channel_id, delete),
                    Log("warning", "key_in_channel", f"user {self.voice.user_id} channel {msg.place.channel_id}"),
                ]
            return [Call("keys", "seal", (args[1],), ("seal", msg.message_id, msg.place.channel_id, heard))]
        if action == "clear":
            had = self.profile.sealed_key is not None
            self.profile.sealed_key = None
            return [
                Save(),
                self.voice.notify(
                    heard,
                    "Your key is removed; I use the bot's own access for you again." if had else "You had no key set.",
                ),
            ]
        return [
            self.voice.notify(
                heard,
                "You are using your own key."
                if self.profile.sealed_key
                else "You are using the bot's own access (no personal key set).",
            )
        ]

    def sealed(self, tag: tuple[Any, ...], result: Any) -> list[Effect]:
        heard = tag[3]
        if not isinstance(result, str):
            return [self.voice.notify(heard, "I could not store your key just now; nothing was saved.")]
        self.profile.sealed_key = result
        return [
            Save(),
            self.voice.notify(
                heard, "Your key is saved, encrypted. Your requests use it from now on. `auth clear` removes it."
            ),
        ]

    def set_autorespond(self, mode: str, heard: Heard) -> list[Effect]:
        if mode in ("on", "off"):
            self.profile.autorespond = mode == "on"
            text = (
                "Autorespond is on: after you address a personality, your next messages in that channel "
                "continue the conversation (30 minutes in servers, 2 hours in DMs)."
                if self.profile.autorespond
                else "Autorespond is off: address a personality each time."
            )
            return [Save(), self.voice.notify(heard, text)]
        return [self.voice.notify(heard, f"Autorespond is {'on' if self.profile.autorespond else 'off'}.")]

    def status_text(self, heard: Heard, now: float) -> str:
        activation, p = heard.activated or "none", self.profile
        checked = datetime.fromtimestamp(now, UTC).strftime("%H:%M:%S UTC")
        return (
            f"Autorespond: {'on' if p.autorespond else 'off'} · Key: "
            f"{'your own' if p.sealed_key else 'the bot’s'} · Verified: {'yes' if p.verified else 'no'} · "
            f"This channel's activation: {activation} · Checked {checked}"
        )


