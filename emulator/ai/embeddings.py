"""The AI emulator's `/embeddings`: deterministic vectors, so tests can tell what is near what.

Each text becomes a bag of its words (lower-cased, two characters or more) hashed into DIMS signed buckets,
normalised to length 1: texts that share words are near, texts that share none are orthogonal. Like OpenAI's,
the answer is `{"object": "list", "data": [{"object": "embedding", "index": i, "embedding": [...]}], ...}`.
"""

from __future__ import annotations

import hashlib
import math
import re
from typing import Any

from aiohttp import web

DIMS = 256
INPUTS_MAX = 2048
_WORD = re.compile(r"\w+")


def embedding_of(text: str) -> list[float]:
    vector = [0.0] * DIMS
    for word in _WORD.findall(text.lower()):
        if len(word) < 2:
            continue
        digest = hashlib.sha256(word.encode()).digest()
        vector[int.from_bytes(digest[:4], "big") % DIMS] += 1.0 if digest[4] & 1 else -1.0
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [round(x / norm, 6) for x in vector]


async def embeddings(request: web.Request) -> web.Response:
    """`POST /v1/embeddings`: any key (or none) is served."""
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        body = None
    status, answer = embeddings_answer(body)
    return web.json_response(answer, status=status)


def embeddings_answer(body: Any) -> tuple[int, dict[str, Any]]:
    """(status, JSON) for one `/embeddings` request body."""
    if not isinstance(body, dict):
        return 400, {"error": {"message": "request body must be an object"}}
    raw = body.get("input")
    inputs = [raw] if isinstance(raw, str) else raw
    if not isinstance(inputs, list) or not inputs or len(inputs) > INPUTS_MAX \
            or not all(isinstance(t, str) for t in inputs):
        return 400, {"error": {"message": "'input' must be a string or a list of 1-2048 strings"}}
    model = body.get("model") if isinstance(body.get("model"), str) else "unknown"
    data = [{"object": "embedding", "index": i, "embedding": embedding_of(t)} for i, t in enumerate(inputs)]
    tokens = sum(len(t.split()) for t in inputs)
    return 200, {"object": "list", "data": data, "model": model,
                 "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
