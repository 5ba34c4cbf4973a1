"""Static sharding by a stable hash: the same id lands on the same shard in every process and every run."""

from __future__ import annotations

import hashlib


def shard_of(key: str, shards: int) -> int:
    # Python's hash() is salted per process, so it cannot be used across the tree.
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards


def shard_key(group: str, index: int) -> str:
    return f"{group}/{index}"
