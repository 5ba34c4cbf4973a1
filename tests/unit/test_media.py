"""What a message brings besides its words (pure): voice messages heard through the user's actor, text files,
linked messages and the replied-to message's images in the model's line, and small print for what was left out."""

from __future__ import annotations

from dataclasses import replace

from actors.effects import Done
from actors.messages import Author, Incoming, Place
from actors.state import media
from actors.state.proxies import incoming_from, incoming_to
from tests.unit.test_user_flow import ALICE, Said, World

VOICE = "https://cdn.example/attachments/1/2/voice.ogg"
PLACE = Place(10, "text", 1, name="general", guild_name="Sandbox")


def msg(**fields: object) -> Incoming:
    return replace(Incoming(5, PLACE, Author(ALICE, "alice"), "hi"), **fields)  # type: ignore[arg-type]


def test_the_model_reads_transcripts_files_and_linked_messages_after_the_words() -> None:
    m = msg(audio=(VOICE,), files=(("notes.txt", "buy milk"),), linked=("Bob: the plan is at noon",))
    text = media.extra_text(m, ((VOICE, True, "hello from my phone"),))
    assert text.splitlines() == ['(voice message: "hello from my phone")', "(attached file notes.txt:", "buy milk",
                                 ")", "(linked message from Bob: the plan is at noon)"]
    assert media.extra_text(m, ((VOICE, False, "too big"),)).startswith("(attached file")  # unheard: left out


def test_what_could_not_be_used_is_told_in_small_print_once() -> None:
    lines = [msg(notes=("I can't read a.pdf.",), attachments=("img",)), msg(notes=("I can't read a.pdf.",))]
    said = media.notes(lines, ((VOICE, False, "it is larger than 8 MB"),), vision=False, display_name="Lilith")
    assert said.splitlines() == ["-# I can't read a.pdf.", "-# I couldn't transcribe a voice message: it is "
                                 "larger than 8 MB.", "-# Lilith can't see images (its owner can turn on `vision`)."]
    assert media.notes([msg(reply_images=("x",))], (), vision=True, display_name="Lilith") == ""


def test_a_vision_model_sees_the_lines_images_then_the_replied_to_messages() -> None:
    assert media.images(msg(attachments=("a", "b"), reply_images=("c", "d", "e"))) == ("a", "b", "c", "d")


def test_at_most_three_voice_messages_a_turn_are_transcribed_and_none_twice() -> None:
    lines = [msg(audio=(f"u{i}", f"v{i}")) for i in range(3)]
    assert media.pending_audio(lines, ()) == ("u0", "v0", "u1")
    assert media.pending_audio(lines, (("u0", True, "x"),)) == ("v0", "u1")
    assert "Only the first 3" in media.notes(lines, (), vision=True, display_name="L")


def test_the_new_fields_survive_the_work_table_and_the_inbox() -> None:
    m = msg(audio=(VOICE,), reply_images=("i",), files=(("n.txt", "t"),), linked=("B: x",), notes=("n",))
    assert incoming_from(incoming_to(m)) == m


def test_a_voice_message_is_transcribed_then_answered_as_text() -> None:
    w = World(hold_ai=True)
    w.personality("bob")
    trigger = w.send(ALICE, "@bob listen to this", audio=(VOICE,))
    [(uid, hear)] = w.held
    assert (hear.method, hear.args) == ("transcribe", ((VOICE,), None))  # the user's own key when set: none here
    w.held.clear()
    w.handle("user", uid, Done(hear.tag, [(VOICE, True, "the cat sat on the mat")]))
    w.settle()
    [(_, ask)] = w.held
    assert ask.method == "complete"
    assert ask.args[0]["messages"][-1]["content"].endswith('listen to this\n(voice message: "the cat sat on the mat")')
    w.release_all()
    [speak] = w.speaks(ALICE)
    assert speak.trigger_id == trigger and speak.text == "fine"  # nothing left out: no small print
    history = next(iter(w.user(ALICE).histories.values()))
    assert "the cat sat on the mat" in history[0]["content"]  # remembered as what was said


def test_a_voice_message_that_cannot_be_heard_is_said_so_above_the_answer() -> None:
    w = World(hold_ai=True)
    w.personality("bob")
    w.send(ALICE, "@bob hear me", audio=(VOICE,))
    [(uid, hear)] = w.held
    w.held.clear()
    w.handle("user", uid, Done(hear.tag, RuntimeError("down")))
    w.settle()
    w.script.append(Said("I heard nothing."))
    w.release_all()
    [speak] = w.speaks(ALICE)
    assert speak.text == "-# I couldn't transcribe a voice message: the transcription failed.\nI heard nothing."
