"""What a pure state class asks its shell to do. The shell performs them in order, after `handle` returns.

`Call` is how a state class uses the outside world (Discord's REST API, the AI backend) without doing I/O:
the shell calls `services[service].method(*args)` and hands the result straight back to the state class as
`Done(tag, result)`, so the decision about what a result means stays in the pure class too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from actors.kinds import Kind


@dataclass(frozen=True)
class Reply:
    """Send `body` to whoever asked (nothing happens for a fire-and-forget message)."""

    body: Any


@dataclass(frozen=True)
class Save:
    """The state changed: write it through to the store before anything else is answered."""


@dataclass(frozen=True)
class SaveRow:
    """For a state kept one row per item (the catalogue: a row per personality): write that item through, or
    delete it (`data` None), so a change costs one small row instead of rewriting everything."""

    key: str
    data: dict[str, Any] | None


@dataclass(frozen=True)
class Tell:
    """Send `body` to the actor for (kind, key), wherever it runs; no answer expected."""

    kind: Kind
    key: int | str
    body: Any


@dataclass(frozen=True)
class Resume:
    """Send `body` to this same actor, behind the messages already in its mailbox (yield, then go on)."""

    body: Any


@dataclass(frozen=True)
class Push:
    """Publish a routing fact to the edge (what it needs to drop chatter before any actor wakes)."""

    fact: Any


@dataclass(frozen=True)
class Timer:
    """Come back with `Wake(payload)` after `delay_s`: how an actor waits without sleeping."""

    delay_s: float
    payload: Any


@dataclass(frozen=True)
class Call:
    """Use a collaborator; its result comes back at once as `Done(tag, result)`."""

    service: str
    method: str
    args: tuple[Any, ...]
    tag: Any

    def __repr__(self) -> str:  # arguments can be a user's key or a webhook's token
        return f"Call({self.service}.{self.method}, args=<{len(self.args)} hidden>, tag={self.tag!r})"


@dataclass(frozen=True)
class Log:
    """A line for the application log, with the ids that let `logs --user/--channel` find it."""

    level: str
    event: str
    detail: str = ""
    user: int | None = None
    channel: int | None = None
    trigger: int | None = None  # the Discord message this line is about


@dataclass(frozen=True)
class WorkDone:
    """The message `trigger_id` has had its answer (`reply_id`) or needs none: its durable record is closed."""

    trigger_id: int
    reply_id: int | None = None


@dataclass(frozen=True)
class WorkAck:
    """The message `trigger_id` is in this actor's hands (durably queued, or being answered): the edge's resend
    sweep must wait for it patiently instead of handing it on again as if it were lost."""

    trigger_id: int
    patience_s: float = 300.0  # longer than a slow answer takes: a slot wait plus the AI's whole timeout


# An answer handed to its channel is sent within seconds. If it is not, the answer was lost with a process that
# died (the channel, or the shard it went through) and the message is handed on again after this long: its
# user's actor says the stored answer again (the channel sends each chunk once). Not 5 minutes of silence.
SPOKEN_PATIENCE_S = 30.0


@dataclass(frozen=True)
class Count:
    """Add to a metric (labels from small fixed sets only: never a user or channel id)."""

    name: str
    labels: tuple[str, ...] = ()
    amount: float = 1.0


@dataclass(frozen=True)
class Observe:
    name: str
    value: float


# Events the shell feeds back into the state class (not messages between actors).
@dataclass(frozen=True)
class Done:
    tag: Any
    result: Any

    def __repr__(self) -> str:  # a result can hold an answer's text
        return f"Done(tag={self.tag!r}, result=<{type(self.result).__name__}>)"


@dataclass(frozen=True)
class Wake:
    payload: Any


Effect = Reply | Save | SaveRow | Tell | Resume | Push | Timer | Call | Log | Count | Observe | WorkDone | WorkAck

