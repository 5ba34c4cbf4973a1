"""How a state class's effects are performed, apart from what performing each one means.

The Thespian shell (`actors/shell.py`) and the tests' world (`testkit/world.py`) both run a state's effects
through `perform_effects`, each with its own `Hands`: the shell's write to the store and send to other actors,
the world's deliver between pure states in one process. So the order of effects, and a `Call`'s result going
straight back to the state as `Done`, are written once and tested with the shell's own rules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

from actors.effects import (
    Call,
    Count,
    Done,
    Effect,
    Log,
    Observe,
    Push,
    Reply,
    Resume,
    Save,
    SaveRow,
    Tell,
    Timer,
    WorkAck,
    WorkDone,
)


class Hands(Protocol):
    """What each effect does. `call` hands its result to `answer` (at once in the shell; a test may hold it)."""

    def save(self, effect: Save) -> None: ...
    def save_row(self, effect: SaveRow) -> None: ...
    def reply(self, effect: Reply) -> None: ...
    def tell(self, effect: Tell) -> None: ...
    def resume(self, effect: Resume) -> None: ...
    def push(self, effect: Push) -> None: ...
    def timer(self, effect: Timer) -> None: ...
    def call(self, effect: Call, answer: Callable[[Any], None]) -> None: ...
    def work_done(self, effect: WorkDone) -> None: ...
    def work_ack(self, effect: WorkAck) -> None: ...
    def count(self, effect: Count) -> None: ...
    def observe(self, effect: Observe) -> None: ...
    def log(self, effect: Log) -> None: ...


HAND_FOR: dict[type, str] = {
    Save: "save", SaveRow: "save_row", Reply: "reply", Tell: "tell", Resume: "resume", Push: "push",
    Timer: "timer", WorkDone: "work_done", WorkAck: "work_ack", Count: "count", Observe: "observe", Log: "log",
}


def perform_effects(effects: Iterable[Effect], hands: Hands, decide: Callable[[Done], Iterable[Effect]]) -> None:
    """Perform `effects` in order. A `Call`'s result goes back through `decide` (the state's `handle`) as `Done`,
    and what the state decides then is performed before the next effect, as if the call had been a plain step."""
    for effect in effects:
        if isinstance(effect, Call):
            hands.call(effect, lambda result, tag=effect.tag: perform_effects(decide(Done(tag, result)), hands, decide))
        else:
            getattr(hands, HAND_FOR[type(effect)])(effect)
