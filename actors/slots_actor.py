"""Slots: a single permanent actor under Root that shares the operator's AI capacity fairly when it is full
(the slots themselves are in the shared slot file, `store/slot_leases.py`)."""

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

    def make_services(self, start: ChildStart) -> dict[str, Any]:
        from store.slot_leases import slot_leases_for

        return {"lease": slot_leases_for(start.settings)}
