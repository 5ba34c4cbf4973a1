"""The actor tree: the class that serves each kind of actor (`actors/kinds.py`), and the tree Root starts.

Supervision takes classes as dotted paths (it imports nothing of `actors`, and each process imports the class
itself); they are made here from the classes, so a rename cannot leave a stale path behind.
"""

from __future__ import annotations

import os
from typing import Any

from actors.blacklist_actor import BlacklistActor
from actors.channel_actor import ChannelActor
from actors.kinds import Kind
from actors.registry_actor import RegistryActor
from actors.slots_actor import SlotsActor
from actors.user_actor import UserActor
from supervision.protocol import GroupSpec, TreeSpec

SHARDED: dict[Kind, type] = {Kind.USER: UserActor, Kind.CHANNEL: ChannelActor}  # one actor per key
SINGLE: dict[Kind, type] = {Kind.REGISTRY: RegistryActor, Kind.BLACKLIST: BlacklistActor, Kind.SLOTS: SlotsActor}
ACTORS: dict[Kind, type] = {**SHARDED, **SINGLE}


def class_path(cls: type) -> str:
    """`module.Class`: how supervision names the class to start."""
    return f"{cls.__module__}.{cls.__qualname__}"


def default_tree(settings: Any, nodes: bool = False) -> TreeSpec:
    """Root's children: a sharded group per kind with a key, then the single actors (with their shard counts
    from the settings); with `nodes`, the shards go to the Convention's member nodes (`bot.py node`)."""
    shards = {Kind.USER: settings.user_shards, Kind.CHANNEL: settings.channel_shards}
    return TreeSpec(
        owner_pid=os.getpid(),
        groups=tuple(GroupSpec(kind.value, shards[kind], class_path(cls)) for kind, cls in SHARDED.items()),
        singletons=tuple((kind.value, class_path(cls)) for kind, cls in SINGLE.items()),
        nodes=nodes,
    )
