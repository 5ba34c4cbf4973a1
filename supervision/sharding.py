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
    """Where a Deliver for (kind, key) goes: the shard owning the key, or a singleton, from Root's Directory.

    A key's shard comes from the group's shard count in the directory, never from how many shards are up:
    while its shard is down a key has no address (the caller sends to Root, which holds the message for it).
    """

    def __init__(self) -> None:
        self._addresses: dict[str, Any] = {}
        self._shards: dict[str, int] = {}  # group -> shard count

    def update(self, directory: Any) -> set[str]:
        """Take a new directory; returns the shards whose address changed (restarted or down): every actor
        that ran under such a shard is gone, whatever address its peers knew it by."""
        if directory is None:
            return set()
        before = self._addresses
        self._addresses = directory.addresses()
        self._shards = dict(directory.groups)
        return {key for key, address in before.items() if self._addresses.get(key) != address}

    def shard_of_key(self, kind: str, key: str) -> str | None:
        """The shard key (`user/2`) that owns (kind, key), or None for a kind that is not sharded."""
        shards = self._shards.get(kind)
        return shard_key(kind, shard_of(key, shards)) if shards else None

    def sharded(self, kind: str) -> bool:
        """Is `kind` a sharded group (one actor per key), as opposed to a single actor or unknown?"""
        return kind in self._shards

    def address(self, kind: str, key: str) -> Any:
        """The address to send to, or None: unknown kind, no directory yet, or the owning shard is down."""
        if kind in self._addresses:
            return self._addresses[kind]
        shards = self._shards.get(kind)
        if not shards:
            return None
        return self._addresses.get(shard_key(kind, shard_of(key, shards)))
