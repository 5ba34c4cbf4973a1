"""What the edge reads of a conversation message besides its words (edge/media.py), on stand-ins for discord.py's
attachments: audio goes on by URL, text files are read up to their bounds, anything else gets a note."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from edge.media import FILE_CHARS, TEXT_FILE_BYTES, TEXT_FILES, media_of


@dataclass
class Attached:
    filename: str
    content_type: str | None
    data: bytes = b""
    voice: bool = False

    @property
    def url(self) -> str:
        return f"https://cdn.example/{self.filename}"

    @property
    def size(self) -> int:
        return len(self.data)

    def is_voice_message(self) -> bool:
        return self.voice

    async def read(self) -> bytes:
        return self.data


def read(*attachments: Attached, content: str = "hi", resolved: Any = None) -> Any:
    message = SimpleNamespace(attachments=list(attachments), content=content)
    return asyncio.run(media_of(SimpleNamespace(), message, resolved))  # type: ignore[arg-type]


def test_voice_messages_go_on_by_url_and_text_files_are_read() -> None:
    found = read(Attached("voice-message.ogg", "audio/ogg", b"x", voice=True), Attached("notes.md", None, b"# hi"),
                 Attached("photo.png", "image/png"))
    assert found.audio == ["https://cdn.example/voice-message.ogg"]
    assert found.files == [("notes.md", "# hi")] and found.notes == []  # the image travels as before


def test_what_cannot_be_read_is_noted_with_the_reason() -> None:
    found = read(Attached("report.pdf", "application/pdf", b"%PDF"), Attached("big.txt", "text/plain",
                 b"x" * (TEXT_FILE_BYTES + 1)), Attached("latin.txt", "text/plain", "caf\xe9".encode("latin-1")),
                 Attached("long.txt", "text/plain", b"y" * (FILE_CHARS + 5)),
                 *(Attached(f"more{i}.txt", "text/plain", b"z") for i in range(3)))
    assert found.notes == [
        "I can't read report.pdf (application/pdf): only text files, images and voice messages are used.",
        f"big.txt is {(TEXT_FILE_BYTES + 1) // 1024} KB; I read files of at most {TEXT_FILE_BYTES // 1024} KB.",
        "latin.txt is not UTF-8 text.",
        f"long.txt is long: I read its first {FILE_CHARS:,} characters.",
        f"I read only the first {TEXT_FILES} text files; more2.txt was left out.",
    ]  # the bound counts the files given to the model, not those that could not be
    assert found.files == [("long.txt", "y" * FILE_CHARS), ("more0.txt", "z"), ("more1.txt", "z")]


def test_the_replied_to_messages_images_come_along() -> None:
    resolved = SimpleNamespace(attachments=[Attached("cat.png", "image/png"), Attached("a.txt", "text/plain")])
    assert read(resolved=resolved).reply_images == ["https://cdn.example/cat.png"]


def test_a_link_out_of_reach_is_noted() -> None:
    client = SimpleNamespace(get_channel=lambda cid: None)
    message = SimpleNamespace(attachments=[], content="see https://discord.com/channels/1/2/3")
    found = asyncio.run(media_of(client, message, None))  # type: ignore[arg-type]
    assert found.linked == [] and found.notes == ["I can't read a message you linked: I'm not in that channel."]
