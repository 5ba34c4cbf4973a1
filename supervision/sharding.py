"""Static sharding by a stable hash: the same id lands on the same shard in every process and every run."""

from __future__ import annotations

import hashlib
from typing import Any


def shard_of(key: str, shards: int) -> int:
    # Python's hash() is salted per process, so it cannot be used across the tree.
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards


def shard_key(group: str, index: int) -> str:
    return f"{group}/{index}"


class Routes:
    """Where a Deliver for (kind, key) goes: the shard owning the key, or a singleton, from Root's Directory."""

    def __init__(self) -> None:
        self._addresses: dict[str, Any] = {}
        self._shards: dict[str, int] = {}  # group -> shard count

    def update(self, directory: Any) -> None:
        if directory is None:
            return
        self._addresses = directory.addresses()
        counts: dict[str, int] = {}
        for key in self._addresses:
            if "/" in key:
                group = key.split("/", 1)[0]
                counts[group] = counts.get(group, 0) + 1
        self._shards = counts

    def address(self, kind: str, key: str) -> Any:
        if kind in self._addresses:
            return self._addresses[kind]
        shards = self._shards.get(kind)
        if not shards:
            return None
        return self._addresses.get(shard_key(kind, shard_of(key, shards)))
