"""Slots: a single permanent actor under Root that shares the operator's AI capacity fairly."""

from __future__ import annotations

from typing import Any

from actors.shell import StatefulActor
from actors.state.slots import SlotsState
from supervision.protocol import ChildStart


class SlotsActor(StatefulActor):
    state_class = SlotsState

    def open_store(self, start: ChildStart) -> Any:
        from store import MemoryStore

        return MemoryStore()  # nothing to keep: waiting actors ask again after a restart
