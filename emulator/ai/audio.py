"""The emulator's OpenAI-compatible ``/audio/transcriptions``: a deterministic transcript of the uploaded file.

Rule (``transcript_of``): a file whose bytes are UTF-8 text starting ``SAY:`` is heard as the rest of that text,
stripped (so a test writes what the voice message says); any other sound is ``[N bytes of audio, <sha8>]``.
An empty file or a missing ``file`` part is a 400, as OpenAI answers.
"""

from __future__ import annotations

import hashlib

from aiohttp import web

from emulator.ai import wire

AUDIO_MAX_BYTES = 25 * 1024 * 1024  # OpenAI's limit


def transcript_of(data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = ""
    if text.startswith("SAY:"):
        return text[4:].strip()
    return f"[{len(data)} bytes of audio, {hashlib.sha256(data).hexdigest()[:8]}]"


async def transcriptions(request: web.Request) -> web.Response:
    try:
        form = await request.post()
    except ValueError:
        form = {}
    upload = form.get("file") if hasattr(form, "get") else None
    data = upload.file.read() if isinstance(upload, web.FileField) else b""
    if not data:
        return web.json_response(wire.error_body("'file' must be a non-empty audio file", 400), status=400)
    if len(data) > AUDIO_MAX_BYTES:
        return web.json_response(wire.error_body("the audio file is larger than 25 MB", 413), status=413)
    return web.json_response({"text": transcript_of(data)})
