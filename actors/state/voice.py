"""Who a user's actor is and how it speaks: its options, and the lines it sends to the user (through their
channel), to other actors on the user's behalf, and to the log. Every part of a user's state (the queue in
`user.py`, `answering.py`, `user_commands.py`) speaks through one `Voice`, so a notice or a log line has one shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from actors.effects import Log, Tell
from actors.kinds import Kind
from actors.messages import CommandFor, Heard, Notify, Origin
from actors.state.commands import Command


@dataclass
class UserOptions:
    bot_name: str = "Tzurot"
    model: str = ""
    prefix: str = "!tz "
    bot_owner: int = 0
    max_tokens: int = 0  # the operator's AI_MAX_TOKENS (0: none sent)
    dm_verification: bool = False  # TZUROT_DM_REQUIRES_VERIFICATION: every DM needs `verify` first
    streaming: bool = False  # TZUROT_STREAMING: answers are streamed and shown as they arrive

    @classmethod
    def from_settings(cls, settings: Any) -> UserOptions:
        if settings is None:
            return cls()
        return cls(settings.bot_name, settings.ai_model, settings.command_prefix, settings.bot_owner_id,
                   settings.ai_max_tokens, bool(settings.dm_requires_verification),
                   bool(getattr(settings, "streaming", 0)))


@dataclass(frozen=True)
class Voice:
    user_id: int
    options: UserOptions

    @property
    def is_bot_owner(self) -> bool:
        return self.user_id == self.options.bot_owner

    def log(self, heard: Heard, level: str, event: str, detail: str) -> Log:
        """A line about one message: its user, channel and id let `bot.py logs` tell its whole story."""
        msg = heard.incoming
        return Log(level, event, detail, self.user_id, msg.place.channel_id, msg.message_id)

    def notify(self, heard: Heard, text: str) -> Tell:
        """Say `text` to the user, in the channel of the message it answers."""
        cid = heard.incoming.place.channel_id
        return Tell(Kind.CHANNEL, cid, Notify(cid, self.user_id, text, heard.incoming.message_id))

    def origin(self, heard: Heard) -> Origin:
        """Who asks, and with what rights, for an actor that answers a command on the user's behalf."""
        msg = heard.incoming
        return Origin(
            self.user_id,
            msg.author.username,
            msg.place.channel_id,
            msg.message_id,
            msg.place.kind,
            msg.place.guild_id,
            msg.perms,
            self.is_bot_owner,
            msg.place.nsfw,
        )

    def forward(self, heard: Heard, command: Command, to: Kind, key: int | str, attachment: str = "") -> Tell:
        """Hand a command to the actor that owns what it changes (the catalogue, a channel, the blacklist)."""
        return Tell(to, key, CommandFor(command, self.origin(heard), attachment, heard.incoming.attachment_error))
