"""Deliberately broken actors for the system tests; importable by name so shards can create them."""

from __future__ import annotations

import os

from actors.messages import SetAlias
from actors.user_actor import UserActor
from supervision.protocol import ChildStart, Deliver

CRASH_ON_START_KEY = "13"
RAISING_ALIAS = "boom"


class FaultyUserActor(UserActor):
    """A UserActor whose handler raises on one alias, and which dies at start for one user id."""

    def on_start(self, start: ChildStart) -> None:
        if start.key == CRASH_ON_START_KEY:
            os._exit(3)  # the process dies, as a segfault or an OOM kill would
        super().on_start(start)

    def on_deliver(self, msg: Deliver) -> None:
        if isinstance(msg.body, SetAlias) and msg.body.alias == RAISING_ALIAS:
            raise RuntimeError("simulated bug in a handler")
        super().on_deliver(msg)


STORM_KEYS = ("61", "62", "63")  # three users whose actors die at every start: 15 restarts in seconds


class StormUserActor(UserActor):
    """A UserActor that dies at start for every key in STORM_KEYS (a bad deploy hitting several users)."""

    def on_start(self, start: ChildStart) -> None:
        if start.key in STORM_KEYS:
            os._exit(3)
        super().on_start(start)
