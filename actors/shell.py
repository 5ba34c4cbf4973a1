"""The thin Thespian shell shared by every stateful actor: load, decide, write through, answer.

A subclass names its pure state class (`state_class`); this shell is the only place that touches the store
or sends messages for it, so the state class is tested without any actor system.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from actors.effects import Effect, Reply, Save
from store import SqliteStore, StaleWrite
from supervision.child import SupervisedChild
from supervision.protocol import Answer, ChildStart, Deliver


class StatefulActor(SupervisedChild):
    state_class: ClassVar[type]

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.state: Any = None
        self.version = 0
        self.store: SqliteStore | None = None

    def on_start(self, start: ChildStart) -> None:
        self.store = self.open_store(start)
        record = self.store.load(self.state_class.KIND, start.key)
        if record.quarantined:
            self.log("error", "quarantined", f"unreadable stored state moved aside: {record.quarantined}")
        self.state = self.state_class.restore(start.key, record.state)
        self.version = record.version

    def open_store(self, start: ChildStart) -> SqliteStore:
        """Where state lives; a test double can override this."""
        return SqliteStore(start.settings.store_path)

    def on_deliver(self, msg: Deliver) -> None:
        self.perform(self.state.handle(msg.body, time.time()), msg)

    def perform(self, effects: list[Effect], msg: Deliver) -> None:
        for effect in effects:
            if isinstance(effect, Save):
                self.save()
            elif isinstance(effect, Reply) and msg.reply_to is not None:
                self.send(msg.reply_to, Answer(msg.ref, effect.body))

    def save(self) -> None:
        assert self.store is not None
        try:
            self.version = self.store.save(
                self.state_class.KIND, self.key, self.state.snapshot(), self.version, self.state_class.SCHEMA
            )
        except StaleWrite as exc:
            # Another copy of this actor wrote after us: we are the stale one, so we must not go on.
            self.log("error", "stale_copy", str(exc))
            self.exit_now()
            raise
