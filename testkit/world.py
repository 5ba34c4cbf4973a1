"""The tests' world: the pure states of several actors wired the way their shells wire them, in one process,
with no actor system, so a whole conversation is driven and inspected step by step.

Effects run through `actors.perform.perform_effects`, the dispatch the real shell uses, with these hands:
- a `Tell` waits in one mailbox behind what is already there, then goes to the state it names (made on first
  use by that kind's maker); a kind with no maker is listened to (its bodies kept in `told`) when `listen`
  names it or is None, and fails the test otherwise;
- a `Call` goes to the fake service of its name, a function of the Call whose return value (an exception too)
  is the result; `HOLD` leaves the call unanswered, for the test to answer later with `Done`. A fake that
  raises fails the test: a collaborator's failure is scripted as a returned exception;
- `Push` facts land in `routes`, `Timer`s wait in `pending` until `fire`;
- `Save` and `SaveRow` write to a real store when there is one (and an actor is made from what it stored, as
  its shell makes it); `keep_saves` keeps each actor's last saved snapshot, which `restart` starts from.
Every effect is recorded in `trace` as `("kind:key", effect)`, in the order it was performed.
"""

from __future__ import annotations

import copy
import itertools
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from actors.effects import Call, Effect, Log, Push, Reply, Resume, Save, SaveRow, Tell, Timer, Wake, WorkAck, WorkDone
from actors.perform import perform_effects
from store.memories import MemoryList
from store.sqlite import decode, encode

HOLD = object()  # a fake service's answer: none yet (a slow collaborator); the test delivers the Done itself
Maker = Callable[[str, Any], Any]  # (key, the stored or saved row or None) -> the state
Service = Callable[[Call], Any]
Address = tuple[str, str]


def pushed(effects: Iterable[Effect]) -> list[Any]:
    """The routing facts among `effects`."""
    return [e.fact for e in effects if isinstance(e, Push)]


class PureWorld:
    def __init__(
        self,
        makers: Mapping[str, Maker],
        services: Mapping[str, Service] | None = None,
        *,
        now: float,
        listen: Iterable[str] | None = None,
        store: Any = None,
        start: bool = False,
        copy_bodies: bool = False,
        keep_saves: bool = False,
    ) -> None:
        self.makers = dict(makers)
        self.services = dict(services or {})
        if "memory" not in self.services:  # long-term memory in a list, unless a test scripts its own
            self.memories = MemoryList()
            self.services["memory"] = lambda call: getattr(self.memories, call.method)(*call.args)
        self.now = now
        self.listen = None if listen is None else set(listen)  # None: every kind without a maker
        self.store = store  # None: saves are only counted (and kept, with keep_saves)
        self.start_actors = start  # run a state's on_start when it is made, as its shell does
        self.copy_bodies = copy_bodies  # copy what is told, as pickling between processes would
        self.keep_saves = keep_saves
        self.actors: dict[Address, Any] = {}
        self.mailbox: deque[tuple[str, str, Any]] = deque()
        self.trace: list[tuple[str, Effect]] = []
        self.told: defaultdict[str, list[Any]] = defaultdict(list)
        self.routes: dict[tuple[str, Any], Any] = {}
        self.pending: list[tuple[float, int, Address, Timer]] = []  # due, order, whose, timer
        self.saves = 0
        self.saved: dict[Address, bytes] = {}
        self.versions: dict[Address, int] = {}
        self.row_versions: dict[tuple[str, str], int] = {}
        self.acting: Address | None = None  # whose effects are being performed (who made a call)
        self._order = itertools.count()

    # ---- the actors --------------------------------------------------------------------------------
    def actor(self, kind: str, key: int | str) -> Any:
        """The state of (kind, key), made (from what is stored or was saved) on first use."""
        address = (kind, str(key))
        if address not in self.actors:
            state = self.actors[address] = self._make(address)
            if self.start_actors and hasattr(state, "on_start"):
                self._perform(address, state.on_start(self.now))
        return self.actors[address]

    def put(self, kind: str, key: int | str, state: Any) -> None:
        """Replace (kind, key)'s state, e.g. with one restored from a snapshot."""
        self.actors[(kind, str(key))] = state

    def restart(self, kind: str, key: int | str) -> None:
        """(kind, key) dies with its timers; its next message finds it made again from what was saved."""
        address = (kind, str(key))
        self.actors.pop(address, None)
        self.pending = [p for p in self.pending if p[2] != address]

    def _make(self, address: Address) -> Any:
        kind, key = address
        data = decode(self.saved[address]) if address in self.saved else None
        if self.store is not None:
            record = self.store.load(kind, key)
            data, self.versions[address] = record.state, record.version
        state = self.makers[kind](key, data)
        rows = getattr(state, "ROWS", None)
        if self.store is not None:
            if rows:
                loaded = {k: r for k, r in self.store.load_all(rows).items() if r.state is not None}
                self.row_versions.update({(rows, k): r.version for k, r in loaded.items()})
                assert state.restore_rows({k: r.state for k, r in loaded.items()}) == {}
            encode(state.snapshot())  # a state that cannot be written back would fail every later save
        return state

    # ---- messages ------------------------------------------------------------------------------------
    def tell(self, kind: str, key: int | str, body: Any) -> None:
        self.mailbox.append((kind, str(key), copy.deepcopy(body) if self.copy_bodies else body))

    def step(self) -> None:
        """Deliver the oldest message in the mailbox."""
        kind, key, body = self.mailbox.popleft()
        if kind in self.makers:
            self.handle(kind, key, body)
        else:
            assert self.listen is None or kind in self.listen, f"nobody routes to {kind}"
            self.told[kind].append(body)

    def settle(self) -> None:
        while self.mailbox:
            self.step()

    def handle(self, kind: str, key: int | str, body: Any) -> None:
        """(kind, key) handles `body` now, ahead of the mailbox (a timer firing, a call answered late)."""
        state = self.actor(kind, key)
        self._perform((kind, str(key)), state.handle(body, self.now))

    def deliver_to(self, kind: str, key: int | str, *bodies: Any) -> list[Effect]:
        """Tell (kind, key) these together and settle; every effect performed meanwhile."""
        since = len(self.trace)
        for body in bodies:
            self.tell(kind, key, body)
        self.settle()
        return self.effects[since:]

    def start(self, kind: str, key: int | str) -> list[Effect]:
        """(kind, key) starts (as after a restart) and settles; every effect performed meanwhile."""
        since = len(self.trace)
        self._perform((kind, str(key)), self.actor(kind, key).on_start(self.now))
        self.settle()
        return self.effects[since:]

    # ---- time ------------------------------------------------------------------------------------------
    def fire(self, payload: Any) -> list[Effect]:
        """The earliest pending timer with this payload goes off (the clock moves to its due time)."""
        due = sorted((p for p in self.pending if p[3].payload == payload), key=lambda p: p[:2])
        assert due, f"no pending {payload!r} timer"
        self.pending.remove(due[0])
        self.now = max(self.now, due[0][0])
        return self.deliver_to(*due[0][2], Wake(payload))

    def timers(self, payload: Any = None) -> list[Timer]:
        return [p[3] for p in sorted(self.pending, key=lambda p: p[:2]) if payload is None or p[3].payload == payload]

    # ---- what happened -----------------------------------------------------------------------------------
    @property
    def effects(self) -> list[Effect]:
        return [e for _, e in self.trace]

    def effects_of(self, who: str, since: int = 0) -> list[Effect]:
        """What `who` ("kind:key") did, from trace position `since`."""
        return [e for w, e in self.trace[since:] if w == who]

    def logs(self, level: str | None = None, event: str | None = None) -> list[Log]:
        return [e for e in self.effects if isinstance(e, Log) and level in (None, e.level) and event in (None, e.event)]

    def pushes(self) -> list[Any]:
        return pushed(self.effects)

    # ---- performing ----------------------------------------------------------------------------------------
    def _perform(self, address: Address, effects: Iterable[Effect]) -> None:
        who = f"{getattr(address[0], 'value', address[0])}:{address[1]}"  # a kind may be an enum member
        state = self.actors[address]

        def traced(effects: Iterable[Effect]) -> Iterator[Effect]:
            for effect in effects:
                self.trace.append((who, effect))
                yield effect

        def decide(event: Any) -> Iterator[Effect]:
            return traced(state.handle(event, self.now))

        outer, self.acting = self.acting, address
        try:
            perform_effects(traced(effects), _Hands(self, address), decide)
        finally:
            self.acting = outer


class _Hands:
    """The world's hands for one actor's effects (see the module's docstring)."""

    def __init__(self, world: PureWorld, address: Address) -> None:
        self.world, self.address = world, address
        self.state = world.actors[address]

    def save(self, effect: Save) -> None:
        world, (kind, key) = self.world, self.address
        world.saves += 1
        if world.store is not None:
            world.versions[self.address] = world.store.save(kind, key, self.state.snapshot(),
                                                            world.versions.get(self.address, 0), self.state.SCHEMA)
        if world.keep_saves:
            world.saved[self.address] = encode(self.state.snapshot())

    def save_row(self, effect: SaveRow) -> None:
        store, rows = self.world.store, self.state.ROWS
        if store is None:
            return
        version = self.world.row_versions.pop((rows, effect.key), 0)
        if effect.data is not None:
            self.world.row_versions[(rows, effect.key)] = store.save(rows, effect.key, effect.data, version,
                                                                     self.state.SCHEMA)
        elif version:
            store.delete(rows, effect.key, version)

    def tell(self, effect: Tell) -> None:
        self.world.tell(effect.kind, effect.key, effect.body)

    def resume(self, effect: Resume) -> None:
        self.world.tell(*self.address, effect.body)

    def push(self, effect: Push) -> None:
        fact = effect.fact
        self.world.routes[(fact.kind, fact.key)] = fact.value
        if self.world.store is not None:
            self.world.store.put_route(fact.kind, fact.key, fact.value)

    def timer(self, effect: Timer) -> None:
        self.world.pending.append((self.world.now + effect.delay_s, next(self.world._order), self.address, effect))

    def call(self, effect: Call, answer: Callable[[Any], None]) -> None:
        service = self.world.services.get(effect.service)
        assert service is not None, f"unexpected call {effect}"
        result = service(effect)
        if result is not HOLD:
            answer(result)

    def work_done(self, effect: WorkDone) -> None:
        if self.world.store is not None:
            self.world.store.work_done(effect.trigger_id, effect.reply_id)

    def work_ack(self, effect: WorkAck) -> None:
        if self.world.store is not None:
            self.world.store.work_ack(effect.trigger_id, effect.patience_s)

    def reply(self, effect: Reply) -> None:
        """Nobody asks in this world: a reply is read from the trace."""

    def count(self, effect: Any) -> None:
        """Metrics are read from the trace."""

    observe = log = count
