"""Streamed answers in a channel: merging the text so far into webhook messages and their edits (pure).

The channel's actor in the tests' world, with a fake Discord that also edits and deletes webhook messages: what
users would see is each message's content over time."""

from __future__ import annotations

from typing import Any

import pytest

from actors.effects import Done, WorkDone
from actors.messages import Speak, SpeakPart
from actors.results import Fail, Ok, StreamProgress, Wait
from actors.state.discord_text import LIMIT
from actors.state.streams import EDIT_INTERVAL_S, Edit, Finished, Post, Remove, Stream, next_step, posted
from testkit.world import HOLD
from tests.unit.test_channel_pool import ALICE, BOB, CID, NOW, FakeDiscord, Posted, channel, ours, sentences
from tests.unit.test_user_flow import ALICE as USER
from tests.unit.test_user_flow import Said, World

TRIGGER = 1_200_000_000_000_000_777  # before the fake Discord's message ids, as a trigger is


class EditingDiscord(FakeDiscord):
    """Also edits and deletes a webhook's own messages (only through the webhook that posted them)."""

    def _edit_webhook_message(self, hook_id: int, token: str, mid: int, payload: dict[str, Any], thread: Any) -> Any:
        at = next((i for i, p in enumerate(self.posted) if p.message_id == mid), None)
        if at is None or self.posted[at].webhook_id != hook_id:
            return Fail(404, 10008, "Unknown Message")
        content = payload["content"]
        if not content or len(content) > LIMIT:
            return Fail(400, 50035, "Invalid Form Body")
        old = self.posted[at]
        self.posted[at] = Posted(old.channel_id, content, mid, old.webhook_id, old.username, old.avatar_url)
        return Ok(200, {"id": str(mid), "content": content})

    def _delete_webhook_message(self, hook_id: int, token: str, mid: int, thread: Any) -> Any:
        self.posted = [p for p in self.posted if p.message_id != mid]
        return Ok(204, None)

    def contents(self) -> list[str]:
        return [p.content for p in self.posted]

    def edits(self) -> int:
        return self.methods().count("edit_webhook_message")


def part(text: str, trigger: int = TRIGGER) -> SpeakPart:
    return SpeakPart(CID, ALICE, BOB, text, trigger, NOW - 1)


def final(text: str, trigger: int = TRIGGER, answers: tuple[int, ...] = ()) -> Speak:
    return Speak(CID, ALICE, BOB, text, trigger, NOW - 1, answers)


def streaming() -> Any:
    return channel(discord=EditingDiscord({CID: [ours(7001)]}))


def work_done(d: Any) -> list[WorkDone]:
    return [e for e in d.effects if isinstance(e, WorkDone)]


# ---- the plan, pure --------------------------------------------------------------------------------------


def fresh(text: str, final: bool = False) -> Stream:
    return Stream(TRIGGER, ALICE, "bob", "Bob", None, text=text, final=final)


def test_the_first_text_is_posted_then_edited_at_most_once_a_second() -> None:
    s = fresh("Hel")
    assert next_step(s, NOW) == Post(0, "Hel")
    posted(s, "Hel", 1, NOW)
    s.text = "Hello th"
    assert next_step(s, NOW + 0.4) == pytest.approx(EDIT_INTERVAL_S - 0.4, abs=1e-3)  # seconds until an edit
    assert next_step(s, NOW + 1.0) == Edit(0, "Hello th")


def test_past_2000_characters_a_new_message_is_posted_and_the_first_gets_its_final_part() -> None:
    text = sentences(2600)
    s = fresh(text[:1500])
    posted(s, text[:1500], 1, NOW)
    s.text = text
    step = next_step(s, NOW + 0.2)
    assert isinstance(step, Post) and step.index == 1  # the next part goes at once, the first's edit waits
    posted(s, step.text, 2, NOW + 0.2)
    edit = next_step(s, NOW + 1.0)
    assert isinstance(edit, Edit) and edit.index == 0 and len(edit.text) <= LIMIT
    assert edit.text + " " + s.shown[1] == text


def test_a_final_text_shorter_than_what_was_shown_removes_the_extra_message_then_is_finished() -> None:
    s = fresh("x " * 1500)
    for i, t in enumerate(["x " * 900, "y " * 500]):
        posted(s, t.strip(), i + 1, NOW)
    s.text, s.final = "Short now.", True
    assert next_step(s, NOW + 2) == Edit(0, "Short now.")
    s.shown[0] = "Short now."
    assert next_step(s, NOW + 2) == Remove(1)
    del s.messages[1], s.shown[1], s.edited[1]
    assert next_step(s, NOW + 2) == Finished()
    assert next_step(fresh("Growing"), NOW) == Post(0, "Growing")
    waiting = fresh("Same")
    posted(waiting, "Same", 1, NOW)
    assert next_step(waiting, NOW + 5) is None  # nothing new and not final: wait for more text


# ---- the channel -----------------------------------------------------------------------------------------


def test_an_answer_appears_early_is_edited_as_it_grows_and_is_finished_with_the_full_text() -> None:
    d = streaming()
    d.deliver(part("Once upon"))
    assert d.discord.contents() == ["Once upon"] and work_done(d) == []  # shown, but not yet answered
    d.now += 0.3
    d.deliver(part("Once upon a time"))
    assert d.discord.edits() == 0 and d.timers("stream")  # paced: one edit a second per message
    d.fire("stream")
    assert d.discord.contents() == ["Once upon a time"] and d.discord.edits() == 1
    d.now += 0.2
    d.deliver(final("Once upon a time, the end."))
    d.fire("stream")
    assert d.discord.contents() == ["Once upon a time, the end."]
    mid = d.discord.posted[0].message_id
    assert work_done(d) == [WorkDone(TRIGGER, mid)]
    assert d.state.sent.get(mid) == "bob"  # replies to it reach the personality
    d.deliver(final("Once upon a time, the end."), part("late"))  # said again, or a late part: nothing changes
    assert d.discord.contents() == ["Once upon a time, the end."] and d.discord.edits() == 2
    assert not d.state.sender.streams


def test_a_long_streamed_answer_is_split_into_messages_of_at_most_2000() -> None:
    d = streaming()
    text = sentences(4500)
    for n in (800, 2300, 4100):
        d.deliver(part(text[:n]))
        d.now += 1.0
        for _ in range(3):
            if d.timers("stream"):
                d.fire("stream")
    d.deliver(final(text))
    while d.timers("stream"):
        d.fire("stream")
    contents = d.discord.contents()
    assert len(contents) == 3 and all(len(c) <= LIMIT for c in contents)
    assert " ".join(contents) == text


def test_a_merged_turns_streamed_answer_closes_every_line() -> None:
    d = streaming()
    d.deliver(part("Both"), final("Both lines answered.", answers=(TRIGGER - 5, TRIGGER)))
    d.fire("stream")
    mid = d.discord.posted[0].message_id
    assert work_done(d) == [WorkDone(TRIGGER - 5, mid), WorkDone(TRIGGER, mid)]


def test_a_channel_killed_after_posting_a_part_finds_it_and_never_posts_it_twice() -> None:
    discord = EditingDiscord({CID: [ours(7001)]})
    discord.then("execute_webhook", lambda call: (discord.healthy(call), HOLD)[1])  # posted; then the process died
    d = channel(discord=discord)
    d.deliver(part("Half an ans"))
    assert discord.contents() == ["Half an ans"]
    again = d.restart()
    again.start()
    assert discord.contents() == ["Half an ans"]  # found, not posted again
    again.deliver(final("Half an answer, and the rest."))
    again.now += EDIT_INTERVAL_S
    while again.timers("stream"):
        again.fire("stream")
    assert discord.contents() == ["Half an answer, and the rest."]
    assert [w.trigger_id for w in work_done(again)] == [TRIGGER]


def test_a_restarted_channel_finishes_the_answer_it_was_showing() -> None:
    d = streaming()
    d.deliver(part("Still writ"))
    again = d.restart()
    again.start()
    again.now += 2
    again.deliver(final("Still writing, now done."))
    assert d.discord.contents() == ["Still writing, now done."]


def test_where_personalities_speak_as_the_bot_parts_are_ignored_and_the_answer_comes_whole() -> None:
    d = channel(discord=EditingDiscord().then("list_webhooks", Fail(403, 50013, "Missing Permissions")))
    d.deliver(final("warm up", trigger=TRIGGER - 1))  # learns there are no webhooks here
    d.deliver(part("Par"), final("Partial no more."))
    assert [c for c in d.discord.contents() if "Bob" in c][-1] == "**Bob:** Partial no more."
    assert d.discord.edits() == 0


def test_streams_are_bounded_and_saved_with_the_channel() -> None:
    d = streaming()
    d.deliver(*(part("x", TRIGGER + i) for i in range(25)))
    assert len(d.state.sender.streams) == 20 and d.logs(event="streams_full")
    again = d.restart()
    assert sorted(again.state.sender.streams) == [TRIGGER + i for i in range(20)]
    assert [s.text for s in again.state.sender.streams.values()] == ["x"] * 20


# ---- the user's side: the text so far handed on while the call runs ----------------------------------------


def streaming_world() -> Any:
    w = World(hold_ai=True)
    w.options.streaming = True
    w.personality("bob")
    return w


def test_a_streamed_call_hands_its_text_so_far_to_the_channel_then_speaks_the_whole_answer() -> None:

    w = streaming_world()
    trigger = w.send(USER, "@bob tell me a story")
    [(uid, call)] = w.held
    assert (call.method, call.tag) == ("stream", ("streamed", trigger))
    w.held.clear()
    for text in ("Once", "Once", "Once upon"):  # an unchanged text is not handed on again
        w.now += 1.0
        w.handle("user", uid, Done(("streamed", trigger), StreamProgress(text, False)))
        w.settle()
        w.fire(("stream", trigger))
        [(_, poll)] = w.held
        assert poll.method == "progress" and poll.args == (trigger, 1.0)
        w.held.clear()
    late = w.send(USER, "@bob and then?")  # a line while part of the answer is shown: the next turn
    w.now += 1.0
    whole = "Once upon a time."
    w.handle("user", uid, Done(("streamed", trigger), StreamProgress(whole, True, Said(whole))))
    w.settle()
    parts = [b for b in w.channels if isinstance(b, SpeakPart)]
    assert [p.text for p in parts] == ["Once", "Once upon"] and {p.trigger_id for p in parts} == {trigger}
    [speak] = w.speaks(USER)
    assert (speak.text, speak.trigger_id, speak.answered) == ("Once upon a time.", trigger, (trigger,))
    [(_, nxt)] = w.held  # the line sent meanwhile is its own turn, asked now
    assert nxt.method == "stream" and nxt.args[2] == late


def test_with_streaming_off_the_call_is_made_whole() -> None:
    w = World(hold_ai=True)
    w.personality("bob")
    w.send(USER, "@bob hi")
    assert [c.method for _, c in w.held] == ["complete"]


def test_an_answer_asked_again_with_more_lines_finishes_the_message_already_shown() -> None:
    d = streaming()
    d.deliver(part("First ans"))  # the user's actor died; asked again, the turn now ends on a later line
    d.now += 2
    d.deliver(SpeakPart(CID, ALICE, BOB, "Both lines so", TRIGGER + 9, NOW, (TRIGGER, TRIGGER + 9)))
    d.now += 2
    d.deliver(final("Both lines so far, whole.", TRIGGER + 9, (TRIGGER, TRIGGER + 9)))
    assert d.discord.contents() == ["Both lines so far, whole."]
    mid = d.discord.posted[0].message_id
    assert work_done(d) == [WorkDone(TRIGGER, mid), WorkDone(TRIGGER + 9, mid)]


def test_an_edit_told_to_wait_is_made_when_the_wait_is_over() -> None:
    d = streaming()
    d.discord.then("edit_webhook_message", Wait(2.5, "user"))
    d.deliver(part("Wait"))
    d.now += 1.0
    d.deliver(part("Wait for it"))
    assert d.discord.contents() == ["Wait"] and d.timers("pump")  # Discord said not now: nothing lost
    d.fire("pump")
    assert d.discord.contents() == ["Wait for it"]
    d.deliver(final("Wait for it, done."))
    while d.timers("stream"):
        d.fire("stream")
    assert d.discord.contents() == ["Wait for it, done."] and len(work_done(d)) == 1


def test_an_answer_whose_webhook_was_deleted_mid_stream_is_finished_in_a_new_message() -> None:
    d = streaming()
    d.deliver(part("Before the"))
    d.discord.delete_webhook(7001)  # an admin deleted it: its message stays as it was
    d.state.sender.hooks_known = False
    d.now += 1.0
    d.deliver(final("Before the webhook went, and after."))
    while d.timers("stream") or d.timers("pump"):
        d.fire("stream" if d.timers("stream") else "pump")
    assert d.discord.contents()[-1] == "Before the webhook went, and after."
    assert d.logs(event="stream_orphaned") and len(work_done(d)) == 1
