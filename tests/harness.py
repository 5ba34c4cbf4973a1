"""How a developer tests one actor in isolation: `ActorHarness` runs it on simpleSystemBase.

The actor runs in this process, synchronously, exactly as its Thespian shell runs in production, but with
fake collaborators: an in-memory store by default, and any method of the shell replaced through `overrides`.

    with ActorHarness(UserActor, key="42") as actor:
        assert actor.ask(SetAutorespond(42, True)).autorespond
        assert actor.store.saves == 1
"""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path
from typing import Any

from thespian.actors import ActorExitRequest, ActorSystem

from config import Settings
from store import MemoryStore
from supervision.protocol import Answer, ChildReady, ChildStart, Deliver


class ActorHarness:
    def __init__(
        self,
        actor_class: type,
        key: str,
        kind: str | None = None,
        store: Any = None,
        settings: Settings | None = None,
        overrides: dict[str, Any] | None = None,
    ) -> None:
        self.store = store if store is not None else MemoryStore()
        self._tmp = tempfile.TemporaryDirectory(prefix="actor-harness-")
        self.settings = settings or Settings(data_dir=Path(self._tmp.name))
        self.kind = kind or getattr(getattr(actor_class, "state_class", None), "KIND", actor_class.__name__)
        self.key = key
        fakes = {"open_store": lambda _self, _start: self.store, **(overrides or {})}
        self.actor_class = type(f"{actor_class.__name__}UnderTest", (actor_class,), fakes)
        self.system: Any = None
        self.address: Any = None

    def start(self) -> ActorHarness:
        self.system = ActorSystem("simpleSystemBase", transientUnique=True)
        self.address = self.system.createActor(self.actor_class)
        ready = self.system.ask(self.address, ChildStart(self.kind, self.key, self.settings), 5)
        if not isinstance(ready, ChildReady):
            raise AssertionError(f"actor did not start: {ready!r}")
        return self

    def ask(self, body: Any, timeout: float = 5) -> Any:
        """Deliver `body` as a supervisor would and return what the actor answered (or its raw reply)."""
        ref = uuid.uuid4().hex
        reply = self.system.ask(self.address, Deliver(self.kind, self.key, body, ref), timeout)
        return reply.body if isinstance(reply, Answer) and reply.ref == ref else reply

    def tell(self, body: Any) -> None:
        self.system.tell(self.address, Deliver(self.kind, self.key, body, reply=False))

    def stop(self) -> None:
        if self.system is not None:
            self.system.tell(self.address, ActorExitRequest())
            self.system.shutdown()
            self.system = None
        self._tmp.cleanup()

    def __enter__(self) -> ActorHarness:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
