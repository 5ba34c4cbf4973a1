"""What a message brings besides its words (issue 16, item 5), for the model and for the user (pure).

The edge reads what it can at once (text attachments, messages linked in it, the images of the message replied
to) and notes what it cannot use; voice messages and audio attachments are transcribed by the user's actor (a
`Call("ai", "transcribe", ...)`, with the user's own key when set). The model gets all of it in the line's text;
the user is told, in small print above the answer, whatever was left out and why: never a silent drop.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from actors.messages import Incoming

AUDIO_PER_TURN = 3  # voice messages transcribed for one turn
IMAGES_PER_LINE = 4  # what a vision model is shown of one line (its own images first, then the replied-to one's)

Transcript = tuple[str, bool, str]  # (url, heard, the text or why not)


def pending_audio(lines: Iterable[Incoming], done: tuple[Transcript, ...]) -> tuple[str, ...]:
    """The turn's audio not yet transcribed (at most AUDIO_PER_TURN in all)."""
    known = {url for url, _, _ in done}
    urls = [url for msg in lines for url in msg.audio]
    return tuple(url for url in urls[:AUDIO_PER_TURN] if url not in known)


def heard(result: Any, asked: tuple[str, ...]) -> tuple[Transcript, ...]:
    """What `Call("ai", "transcribe")` answered, as transcripts; when the service itself failed, each voice
    message asked about is not heard."""
    if isinstance(result, list):
        return tuple((str(url), bool(ok), str(text)) for url, ok, text in result)
    return tuple((url, False, "the transcription failed") for url in asked)


def extra_text(msg: Incoming, transcripts: tuple[Transcript, ...]) -> str:
    """What the model reads after the line's words: transcripts, text files, linked messages."""
    heard = {url: text for url, ok, text in transcripts if ok}
    parts = [f'(voice message: "{heard[url]}")' for url in msg.audio if url in heard]
    parts += [f"(attached file {name}:\n{text}\n)" for name, text in msg.files]
    parts += [f"(linked message from {quote})" for quote in msg.linked]
    return "\n".join(parts)


def images(msg: Incoming) -> tuple[str, ...]:
    return (*msg.attachments, *msg.reply_images)[:IMAGES_PER_LINE]


def notes(lines: Iterable[Incoming], transcripts: tuple[Transcript, ...], vision: bool, display_name: str) -> str:
    """Small print for the answer: what could not be used, and why ("" when everything was)."""
    lines = list(lines)
    said: list[str] = [note for msg in lines for note in msg.notes]
    said += [f"I couldn't transcribe a voice message: {why}." for _, ok, why in transcripts if not ok]
    audio = [url for msg in lines for url in msg.audio]
    if len(audio) > AUDIO_PER_TURN:
        said.append(f"Only the first {AUDIO_PER_TURN} voice messages were transcribed.")
    if not vision and any(msg.attachments or msg.reply_images for msg in lines):
        said.append(f"{display_name} can't see images (its owner can turn on `vision`).")
    return "".join(f"-# {note}\n" for note in dict.fromkeys(said))
