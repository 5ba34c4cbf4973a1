"""Embeddings for long-term memory, when the AI backend offers OpenAI's `/embeddings`.

A user's actor reaches its memories through one "memory" service: `EmbeddedMemories` over the store's rows
(`store/memories.py`). Each new memory is embedded on the way in; a turn's message is embedded to find the
nearest memories by cosine similarity (at least MIN_SIMILARITY). Whenever embeddings cannot be had (the backend
has no `/embeddings`, it failed, a memory was made without one) the store's full-text search answers instead,
so a memory is always found one way or the other. A backend that refused is asked again only after RETRY_S.
Embeddings are asked on the operator's key.
"""

from __future__ import annotations

import json
import math
import time
from array import array
from collections.abc import Callable
from typing import Any

from ai.tls import shared_context
from ai.transport import Pool

TIMEOUT_S = 10.0
RETRY_S = 600.0  # after a refusal or a failure, full-text search for this long
MIN_SIMILARITY = 0.3
MAX_RESPONSE_BYTES = 4_000_000


def pack(vector: list[float]) -> bytes:
    """A vector normalised to length 1, as float32 bytes (what the store keeps)."""
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return array("f", (x / norm for x in vector)).tobytes()


def similarity(a: bytes, b: bytes) -> float:
    """Cosine similarity of two packed (normalised) vectors; 0 when their sizes differ (another model's)."""
    if len(a) != len(b):
        return 0.0
    return float(sum(x * y for x, y in zip(array("f", a), array("f", b), strict=True)))


class Embedder:
    """`POST {base}/embeddings` on the operator's key; None whenever the backend cannot give embeddings now."""

    def __init__(self, base_url: str, api_key: str | None, model: str,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.base_url, self._api_key, self.model, self.clock = base_url.rstrip("/"), api_key, model, clock
        self.off_until = 0.0
        self._pool: Pool | None = None

    def __repr__(self) -> str:  # never the key
        return f"Embedder({self.base_url!r}, model={self.model!r})"

    def embed(self, texts: list[str]) -> list[bytes] | None:
        if not texts or self.clock() < self.off_until:
            return None
        try:
            vectors = self._post(texts)
        except Exception:  # noqa: BLE001 - no embeddings now: full-text search answers, and we ask again later
            vectors = None
        if vectors is None or len(vectors) != len(texts):
            self.off_until = self.clock() + RETRY_S
            return None
        return [pack(v) for v in vectors]

    def _post(self, texts: list[str]) -> list[list[float]] | None:
        if self._pool is None:
            self._pool = Pool(self.base_url, shared_context(), max_idle=1, max_connections=2)
        headers = {"Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        body = json.dumps({"model": self.model, "input": texts}).encode()
        deadline = time.monotonic() + TIMEOUT_S
        with self._pool.post("/embeddings", body, headers, deadline, TIMEOUT_S, lambda _sock: None) as response:
            raw = b""
            for chunk in response.iter_bytes(deadline):
                raw += chunk
                if len(raw) > MAX_RESPONSE_BYTES:
                    return None
            if not response.is_success:
                return None
        data = json.loads(raw).get("data")
        if not isinstance(data, list):
            return None
        ordered = sorted(data, key=lambda item: int(item.get("index", 0)))
        vectors = [item.get("embedding") for item in ordered]
        if not all(isinstance(v, list) and v and all(isinstance(x, int | float) for x in v) for v in vectors):
            return None
        return [[float(x) for x in v] for v in vectors]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None


class EmbeddedMemories:
    """The "memory" service: the store's rows, with embeddings when the backend offers them."""

    def __init__(self, rows: Any, embedder: Embedder | None) -> None:
        self.rows, self.embedder = rows, embedder

    def add(self, user_id: int, personality: str, channel_id: int, private: bool, text: str, now: float) -> int:
        vectors = self.embedder.embed([text]) if self.embedder is not None else None
        return self.rows.add(user_id, personality, channel_id, private, text, now, vectors[0] if vectors else None)

    def search(self, user_id: int, personality: str, query: str, private: bool,
               limit: int) -> list[tuple[int, str, float]]:
        """The nearest memories by embedding; by full-text search when there are no embeddings to compare."""
        vectors = self.embedder.embed([query]) if self.embedder is not None else None
        if vectors:
            held = self.rows.vectors(user_id, personality, private)
            if held:
                scored = sorted(((similarity(vectors[0], v), -mid, mid, text, at) for mid, text, at, v in held),
                                reverse=True)
                return [(mid, text, at) for score, _, mid, text, at in scored[:limit] if score >= MIN_SIMILARITY]
        return self.rows.search(user_id, personality, query, private, limit)

    def __getattr__(self, name: str) -> Any:  # list, forget, forget_user: the rows' own
        return getattr(self.rows, name)

    def close(self) -> None:
        if self.embedder is not None:
            self.embedder.close()


def embedded_memories(rows: Any, settings: Any) -> EmbeddedMemories:
    """The memory service for a user's actor: with an embedder when `TZUROT_MEMORY_EMBEDDINGS` is 1 and there
    is an AI backend to ask."""
    use = bool(getattr(settings, "memory_embeddings", 0)) and bool(getattr(settings, "ai_base_url", ""))
    embedder = Embedder(settings.ai_base_url, settings.ai_api_key or None, settings.ai_embedding_model) if use else None
    return EmbeddedMemories(rows, embedder)
