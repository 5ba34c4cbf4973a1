"""How a state class's effects are performed, apart from what performing each one means.

The Thespian shell (`actors/shell.py`) and the tests' world (`testkit/world.py`) both run a state's effects
through `perform_effects`, each with its own `Hands`: the shell's write to the store and send to other actors,
the world's deliver between pure states in one process. So the order of effects, and a `Call`'s result going
straight back to the state as `Done`, are written once and tested with the shell's own rules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

from actors import effects as fx


class Hands(Protocol):
    """What each effect does. `call` hands its result to `answer` (at once in the shell; a test may hold it)."""

    def save(self, effect: fx.Save) -> None: ...
    def save_row(self, effect: fx.SaveRow) -> None: ...
    def reply(self, effect: fx.Reply) -> None: ...
    def tell(self, effect: fx.Tell) -> None: ...
    def resume(self, effect: fx.Resume) -> None: ...
    def push(self, effect: fx.Push) -> None: ...
    def timer(self, effect: fx.Timer) -> None: ...
    def call(self, effect: fx.Call, answer: Callable[[Any], None]) -> None: ...
    def work_done(self, effect: fx.WorkDone) -> None: ...
    def work_ack(self, effect: fx.WorkAck) -> None: ...
    def count(self, effect: fx.Count) -> None: ...
    def observe(self, effect: fx.Observe) -> None: ...
    def log(self, effect: fx.Log) -> None: ...


HAND_FOR: dict[type, str] = {
    fx.Save: "save", fx.SaveRow: "save_row", fx.Reply: "reply", fx.Tell: "tell", fx.Resume: "resume",
    fx.Push: "push", fx.Timer: "timer", fx.WorkDone: "work_done", fx.WorkAck: "work_ack", fx.Count: "count",
    fx.Observe: "observe", fx.Log: "log",
}


def perform_effects(
    effects: Iterable[fx.Effect], hands: Hands, decide: Callable[[fx.Done], Iterable[fx.Effect]]
) -> None:
    """Perform `effects` in order. A `Call`'s result goes back through `decide` (the state's `handle`) as `Done`,
    and what the state decides then is performed before the next effect, as if the call had been a plain step."""
    for effect in effects:
        if isinstance(effect, fx.Call):
            tag = effect.tag
            hands.call(effect, lambda result, tag=tag: perform_effects(decide(fx.Done(tag, result)), hands, decide))
        else:
            getattr(hands, HAND_FOR[type(effect)])(effect)
