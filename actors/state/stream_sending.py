"""How a channel's sender takes a streamed answer's steps (`streams.py`) through its webhooks, and what Discord's
answers mean for it. Functions over the `WebhookSender` (sending.py), which calls them: its pump gives streams
their turn before the outbox, and hands the results of their calls (tags `spost`, `sedit`, `sdel`, `sverify`)
here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from actors.effects import Call, Effect, Log, Observe, Push, Resume, Save, WorkDone
from actors.messages import Pump, RouteFact, Speak, SpeakPart
from actors.results import Fail, Ok, Wait
from actors.state.discord_text import legal_username
from actors.state.streams import (
    STREAMS_CAP,
    Edit,
    Finished,
    Post,
    Remove,
    Step,
    Stream,
    edited,
    posted,
    removed,
)

if TYPE_CHECKING:
    from actors.state.sending import WebhookSender

STEP_ATTEMPTS = 5


def take(sender: WebhookSender, stream: Stream, step: Step, now: float) -> list[Effect]:
    """The call for one step (the sender is busy until its answer), or, when finished, the answer's close."""
    if isinstance(step, Finished):
        sender.busy = False
        return [*close(sender, stream, now), *sender.pump(now)]
    if stream.messages and (stream.hook_id, stream.token) not in sender.hooks:
        # Its webhook is gone, and with it the only way to edit what it showed: start over in new messages.
        detail = f"answer {stream.trigger_id}: its webhook is gone; {len(stream.messages)} message(s) left as they are"
        stream.messages, stream.shown, stream.edited = [], [], []
        stream.hook_id, stream.token, sender.busy = 0, "", False
        return [Log("warning", "stream_orphaned", detail, stream.user_id, sender.channel_id, stream.trigger_id),
                *sender.pump(now)]
    thread = sender.channel_id if sender._hook_channel != sender.channel_id else None
    trigger = stream.trigger_id
    if isinstance(step, Post):
        if not stream.messages:
            stream.hook_id, stream.token = sender.hooks[sender.next_hook % len(sender.hooks)]
            sender.next_hook += 1
        payload: dict[str, Any] = {"content": step.text, "username": legal_username(stream.display_name)}
        if stream.avatar_url:
            payload["avatar_url"] = stream.avatar_url
        stream.posting, sender.sending = step.text, f"s{trigger}:{step.index}"
        call = Call("discord", "execute_webhook", (stream.hook_id, stream.token, payload, thread),
                    ("spost", trigger, step.index, step.text))
        return [Save(), call]  # noted first: after a crash we look for it before posting it again
    message = stream.messages[step.index]
    if isinstance(step, Edit):
        args = (stream.hook_id, stream.token, message, {"content": step.text}, thread)
        return [Call("discord", "edit_webhook_message", args, ("sedit", trigger, step.index, step.text))]
    assert isinstance(step, Remove)
    args = (stream.hook_id, stream.token, message, thread)
    return [Call("discord", "delete_webhook_message", args, ("sdel", trigger, step.index, ""))]


def close(sender: WebhookSender, stream: Stream, now: float) -> list[Effect]:
    """The answer is whole on Discord: its messages' work is closed, and a repeated `Speak` is known as sent."""
    sender.streams.pop(stream.trigger_id, None)
    first = stream.messages[0] if stream.messages else None
    for index, message in enumerate(stream.messages):
        sender.outbox.done[f"{stream.trigger_id}:{index}"] = message
    detail = f"message {first} (streamed answer {stream.trigger_id}, {len(stream.messages)} message(s))"
    return [Save(), Log("info", "sent", detail, stream.user_id, sender.channel_id, stream.trigger_id),
            *(WorkDone(mid, first) for mid in stream.answered)]


def result(sender: WebhookSender, tag: tuple[Any, ...], answer: Any, now: float) -> list[Effect]:
    """Discord's answer to a stream's call."""
    what, trigger, index, text = tag
    if what == "sverify":
        return _verified(sender, trigger, index, answer, now)
    if what == "spost":
        sender.sending = None
    stream = sender.streams.get(trigger)
    if stream is None:
        return sender._again(now)
    effects: list[Effect] = []
    if isinstance(answer, Ok):
        effects = _applied(sender, stream, what, index, text, answer, now)
    elif isinstance(answer, Wait):
        return sender._retry_later(answer)
    elif isinstance(answer, Fail) and answer.unknown_webhook and what == "spost" and answer.code == 10015:
        sender.hooks = [h for h in sender.hooks if h[0] != stream.hook_id]
        effects = [Push(RouteFact("webhook", stream.hook_id, None))]
        stream.hook_id, stream.token = 0, ""
    else:
        stream.attempts += 1
        if isinstance(answer, Fail) and 400 <= answer.status < 500 or stream.attempts >= STEP_ATTEMPTS:
            effects = _given_up(sender, stream, what, index, text, answer, now)
        else:
            return sender._retry_later(answer, stream.attempts)
    return [Save(), *effects, Resume(Pump(sender.channel_id))]  # busy until the pump: waiting messages first


def _applied(sender: WebhookSender, stream: Stream, what: str, index: int, text: str, answer: Ok,
             now: float) -> list[Effect]:
    if what == "sedit":
        edited(stream, index, text, now)
        return []
    if what == "sdel":
        removed(stream, index)
        return []
    message = int(answer.data["id"]) if isinstance(answer.data, dict) and "id" in answer.data else 0
    posted(stream, text, message, now)
    sender.sent.remember(message, stream.name)  # a reply to a part already shown is for this personality
    if index == 0 and stream.created_at:
        return [Observe("reply_latency_s", max(0.0, now - stream.created_at))]
    return []


def _given_up(sender: WebhookSender, stream: Stream, what: str, index: int, text: str, answer: Any,
              now: float) -> list[Effect]:
    """A step Discord keeps refusing (a message deleted by a moderator, say) is not tried for ever: the message is
    taken as showing its part (an edit), or as gone (a delete); a post that never goes out ends the answer."""
    why = f"{answer.status} {answer.message}" if isinstance(answer, Fail) else type(answer).__name__
    log = Log("error", "stream_step_failed", f"answer {stream.trigger_id}: {what} {index}: {why}"[:300],
              stream.user_id, sender.channel_id, stream.trigger_id)
    if what == "sedit":
        edited(stream, index, text, now)
        return [log]
    if what == "sdel":
        removed(stream, index)
        return [log]
    sender.streams.pop(stream.trigger_id, None)
    return [log, *(WorkDone(mid) for mid in stream.answered if not stream.messages)]


def verify(sender: WebhookSender) -> list[Effect] | None:
    """After a restart: was the post begun when we died made? Look before posting it again (never twice)."""
    if not sender.sending or not sender.sending.startswith("s"):
        return None
    trigger, index = (int(x) for x in sender.sending[1:].split(":"))
    stream = sender.streams.get(trigger)
    if stream is None or not stream.posting or len(stream.messages) != index:
        sender.sending = None
        return None
    sender.busy = True
    args = (sender.channel_id, stream.messages[-1] if stream.messages else trigger, 50)
    return [Call("discord", "channel_messages", args, ("sverify", trigger, index, ""))]


def _verified(sender: WebhookSender, trigger: int, index: int, answer: Any, now: float) -> list[Effect]:
    sender.sending, sender.busy = None, False
    stream = sender.streams.get(trigger)
    if stream is None or len(stream.messages) != index:
        return sender.pump(now)
    for message in answer.data if isinstance(answer, Ok) and isinstance(answer.data, list) else []:
        if str(message.get("webhook_id")) == str(stream.hook_id) and message.get("content") == stream.posting:
            posted(stream, stream.posting, int(message["id"]), now)
            sender.sent.remember(int(message["id"]), stream.name)
            return [Save(), Log("info", "send_verified", f"streamed part {trigger}:{index} had been sent as "
                                f"{message['id']}"), *sender.pump(now)]
    stream.posting = ""
    return [Save(), *sender.pump(now)]


def part(sender: WebhookSender, msg: SpeakPart, now: float) -> list[Effect]:
    """A streamed answer so far: shown (or its message edited) when its turn comes. Ignored where personalities
    speak as the bot (the whole answer comes with `Speak`), and once the answer was sent whole."""
    trigger = msg.trigger_id
    adopt(sender, trigger, msg.answers)
    sent = f"{trigger}:0" in sender.outbox.done or any(c.trigger_id == trigger for q in sender.outbox.queues.values()
                                                       for c in q)
    stream = sender.streams.get(trigger)
    if sender.plain or sent or not msg.text.strip() or (stream is not None and stream.final):
        return []
    if stream is None:
        if len(sender.streams) >= STREAMS_CAP:
            return [Log("warning", "streams_full", f"answer {trigger} shown only when whole", msg.user_id,
                        sender.channel_id, trigger)]
        p = msg.persona
        stream = sender.streams[trigger] = Stream(trigger, msg.user_id, p.name, p.display_name, p.avatar_url,
                                                  msg.created_at)
    stream.text = msg.text
    return [Save(), *sender.pump(now)]


def final(sender: WebhookSender, msg: Speak, now: float) -> list[Effect] | None:
    """The whole answer, for a stream being shown: its messages are finished with it (None: no such stream; the
    outbox sends it). Where personalities now speak as the bot, the stream is dropped and the outbox sends it."""
    stream = adopt(sender, msg.trigger_id, msg.answered)
    if stream is None:
        return None
    if sender.plain:
        del sender.streams[msg.trigger_id]
        return None
    stream.text, stream.final, stream.answers = msg.text, True, list(msg.answers)
    return [Save(), *sender.pump(now)]


def adopt(sender: WebhookSender, trigger: int, answers: tuple[int, ...]) -> Stream | None:
    """The stream of this answer: under its trigger, or one begun for a line it answers (a turn asked again with
    more lines after a restart follows a later line): that one is finished in place, never left half."""
    if trigger in sender.streams:
        return sender.streams[trigger]
    earlier = next((s for s in sender.streams.values() if s.trigger_id in answers and not s.final), None)
    if earlier is None:
        return None
    del sender.streams[earlier.trigger_id]
    earlier.trigger_id = trigger
    sender.streams[trigger] = earlier
    return earlier
