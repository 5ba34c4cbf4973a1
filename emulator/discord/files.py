"""The bytes of uploaded files, kept within a total cap (oldest forgotten first), and their content types."""

from __future__ import annotations

import mimetypes
from collections import OrderedDict
from dataclasses import dataclass

FILE_STORE_CAP = 32 * 1024 * 1024
"""Bytes of uploaded files kept in all; the oldest files are forgotten (their URLs answer 404) beyond it."""
TEXT_PREVIEW_BYTES = 64 * 1024
"""The sandbox's message listing shows the text of attachments up to this size."""
_OCTET_STREAM = "application/octet-stream"
_TEXTUAL = ("text/", "application/json", "application/xml", "application/javascript")


@dataclass(frozen=True)
class StoredFile:
    """The bytes behind one attachment."""

    attachment_id: int
    channel_id: int
    filename: str
    content_type: str
    data: bytes


class FileStore:
    """Files by attachment id, oldest first; adding past `cap` bytes evicts the oldest."""

    def __init__(self, cap: int = FILE_STORE_CAP) -> None:
        self.cap = cap
        self.total = 0
        self._files: OrderedDict[int, StoredFile] = OrderedDict()

    def put(self, stored: StoredFile) -> None:
        self._files[stored.attachment_id] = stored
        self.total += len(stored.data)
        while self.total > self.cap and self._files:
            _, evicted = self._files.popitem(last=False)
            self.total -= len(evicted.data)

    def get(self, attachment_id: int) -> StoredFile | None:
        return self._files.get(attachment_id)

    def __len__(self) -> int:
        return len(self._files)

    def text(self, attachment_id: int, limit: int = TEXT_PREVIEW_BYTES) -> str | None:
        """The file as UTF-8 text when it is kept, at most `limit` bytes and valid UTF-8; else None."""
        stored = self._files.get(attachment_id)
        if stored is None or len(stored.data) > limit:
            return None
        try:
            return stored.data.decode("utf-8")
        except UnicodeDecodeError:
            return None


def content_type_for(filename: str, declared: str | None, data: bytes) -> str:
    """Discord sniffs the type from the name when the client sends none or octet-stream (discord.py does)."""
    kind = declared if declared and declared.split(";")[0].strip() != _OCTET_STREAM else None
    if kind is None:
        kind = mimetypes.guess_type(filename)[0] or _OCTET_STREAM
    if kind.startswith(_TEXTUAL) and "charset" not in kind:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return kind
        return f"{kind}; charset=utf-8"
    return kind
