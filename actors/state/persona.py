"""Personas: who the user is, in their own words, told to every personality they talk to (or to one).

Kept in the user's own record (`Profile.personas`: "" for every personality, else a personality's name), so
the user's actor owns it and it costs no lookup: the prompt gets it as a system message (`persona_message`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from actors.effects import Effect, Save
from actors.messages import Heard
from actors.state.voice import Voice

PERSONAS_MAX = 20  # one for every personality, plus up to this many for single ones


def persona_for(personas: dict[str, str], personality: str) -> str:
    """The persona told to `personality`: its own, else the general one, else none."""
    return personas.get(personality.lower()) or personas.get("", "")


def persona_message(personas: dict[str, str], personality: str, user_label: str) -> dict[str, str] | None:
    text = persona_for(personas, personality)
    if not text:
        return None
    return {"role": "system", "content": f"About {user_label}, in their own words: {text}"}


@dataclass(frozen=True)
class PersonaCommands:
    voice: Voice
    profile: Any  # user_commands.Profile

    def command(self, args: tuple[str, ...], heard: Heard) -> list[Effect]:
        action, name = args[0], args[1]
        personas: dict[str, str] = self.profile.personas
        whom = f"**{name}**" if name else "every personality"
        if action == "show":
            text = persona_for(personas, name) if name else personas.get("", "")
            if not text:
                return [self.voice.notify(heard, f"You have no persona for {whom}. `persona set <text>` tells them "
                                                 "who you are.")]
            own = " (the general one)" if name and name not in personas else ""
            return [self.voice.notify(heard, f"Your persona for {whom}{own}:\n>>> {text}")]
        if action == "clear":
            if personas.pop(name, None) is None:
                return [self.voice.notify(heard, f"You had no persona for {whom}.")]
            return [Save(), self.voice.notify(heard, f"Cleared your persona for {whom}.")]
        if name not in personas and len(personas) > PERSONAS_MAX:
            return [self.voice.notify(heard, f"You already have {PERSONAS_MAX} personas for single personalities; "
                                             "clear one first.")]
        personas[name] = args[2]
        return [Save(), self.voice.notify(heard, f"Saved: {whom} now knows who you are. `persona show` shows it, "
                                                 "`persona clear` removes it.")]
