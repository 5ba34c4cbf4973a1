"""A streamed answer on its way into a channel (TZUROT_STREAMING): the messages that show it, and the next step.

The answer's text grows as the model writes (`SpeakPart`), then is final (`Speak`). It is shown in webhook
messages of at most 2,000 characters each: the first is posted as soon as there is text, each is edited as its
part grows (at most once a second: inside the webhook's rate limit), a new one is posted when the text passes
a message's length, and at the end every message shows its part of the full text (one left over from a longer
answer is deleted). Only then is the answer sent: its messages' work is closed. The record is saved with the
channel, so a restarted channel finishes what it showed, through the same webhook (only it may edit them).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from typing import Any

from actors.state.discord_text import LIMIT, split_message

EDIT_INTERVAL_S = 1.0  # edits of one message at most this often
STREAMS_CAP = 20  # answers being streamed into one channel at once


@dataclass
class Stream:
    trigger_id: int  # the message the answer follows (a merged turn's last line), as the final `Speak` names it
    user_id: int
    name: str
    display_name: str
    avatar_url: str | None
    created_at: float = 0.0
    text: str = ""
    final: bool = False
    answers: list[int] = field(default_factory=list)  # a merged turn's messages, from the final `Speak`
    hook_id: int = 0  # the webhook its messages were posted through (0: none yet)
    token: str = ""
    messages: list[int] = field(default_factory=list)  # Discord ids of the parts posted so far
    shown: list[str] = field(default_factory=list)  # what each shows
    edited: list[float] = field(default_factory=list)  # when each was last posted or edited
    posting: str = ""  # the text of a post begun when last saved: looked for after a crash
    attempts: int = 0  # failed tries of the current step

    @property
    def answered(self) -> list[int]:
        return list(self.answers) or [self.trigger_id]

    def __repr__(self) -> str:  # the text is a user's conversation, the token a secret
        return f"Stream({self.trigger_id}, {len(self.text)} chars, final={self.final}, messages={self.messages})"


@dataclass(frozen=True)
class Post:
    index: int
    text: str


@dataclass(frozen=True)
class Edit:
    index: int
    text: str


@dataclass(frozen=True)
class Remove:
    index: int


@dataclass(frozen=True)
class Finished:
    """Every message shows its part of the final text."""


Step = Post | Edit | Remove | Finished


def next_step(stream: Stream, now: float, limit: int = LIMIT) -> Step | float | None:
    """What to do next for `stream`: a step, or the seconds until an edit is allowed, or None (nothing until more
    text comes). Parts already shown are brought up to date before a new one is posted; the newest part is edited
    at most once every EDIT_INTERVAL_S; a finished part is posted at once."""
    parts = split_message(stream.text, limit)
    pause: float | None = None
    for index, part in enumerate(parts[: len(stream.messages)]):
        if stream.shown[index] != part:
            wait = stream.edited[index] + EDIT_INTERVAL_S - now
            if wait <= 0:
                return Edit(index, part)
            pause = wait if pause is None else min(pause, wait)
    if len(parts) > len(stream.messages):
        return Post(len(stream.messages), parts[len(stream.messages)])
    if pause is not None:
        return pause
    if not stream.final:
        return None
    if len(stream.messages) > len(parts):
        return Remove(len(stream.messages) - 1)
    return Finished()


def posted(stream: Stream, text: str, message_id: int, now: float) -> None:
    stream.messages.append(message_id)
    stream.shown.append(text)
    stream.edited.append(now)
    stream.posting, stream.attempts = "", 0


def edited(stream: Stream, index: int, text: str, now: float) -> None:
    stream.shown[index], stream.edited[index], stream.attempts = text, now, 0


def removed(stream: Stream, index: int) -> None:
    for column in (stream.messages, stream.shown, stream.edited):
        del column[index]
    stream.attempts = 0


class Streams(OrderedDict[int, Stream]):
    """The answers being streamed into one channel, by trigger id (at most STREAMS_CAP)."""

    def due(self, now: float, limit: int = LIMIT) -> tuple[Stream, Step] | float | None:
        """The first stream with a step to take, else the seconds until one may edit, else None."""
        pause: float | None = None
        for stream in self.values():
            step = next_step(stream, now, limit)
            if isinstance(step, float):
                pause = step if pause is None else min(pause, step)
            elif step is not None:
                return stream, step
        return pause

    def snapshot(self) -> list[dict[str, Any]]:
        return [asdict(s) for s in self.values()]

    @classmethod
    def restore(cls, rows: list[dict[str, Any]] | None) -> Streams:
        return cls((int(row["trigger_id"]), Stream(**row)) for row in rows or [])
