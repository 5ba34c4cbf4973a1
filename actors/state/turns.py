"""Which of a user's waiting lines make one turn: the run at the head of the inbox that addresses the same
personality in the same channel, at most TURN_LINES lines and TURN_CHARS characters, answered once together."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from actors.messages import Heard
from actors.state.addressing import Target

TURN_LINES = 8  # lines merged into one turn at most; the next line starts a new turn
TURN_CHARS = 4_000  # characters of one turn's lines (its first line is always taken whole)


def turn_of(inbox: Sequence[Heard], names: Iterable[str], expected: Mapping[int, float],
            joins: Callable[[Heard], Target | None], now: float) -> list[Heard]:
    """The lines of the turn at the head of `inbox`, in the order sent. A line joins when `joins` finds it
    addressed to one of `names` (lower-cased) in the head's channel, within the bounds, with no earlier
    message of ours (`expected`: asked for again, until when) still on its way between them."""
    if not inbox:
        return []
    names = set(names)
    head = inbox[0].incoming
    lines, chars = [inbox[0]], len(head.content)
    for heard in list(inbox)[1:TURN_LINES]:
        msg = heard.incoming
        chars += len(msg.content)
        if chars > TURN_CHARS or msg.place.channel_id != head.place.channel_id:
            break
        if any(head.message_id < m < msg.message_id for m, until in expected.items() if until > now):
            break
        target = joins(heard)
        if target is None or target.name.lower() not in names:
            break
        lines.append(heard)
    return sorted(lines, key=lambda h: h.incoming.message_id)  # the head may have come after lines sent before it
