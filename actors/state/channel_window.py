"""The channel's context: the recent conversation in one channel or thread, which its channel actor owns.

In a group chat a personality must know what was said around it, not only the addressing user's own turns:
who said what, its own earlier answers to anyone, and the messages a reply answers. The channel actor is the
one place that sees every message that reaches the bot in a channel and every answer spoken there, so it keeps
them here (bounded in lines, characters and age; newest kept) and hands each message on with the lines before
it (`Heard.context`). The user's actor puts what others said (people, and this or other personalities answering
them) in the prompt as a transcript (`transcript`) beside the user's own turns with the personality, which stay
its conversation (so the model's turn is always the user's). Commands are never kept:
they may hold a key. The window is written with the channel's next save (an answer always saves), so a
message is never delayed by a write of its own.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from typing import Any

from actors.messages import ChannelLine, Incoming, Speak

WINDOW_LINES = 100  # lines kept per channel
WINDOW_CHARS = 24_000  # characters kept per channel
LINE_CHARS = 2_000  # one line is cut to this (an answer can be longer)
CONTEXT_LINES = 40  # lines handed on with a message
CONTEXT_CHARS = 6_000  # characters handed on with a message: the newest that fit
REPLY_HOPS = 5  # messages of the reply chain added when older than the lines handed on
REPLY_CHARS = 2_000  # and their characters, on top
MAX_AGE_S = 24 * 3600.0  # a line older than this is forgotten


_FIELDS = tuple(f.name for f in fields(ChannelLine))


def _label(display_name: str, username: str) -> str:
    if not display_name or display_name == username:
        return username
    return f"{display_name} ({username})"


def _cut(text: str) -> str:
    return text if len(text) <= LINE_CHARS else text[: LINE_CHARS - 1] + "…"


@dataclass(slots=True)
class ChannelWindow:
    prefix: str = "!tz "  # a message starting with the command word is a command: never kept
    lines: deque[ChannelLine] = field(default_factory=deque)

    def heard(self, msg: Incoming, now: float) -> bool:
        """Keep a person's message (not a command, not one already kept); True when the window changed."""
        text = msg.content.strip()
        if not text or text.lower().startswith(self.prefix.strip().lower()):
            return False
        if any(line.message_id == msg.message_id and not line.personality for line in self.lines):
            return False
        label = _label(msg.author.display_name, msg.author.username)
        return self._add(ChannelLine(msg.message_id, msg.author.id, label, _cut(text), msg.created_at or now, "",
                                     msg.reply_to), now)

    def spoke(self, speak: Speak, now: float) -> bool:
        """Keep a personality's answer once (an answer said again is the same line)."""
        name = speak.persona.name
        if any(line.message_id == speak.trigger_id and line.personality == name for line in self.lines):
            return False
        return self._add(ChannelLine(speak.trigger_id, speak.user_id, speak.persona.display_name, _cut(speak.text),
                                     now, name, speak.trigger_id), now)

    def _add(self, line: ChannelLine, now: float) -> bool:
        self.lines.append(line)
        self._trim(now)
        return True

    def _trim(self, now: float) -> None:
        total = sum(len(line.text) for line in self.lines)
        while self.lines and (len(self.lines) > WINDOW_LINES or total > WINDOW_CHARS
                              or now - self.lines[0].at > MAX_AGE_S):
            total -= len(self.lines.popleft().text)

    def context_for(self, msg: Incoming, now: float) -> tuple[ChannelLine, ...]:
        """The lines before `msg` to hand on with it: the newest that fit the bounds, oldest first, after the
        messages of its reply chain that are older than those (up to REPLY_HOPS)."""
        chosen: list[ChannelLine] = []
        total = 0
        for line in reversed(self.lines):
            if line.message_id == msg.message_id and not line.personality:
                continue
            if now - line.at > MAX_AGE_S or len(chosen) >= CONTEXT_LINES or total + len(line.text) > CONTEXT_CHARS:
                break
            chosen.append(line)
            total += len(line.text)
        chosen.reverse()
        if msg.reply_to is None:
            return tuple(chosen)
        have = {line.message_id for line in chosen if not line.personality}
        people = {line.message_id: line for line in self.lines if not line.personality}
        chain: list[ChannelLine] = []
        target, spent = msg.reply_to, 0
        for _ in range(REPLY_HOPS):
            line = people.get(target) if target is not None else None
            if line is None or spent + len(line.text) > REPLY_CHARS:
                break
            if line.message_id not in have:
                chain.append(line)
                spent += len(line.text)
            target = line.reply_to
        return (*reversed(chain), *chosen)

    def forget_user(self, user_id: int) -> bool:
        """Erase every line by `user_id`, and the answers given to them; True when any was held."""
        kept = deque(line for line in self.lines if line.author_id != user_id)
        changed = len(kept) != len(self.lines)
        self.lines = kept
        return changed

    def snapshot(self) -> list[dict[str, Any]]:
        # Written with every save of the channel: `asdict`'s deep copy of up to WINDOW_LINES lines cost 0.7 ms
        return [{name: getattr(line, name) for name in _FIELDS} for line in self.lines]

    def restore(self, rows: Iterable[dict[str, Any]] | None) -> None:
        self.lines = deque(ChannelLine(**row) for row in rows or ())


def transcript(lines: Iterable[ChannelLine], personality: str, user_id: int) -> str:
    """What others said here lately, for the model (empty when nothing): every line but the user's own and the
    answers to them (those are the user's conversation with the personality), its own lines marked as its."""
    said = [f"{line.label}{' (you)' if line.personality == personality else ''}: {line.text}"
            for line in lines if line.author_id != user_id]
    if not said:
        return ""
    return "The recent conversation in this channel, oldest first (for context; answer the last message):\n" + \
        "\n".join(said)
