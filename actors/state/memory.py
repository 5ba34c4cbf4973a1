"""Long-term memory as a user's actor sees it: what an exchange is remembered as, how remembered exchanges are
told to the model, and the `memory` command. The rows live in the store (`store/memories.py`), reached through
the actor's "memory" service; this part only decides (pure: `Call`s out, `Done`s back).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from actors.effects import Call, Effect, Log, Save
from actors.messages import Heard
from actors.state.voice import Voice

RECALL = 4  # memories looked for before each turn
RECALL_CHARS = 2_000  # and at most this much of them in the prompt
SIDE_CHARS = 500  # each side of an exchange, as remembered
LIST_SHOWN = 15  # `memory list`
LIST_CHARS = 160  # of each memory in the list


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def exchange(user_label: str, said: list[str], speaker: str, answer: str) -> str:
    """One answered turn as it is remembered: what the user said, what the personality answered."""
    return f"{user_label}: {_cut(' / '.join(said), SIDE_CHARS)}\n{speaker}: {_cut(answer, SIDE_CHARS)}"


def recall_message(found: Any, user_label: str) -> dict[str, str] | None:
    """The memories found for a turn, as a system message for the model (None when there are none)."""
    if not isinstance(found, list | tuple) or not found:
        return None
    lines, total = [], 0
    for _mid, text, created in found:
        day = datetime.fromtimestamp(float(created), UTC).strftime("%Y-%m-%d")
        line = f"- [{day}] {text}"
        if total + len(line) > RECALL_CHARS:
            break
        lines.append(line)
        total += len(line)
    if not lines:
        return None
    return {"role": "system", "content": f"From your earlier conversations with {user_label} (most relevant "
                                         "first; use them only if they help):\n" + "\n".join(lines)}


@dataclass
class Remembered:
    """Where a user's memories with each personality were made, so that a turn looks in long-term memory only when
    it can find something the prompt does not already hold: while every memory with a personality is one of the
    newest exchanges of the very conversation being continued, the lookup (an `/embeddings` call and a search)
    could only find those, and is skipped. Conservative: anything unsure means "look"."""

    known: bool = True  # False: memories may exist that this record never saw (a row from before it was kept)
    # personality -> [conversation key ("channel:name"), how many memories], or None: made elsewhere too
    made_in: dict[str, list[Any] | None] = field(default_factory=dict)

    def must_look(self, personality: str, conversation: str, history: list[dict[str, Any]]) -> bool:
        if not self.known:
            return True
        if personality not in self.made_in:
            return False  # nothing remembered with this personality
        entry = self.made_in[personality]
        exchanges = sum(1 for turn in history if turn.get("role") == "assistant")
        return entry is None or entry[0] != conversation or entry[1] > exchanges

    def exchanged(self, personality: str, conversation: str, remembered: bool) -> None:
        """An answered exchange, added to `conversation`'s history, and to memory when `remembered`."""
        if not self.known or (personality in self.made_in and self.made_in[personality] is None):
            return
        entry = self.made_in.get(personality)
        if entry is None:
            if remembered:
                self.made_in[personality] = [conversation, 1]
        elif remembered and entry[0] == conversation:
            entry[1] += 1
        else:  # remembered elsewhere, or an exchange that is not: the memories are no longer the newest here
            self.made_in[personality] = None

    def forgot_all(self) -> None:
        self.known, self.made_in = True, {}

    def snapshot(self) -> dict[str, Any]:
        return {"known": self.known, "made_in": self.made_in}

    @classmethod
    def restore(cls, data: Any) -> Remembered:
        """From a user's row; a row without it may come with memories this never saw."""
        if not isinstance(data, dict):
            return cls(known=False)
        made_in = dict(data.get("made_in", {}))
        return cls(bool(data.get("known", False)),
                   {str(p): None if e is None else [str(e[0]), int(e[1])] for p, e in made_in.items()})


@dataclass(frozen=True)
class MemoryCommands:
    """`memory list`, `memory forget <id>|all`, `memory on|off`, over the profile's switch (`profile.memory`)."""

    voice: Voice
    profile: Any  # user_commands.Profile

    def command(self, args: tuple[str, ...], heard: Heard) -> list[Effect]:
        action, uid = args[0] if args else "list", self.voice.user_id
        if action in ("on", "off"):
            self.profile.memory = action == "on"
            said = ("Memory is on: what you and a personality say to each other is remembered, and recalled when it "
                    "is relevant." if self.profile.memory else "Memory is off: nothing new is remembered, and "
                    "nothing is recalled. What was remembered stays until you `memory forget all`.")
            return [Save(), self.voice.notify(heard, said)]
        if action == "list":
            return [Call("memory", "list", (uid, LIST_SHOWN), ("memory", "list", heard))]
        target = None if args[1] == "all" else int(args[1])
        return [Call("memory", "forget", (uid, target), ("memory", "forget", heard, target))]

    def done(self, tag: tuple[Any, ...], result: Any) -> list[Effect]:
        if tag[1] == "added":
            if isinstance(result, BaseException):
                return [Log("warning", "memory_failed", f"not remembered: {type(result).__name__}", self.voice.user_id)]
            return []
        heard = tag[2]
        if isinstance(result, BaseException):
            return [self.voice.notify(heard, "I couldn't reach your memories just now; nothing changed. Try again "
                                             "in a moment.")]
        if tag[1] == "list":
            state = "on" if self.profile.memory else "off"
            if not result:
                return [self.voice.notify(heard, f"I remember nothing of yours (memory is {state}).")]
            p = self.voice.options.prefix
            lines = [f"`{m['id']}` **{m['personality']}** {_when(m['created'])}: {_cut(m['text'], LIST_CHARS)}"
                     for m in result]
            return [self.voice.notify(heard, f"Your newest memories (memory is {state}; `{p}memory forget <id>` "
                                             f"or `{p}memory forget all` erases them):\n" + "\n".join(lines))]
        target, count = tag[3], int(result)
        if target is None:
            self.profile.remembered.forgot_all()
            return [Save(), self.voice.notify(heard, f"Forgot all of your memories ({count}).")]
        if count == 0:
            return [self.voice.notify(heard, f"You have no memory `{target}`; `memory list` shows their ids.")]
        return [self.voice.notify(heard, f"Forgot memory `{target}`.")]


def _when(at: Any) -> str:
    return datetime.fromtimestamp(float(at), UTC).strftime("%Y-%m-%d")
