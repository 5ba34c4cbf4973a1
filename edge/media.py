"""What a conversation message brings besides its words, read at the edge (issue 16, item 5): its text
attachments (up to a bound), the messages it links to (only where both its author and the bot may read them),
the images of the message it replies to, and its voice messages and audio files (their URLs: the user's actor
transcribes them). Whatever cannot be used gets a note saying why, which the answer shows: never a silent drop.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import discord

from edge.translate import utf8

TEXT_FILES = 3  # text attachments read from one message
TEXT_FILE_BYTES = 64 * 1024  # each downloaded at most
FILE_CHARS = 8_000  # of each given to the model
LINKS = 3  # linked messages read from one message
LINK_CHARS = 1_000
TEXT_SUFFIXES = (".txt", ".md", ".json", ".csv", ".log", ".py", ".js", ".ts", ".html", ".xml", ".yaml", ".yml",
                 ".toml", ".ini", ".c", ".h", ".cpp", ".rs", ".go", ".java", ".sql", ".sh")
MESSAGE_LINK = re.compile(r"https?://(?:(?:ptb|canary)\.)?discord(?:app)?\.com/channels/(\d+|@me)/(\d+)/(\d+)")


@dataclass
class Media:
    audio: list[str] = field(default_factory=list)
    reply_images: list[str] = field(default_factory=list)
    files: list[tuple[str, str]] = field(default_factory=list)
    linked: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def fields(self) -> dict[str, Any]:
        """As `Incoming`'s fields."""
        return {"audio": tuple(self.audio), "reply_images": tuple(self.reply_images), "files": tuple(self.files),
                "linked": tuple(self.linked), "notes": tuple(self.notes)}


def is_audio(attachment: discord.Attachment) -> bool:
    return (attachment.content_type or "").startswith("audio/") or attachment.is_voice_message()


def is_text(attachment: discord.Attachment) -> bool:
    kind = (attachment.content_type or "").split(";")[0]
    return kind.startswith("text/") or kind == "application/json" or attachment.filename.lower().endswith(
        TEXT_SUFFIXES)


async def media_of(client: discord.Client, message: discord.Message, resolved: discord.Message | None) -> Media:
    """Everything the model may use of `message` besides its words, and notes on what it may not."""
    found = Media()
    texts = 0
    for attachment in message.attachments:
        name = utf8(attachment.filename)
        if (attachment.content_type or "").startswith("image/"):
            continue  # the message's own images travel as before (`attachments`)
        if is_audio(attachment):
            found.audio.append(utf8(attachment.url))
        elif not is_text(attachment):
            found.notes.append(f"I can't read {name} ({attachment.content_type or 'unknown type'}): only text "
                               "files, images and voice messages are used.")
        elif texts >= TEXT_FILES:
            found.notes.append(f"I read only the first {TEXT_FILES} text files; {name} was left out.")
        else:
            texts += await _read_text(attachment, name, found)  # the bound counts the files given to the model
    if resolved is not None:
        found.reply_images = [utf8(a.url) for a in resolved.attachments
                              if (a.content_type or "").startswith("image/")]
    for match in list(MESSAGE_LINK.finditer(message.content))[:LINKS]:
        await _read_link(client, message, match, found)
    return found


async def _read_text(attachment: discord.Attachment, name: str, found: Media) -> bool:
    """Read one text attachment into `found` (True), or note why it cannot be used (False)."""
    if attachment.size > TEXT_FILE_BYTES:
        found.notes.append(f"{name} is {attachment.size // 1024} KB; I read files of at most "
                           f"{TEXT_FILE_BYTES // 1024} KB.")
        return False
    try:
        data = await attachment.read()
        text = data.decode("utf-8")
    except (discord.HTTPException, discord.NotFound):
        found.notes.append(f"I couldn't download {name} from Discord just now.")
        return False
    except UnicodeDecodeError:
        found.notes.append(f"{name} is not UTF-8 text.")
        return False
    if len(text) > FILE_CHARS:
        found.notes.append(f"{name} is long: I read its first {FILE_CHARS:,} characters.")
        text = text[:FILE_CHARS]
    found.files.append((name, utf8(text)))
    return True


async def _read_link(client: discord.Client, message: discord.Message, match: re.Match[str], found: Media) -> None:
    """The linked message's text, only from a server channel both the author and the bot may read."""
    where, channel_id, message_id = match.group(1), int(match.group(2)), int(match.group(3))
    channel = client.get_channel(channel_id) if where != "@me" else None
    guild = getattr(channel, "guild", None)
    if channel is None or guild is None or guild.id != int(where):
        found.notes.append("I can't read a message you linked: I'm not in that channel.")
        return
    readers = (guild.me, await _member(guild, message))  # the author must be a member there too
    if any(who is None for who in readers) or not all(_may_read(channel, who) for who in readers):
        found.notes.append(f"I can't read a message you linked in #{utf8(getattr(channel, 'name', '?'))}: "
                           "it is not readable for both of us.")
        return
    try:
        linked = await channel.fetch_message(message_id)  # type: ignore[union-attr]
    except (discord.NotFound, discord.Forbidden, discord.HTTPException):
        found.notes.append("I couldn't fetch a message you linked (deleted, or out of my reach).")
        return
    text = utf8(linked.content)
    if len(text) > LINK_CHARS:
        text = text[:LINK_CHARS] + "…"
    found.linked.append(f"{utf8(linked.author.display_name)}: {text}")


async def _member(guild: discord.Guild, message: discord.Message) -> discord.Member | None:
    """The message's author as a member of `guild` (asked of Discord when not cached), or None."""
    if isinstance(message.author, discord.Member) and message.author.guild.id == guild.id:
        return message.author
    try:
        return guild.get_member(message.author.id) or await guild.fetch_member(message.author.id)
    except (discord.NotFound, discord.Forbidden, discord.HTTPException):
        return None


def _may_read(channel: Any, member: Any) -> bool:
    perms = channel.permissions_for(member)
    return bool(perms.view_channel and perms.read_message_history)
