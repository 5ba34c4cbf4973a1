"""A user's actor after a (re)start: its messages still open in the work table (pure).

The work table holds every message the edge accepted until its answer is sent. After a kill -9 the actor's
queue is what it last saved, so a message it never saved is asked for again from its channel, and one it
answered whose answer never left is said again: nothing accepted is lost, nothing is answered twice.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from actors.effects import SPOKEN_PATIENCE_S, Effect, Tell, Timer, WorkAck, WorkDone
from actors.kinds import Kind
from actors.messages import Speak
from actors.state.proxies import incoming_from

EXPECT_WAIT_S = 5.0  # after a restart, how long newer messages wait for an earlier one asked for again


def say_again(answers: Mapping[int, Speak], mid: int) -> list[Effect]:
    """A message we handled whose record is still open: its answer never reached Discord (lost with a
    process that died). Say the same answer again (the channel sends each chunk once), or close the record
    if it needed none."""
    answer = answers.get(mid)
    if answer is None:
        return [WorkDone(mid)]
    return [Tell(Kind.CHANNEL, answer.channel_id, answer), WorkAck(mid, SPOKEN_PATIENCE_S)]


def asked_again(user_id: int, rows: Any, held: Collection[int], handled: Collection[int],
                answers: Mapping[int, Speak], expected: dict[int, float], now: float) -> list[Effect]:
    """After a start: messages of ours still open in the work table that we do not hold (lost with a killed
    process) are asked for again at once, and nothing newer is answered before them (or before a short wait
    for them runs out: `expected`, filled here), so a user's messages are answered in the order sent, across
    restarts too. One we answered but whose answer was never sent (killed between saving it and telling the
    channel) is said again at once."""
    effects: list[Effect] = []
    for row in rows if isinstance(rows, list) else []:
        try:
            incoming = incoming_from(row)
        except (TypeError, KeyError, ValueError):
            continue
        if incoming.message_id in held or incoming.author.id != user_id:
            continue
        if incoming.message_id in handled:
            effects += say_again(answers, incoming.message_id)
            continue
        expected[incoming.message_id] = now + EXPECT_WAIT_S
        effects.append(Tell(Kind.CHANNEL, incoming.place.channel_id, incoming))
    if expected:
        effects.append(Timer(EXPECT_WAIT_S, ("expected",)))
    return effects
