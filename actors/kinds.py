"""The kinds of actor, by name: what an address (`Tell(kind, key, ...)`, `Bridge.ask(kind, key, ...)`) starts with.

A `str` enum, so supervision, the store and the logs (which know nothing of actors) see plain strings. Which
class serves each kind, and the tree they make, is `actors/tree.py`. A single actor (the catalogue, the
blacklist, the AI slots) is addressed by its kind as its key too: `Tell(Kind.REGISTRY, Kind.REGISTRY, ...)`.
"""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    USER = "user"  # one per user id, sharded
    CHANNEL = "channel"  # one per channel id, sharded
    REGISTRY = "registry"  # the personality catalogue: one
    BLACKLIST = "blacklist"  # who the bot ignores: one
    SLOTS = "slots"  # the operator's AI capacity: one
