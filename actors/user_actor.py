"""UserActor: one per active user. Owns that user's settings, key and conversations; calls the AI for them.

A slow or failing AI call blocks only this user's actor: everyone else has their own.
"""

from __future__ import annotations

from typing import Any

from actors.services import Services
from actors.shell import StatefulActor, new_reference
from actors.state.user import UserState
from ai.embeddings import embedded_memories
from ai.service import AIService
from store.memories import memories_for
from store.sealed_keys import KeyBox
from store.slot_leases import slot_leases_for
from supervision.protocol import ChildStart


class UserActor(StatefulActor):
    state_class = UserState

    def restore_args(self) -> dict[str, Any]:
        return {"ids": new_reference}  # the reference ids of failures spoken to the user

    def make_services(self, start: ChildStart) -> dict[str, Any]:
        s, key = start.settings, start.key
        services = Services({
            "keys": lambda: KeyBox.load(s),
            "ai": lambda: AIService(s, services["keys"], self.events, key),
            # the durable work table, where a restarted actor finds the messages it lost with its process
            "work": lambda: self.store,
            # the operator's AI slots, taken directly while there is room (`store/slot_leases.py`)
            "lease": lambda: slot_leases_for(s),
            # long-term memory: rows in the store, found by full-text search (`store/memories.py`)
            "memory": lambda: embedded_memories(memories_for(self.store), s),
        })
        return services
