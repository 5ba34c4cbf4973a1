"""Media end to end: a voice message is transcribed and answered as text, a text file and a linked message are
read, the replied-to message's image reaches a personality with vision, and whatever cannot be used is said."""

from __future__ import annotations

from typing import Any

import pytest

from testkit.process import wait_for


def answer_to(sb: Any, channel: int, asked: int, *texts: str, speaker: str = "Lilith") -> str:
    """The personality's answer to message `asked`, once it holds every one of `texts`."""
    def found() -> list[str]:
        return [m["content"] for m in sb.replies(channel, asked)
                if m["author"]["username"] == speaker and all(t in m["content"] for t in texts)]
    return wait_for(found, 20, what=f"{speaker}'s answer with {texts}")[0]


def guild_of(sb: Any, name: str) -> int:
    return next(int(g["id"]) for g in sb.state["guilds"] if any(c["name"] == name for c in g["channels"]))


@pytest.mark.slow
def test_voice_files_links_and_images_reach_the_personality_and_what_cannot_is_said(make_stack) -> None:
    stack = make_stack(env={"TZUROT_STREAMING": "0"})
    sb = stack.sandbox
    general, lounge = sb.channel("general"), sb.channel("lounge")
    sb.command(general, "alice", "!tz add lilith", "Added")

    voice = sb.post(general, "alice", "@lilith listen", attachments=[
        {"filename": "voice-message.ogg", "content": "SAY:the cat sat on the mat", "content_type": "audio/ogg"}])
    answer_to(sb, general, voice, 'listen\n(voice message: "the cat sat on the mat")')

    files = sb.post(general, "alice", "@lilith read these", attachments=[
        {"filename": "notes.txt", "content": "buy oat milk", "content_type": "text/plain"},
        {"filename": "scan.bin", "content": "\x01\x02", "content_type": "application/octet-stream"}])
    said = answer_to(sb, general, files, "(attached file notes.txt:\nbuy oat milk\n)")
    assert said.startswith("-# I can't read scan.bin (application/octet-stream)")  # told, never dropped

    secret = sb.post(lounge, "bob", "the picnic moved to noon")
    link = f"https://discord.com/channels/{guild_of(sb, 'lounge')}/{lounge}/{secret}"
    nowhere = f"https://discord.com/channels/{guild_of(sb, 'lounge')}/123456789012345678/{secret}"
    linked = sb.post(general, "alice", f"@lilith see {link} and {nowhere}")
    said = answer_to(sb, general, linked, "(linked message from bob: the picnic moved to noon)")
    assert "-# I can't read a message you linked: I'm not in that channel." in said

    picture = sb.post(general, "bob", "look", attachments=[
        {"filename": "cat.png", "content": "not really a png", "content_type": "image/png"}])
    blind = sb.post(general, "alice", "@lilith what is this?", reply_to=picture)
    said = answer_to(sb, general, blind, "what is this?")
    assert "-# Lilith can't see images (its owner can turn on `vision`)." in said and "[images:" not in said
    sb.command(general, "alice", "!tz add seer", "Added")
    sb.command(general, "alice", "!tz config seer vision on", "vision")
    seeing = sb.post(general, "alice", "@seer and now?", reply_to=picture)
    said = answer_to(sb, general, seeing, "and now? [images: 1]", speaker="Seer")
    assert "-#" not in said
