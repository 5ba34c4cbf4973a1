"""Attachments: the records that point at stored files, the sandbox's uploads, and the CDN route.

Files reach the store from the bot's multipart uploads (`files[n]`), from sandbox posts and from proxied
re-uploads. Each one is served at its attachment's `url` (= `proxy_url`), so `Attachment.read()` works.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from aiohttp import web

from .context import CONTEXT_KEY, Context, UploadedFile
from .files import StoredFile, content_type_for
from .models import Attachment

SANDBOX_ATTACHMENTS_MAX = 4
SANDBOX_ATTACHMENT_BYTES = 512 * 1024
CDN_PATH = "/attachments/{channel_id}/{attachment_id}/{filename}"
_FILES_FIELD = re.compile(r"files\[(\d+)\]")


def store_attachment(
    ctx: Context,
    channel_id: int,
    filename: str,
    data: bytes,
    content_type: str | None = None,
    description: str | None = None,
) -> Attachment:
    """Keep the bytes and make the attachment that serves them."""
    attachment_id = ctx.world.ids.next()
    kind = content_type_for(filename, content_type, data)
    ctx.world.files.put(StoredFile(attachment_id, channel_id, filename, kind, data))
    url = f"{ctx.base_url}/attachments/{channel_id}/{attachment_id}/{quote(filename, safe='')}"
    return Attachment(
        id=attachment_id, filename=filename, size=len(data), url=url, content_type=kind, description=description
    )


def _file_index(upload: UploadedFile, position: int) -> str:
    found = _FILES_FIELD.fullmatch(upload.field)
    return found.group(1) if found else str(position)


def build_attachments(
    ctx: Context, channel_id: int, files: Sequence[UploadedFile], body: Mapping[str, Any]
) -> list[Attachment]:
    """Attachments for uploaded `files[n]` parts, named and described by the body's `attachments` list."""
    described = {str(a.get("id")): a for a in body.get("attachments") or () if isinstance(a, Mapping)}
    made = []
    for position, upload in enumerate(files):
        meta = described.get(_file_index(upload, position), {})
        filename = str(meta.get("filename") or upload.filename)
        made.append(
            store_attachment(ctx, channel_id, filename, upload.data, upload.content_type, meta.get("description"))
        )
    return made


def copy_attachments(ctx: Context, channel_id: int, attachments: Sequence[Attachment]) -> list[Attachment]:
    """Re-upload still-kept files under new ids (as a proxy bot does with the message it replaces)."""
    copies = []
    for attachment in attachments:
        stored = ctx.world.files.get(attachment.id)
        if stored is not None:
            copies.append(
                store_attachment(
                    ctx, channel_id, stored.filename, stored.data, stored.content_type, attachment.description
                )
            )
    return copies


def parse_sandbox_attachments(raw: Any) -> list[tuple[str, bytes, str | None]]:
    """The sandbox's `attachments` field as (filename, bytes, content_type); ValueError says what is wrong."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ValueError("attachments must be a list of {filename, content, content_type?}")
    if len(raw) > SANDBOX_ATTACHMENTS_MAX:
        raise ValueError(f"at most {SANDBOX_ATTACHMENTS_MAX} attachments per message, got {len(raw)}")
    parsed = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise ValueError(f"attachments[{index}] must be an object")
        filename, content, kind = item.get("filename"), item.get("content"), item.get("content_type")
        if not isinstance(filename, str) or not filename or "/" in filename or "\\" in filename:
            raise ValueError(f"attachments[{index}].filename must be a non-empty name without slashes")
        if not isinstance(content, str):
            raise ValueError(f"attachments[{index}].content must be a string (the file's text)")
        if kind is not None and (not isinstance(kind, str) or "/" not in kind):
            raise ValueError(f"attachments[{index}].content_type must be a MIME type such as text/plain")
        data = content.encode("utf-8")
        if len(data) > SANDBOX_ATTACHMENT_BYTES:
            raise ValueError(
                f"attachments[{index}] ({filename}) is {len(data)} bytes; at most {SANDBOX_ATTACHMENT_BYTES} allowed"
            )
        parsed.append((filename, data, kind))
    return parsed


def attachment_summary(ctx: Context, attachment: Attachment) -> dict[str, Any]:
    """An attachment as the sandbox lists it; `content` is the text of small UTF-8 files, else None."""
    return {
        "id": str(attachment.id),
        "filename": attachment.filename,
        "url": attachment.url,
        "size": attachment.size,
        "content_type": attachment.content_type,
        "content": ctx.world.files.text(attachment.id),
    }


async def serve_attachment(request: web.Request) -> web.Response:
    """The CDN: a kept file's bytes with its Content-Type; 404 once evicted or when the path does not fit."""
    ctx = request.config_dict[CONTEXT_KEY]
    info = request.match_info
    stored = ctx.world.files.get(int(info["attachment_id"])) if info["attachment_id"].isdigit() else None
    if stored is None or str(stored.channel_id) != info["channel_id"] or stored.filename != info["filename"]:
        return web.Response(status=404, text="404: Not Found")
    return web.Response(body=stored.data, headers={"Content-Type": stored.content_type})
