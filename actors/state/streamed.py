"""A user's actor asking for a streamed answer (TZUROT_STREAMING), apart from answering.py's turn logic (pure).

The call runs beside the actor (`ai/streaming.py`); the actor reads its text so far every STREAM_WAIT_S, hands
it to the channel as a `SpeakPart` when it grew, and goes back to its mailbox (what it tells leaves only between
messages) before reading again. The final `Speak` is answering.py's, as for a whole answer.
"""

from __future__ import annotations

from typing import Any

from actors.effects import Call, Effect, Tell, Timer
from actors.kinds import Kind
from actors.messages import SpeakPart
from actors.results import StreamProgress

STREAM_WAIT_S = 1.0  # a streamed call's text so far is handed to the channel this often (its edits' pace)


def ask(job: Any, streaming: bool) -> Call:
    """The call for the turn `job`: whole, or streamed (its text read back every STREAM_WAIT_S)."""
    if streaming:
        args = (job.request, job.sealed_key, job.trigger, STREAM_WAIT_S)
        return Call("ai", "stream", args, ("streamed", job.trigger))
    return Call("ai", "complete", (job.request, job.sealed_key), ("ai", job.trigger))


def read_again(trigger: int) -> Call:
    return Call("ai", "progress", (trigger, STREAM_WAIT_S), ("streamed", trigger))


def hand_on(job: Any, user_id: int, progress: StreamProgress) -> tuple[list[Effect], str]:
    """The effects for a streamed call's text so far, and the text now shown: the part for the channel when the
    text grew (under the final `Speak`'s trigger, the turn's last line), then back to the mailbox."""
    effects: list[Effect] = [Timer(0.0, ("stream", job.trigger))]
    if not progress.text.strip() or progress.text == job.shown:
        return effects, job.shown
    lines = tuple(h.incoming.message_id for h in job.lines)
    part = SpeakPart(job.cid, user_id, job.persona, job.notes + progress.text, lines[-1],
                     job.heard.incoming.created_at, lines)
    return [Tell(Kind.CHANNEL, job.cid, part), *effects], progress.text
