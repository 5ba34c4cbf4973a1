"""The thin Thespian shell shared by every stateful actor: load, decide, perform, write through, answer.

A subclass names its pure state class (`state_class`) and the collaborators it may call (`make_services`);
this shell is the only place that touches the store, the network or other actors for it, so the state class
is tested without any actor system.
"""

from __future__ import annotations

import logging
import time
import traceback
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

from actors.effects import (
    Call,
    Count,
    Effect,
    Log,
    Observe,
    Push,
    Reply,
    Resume,
    Save,
    SaveRow,
    Tell,
    Timer,
    Wake,
    WorkAck,
    WorkDone,
)
from actors.perform import perform_effects
from observability.events import EventLog
from store import StaleWrite, open_store
from store.idle import release_idle
from store.sqlite import encode
from supervision.child import SupervisedChild
from supervision.protocol import Answer, ChildStart, Deliver, Failed

log = logging.getLogger("tzurot.actors")
RELEASE_IDLE = "actors.release_idle_connection"


class StatefulActor(SupervisedChild):
    state_class: ClassVar[type]

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.state: Any = None
        self.version = 0
        self.store: Any = None
        self.services: dict[str, Any] = {}
        self._depth: int | None = None
        self._store_failing = False  # the last save failed (store_failed was logged)
        self.row_versions: dict[str, int] = {}  # for a state kept one row per item: each row's version
        self._release_pending = False  # a timer will close the database connection once it is idle

    # ---- collaborators (a test double overrides these) ----------------------------------------
    def open_store(self, start: ChildStart) -> Any:
        return open_store(start.settings)

    def make_services(self, start: ChildStart) -> dict[str, Any]:
        return {}

    def restore_args(self) -> dict[str, Any]:
        """What the state class is handed besides its row and the settings (e.g. an id source): the clock comes
        with every message, anything else from the outside world comes from here, so the state stays pure."""
        return {}

    # ---- lifecycle ------------------------------------------------------------------------------
    def on_start(self, start: ChildStart) -> None:
        self.events = EventLog.in_dir(start.settings.data_dir, echo_level="warning",
                                     max_bytes=start.settings.log_max_bytes, keep=start.settings.log_keep)
        self.store = self.open_store(start)
        record = self.store.load(self.state_class.KIND, start.key)
        if record.quarantined:
            self.log("error", "quarantined", f"unreadable stored state moved aside: {record.quarantined}")
        try:
            self.state, first = self._restore(start, record.state)
            self.version = record.version
        except Exception as exc:
            if record.state is None:
                raise  # nothing was stored: a bug in the state class, not bad data
            # A row that decoded but is not a state (wrong types or shape): set it aside and start clean, as
            # for an undecodable one; failing the start instead would restart us into the same row until parked.
            reason = f"{type(exc).__name__}: {exc}"[:300]
            quarantine = getattr(self.store, "quarantine", None)  # a test double may have none: then overwrite
            if quarantine is not None:
                quarantine(self.state_class.KIND, start.key, record.version, reason)
            self.log("error", "quarantined", f"stored state that cannot be restored moved aside: {reason}")
            self.state, first = self._restore(start, None)
            self.version = 0 if quarantine is not None else record.version
        self.services = self.make_services(start)
        self.perform(first, None)
        self._arm_release()

    def _restore(self, start: ChildStart, data: dict[str, Any] | None) -> tuple[Any, list[Effect]]:
        """The state made from `data` and its first effects; raises when `data` does not make a savable state."""
        state = self._rebuild(start.key, data, start.settings)
        encode(state.snapshot())  # a state that cannot be written back would fail every later save
        return state, (state.on_start(time.time()) if hasattr(state, "on_start") else [])

    def _rebuild(self, key: str, data: dict[str, Any] | None, settings: Any) -> Any:
        """The state from its own row, and, for a state kept one row per item (`ROWS`), from every item's row.
        An item row the state cannot use is set aside like an unreadable actor row."""
        state = self.state_class.restore(key, data, settings, **self.restore_args())
        kind = getattr(self.state_class, "ROWS", None)
        if kind is None:
            return state
        records = self.store.load_all(kind)
        for item, record in records.items():
            if record.quarantined:
                self.log("error", "quarantined", f"unreadable {kind} {item!r} moved aside: {record.quarantined}")
        self.row_versions = {item: r.version for item, r in records.items() if r.state is not None}
        rejected = state.restore_rows({item: r.state for item, r in records.items() if r.state is not None})
        for item, reason in rejected.items():
            self.store.quarantine(kind, item, self.row_versions.pop(item), reason)
            self.log("error", "quarantined", f"{kind} {item!r} that cannot be restored moved aside: {reason}")
        return state

    def on_stop(self) -> None:
        for service in self.services.values():
            close = getattr(service, "close", None)
            if close is not None:
                close()

    def on_deliver(self, msg: Deliver) -> None:
        self.decide(msg.body, msg)
        self._arm_release()
        depth = self.state.depth() if hasattr(self.state, "depth") else None
        if depth is not None and depth != self._depth:
            self._depth = depth
            self.level(f"{self.kind}_depth", depth)

    def on_timer(self, payload: Any) -> None:
        if payload == RELEASE_IDLE:
            self._release_pending = False
        else:
            self.decide(Wake(payload), None)
        self._arm_release()

    def _arm_release(self) -> None:
        """An idle actor keeps no database connection (PostgreSQL's are few): after TZUROT_DATABASE_IDLE_S
        without use it is closed, and the next use opens it again. SQLite's handle costs nothing: never armed."""
        if self._release_pending:
            return
        wait = release_idle()
        if wait > 0:
            self._release_pending = True
            self.wakeupAfter(timedelta(seconds=wait + 0.05), payload=RELEASE_IDLE)

    def decide(self, body: Any, msg: Deliver | None) -> None:
        """Let the state decide, and perform what it decided. No exception reaches Thespian: it would log the
        message whole (a user's text, even a key). As Thespian would, try once more from what is stored; then
        give up with a reference id that the log and the asker (and, through the state, the user) share."""
        for _attempt in (1, 2):
            try:
                self.perform(self.state.handle(body, time.time()), msg)
                return
            except StaleWrite:
                self._answer_failed(msg, "-", "a newer copy of this actor took over")
                return  # we are the stale copy and are stopping; the live one gets what is handed on again
            except Exception as exc:  # noqa: BLE001 - reported below by type and place, never by content
                error = exc
                self._forget_unsaved()
                if self._exiting:
                    return
        reference = new_reference()
        self.log("error", "failed", f"ref {reference}: {type(body).__name__} raised {where(error)}")
        self._answer_failed(msg, reference, "handler failed")
        try:
            now = time.time()
            apology = self.state.failed(body, reference, now) if hasattr(self.state, "failed") else []
            resume = self.state.on_start(now) if hasattr(self.state, "on_start") else []
            self.perform([*apology, *resume], None)
        except Exception as exc:  # noqa: BLE001 - nothing more can be done for this message
            self.log("error", "failed", f"ref {reference}: answering the failure raised {where(exc)}")

    def _answer_failed(self, msg: Deliver | None, reference: str, reason: str) -> None:
        if msg is not None and msg.reply_to is not None:
            self.send(msg.reply_to, Failed(msg.ref, msg.kind, msg.key, reference, reason))

    # ---- effects --------------------------------------------------------------------------------
    def perform(self, effects: list[Effect], msg: Deliver | None) -> None:
        perform_effects(effects, ShellHands(self, msg), lambda event: self.state.handle(event, time.time()))

    def call(self, effect: Call) -> Any:
        """Run a collaborator; an exception becomes the result, so the state class decides what it means."""
        try:
            return getattr(self.services[effect.service], effect.method)(*effect.args)
        except Exception as exc:  # noqa: BLE001 - handed to the pure state class as data
            return exc

    def _forget_unsaved(self) -> None:
        """Go back to what is stored, so that trying the message again makes (and saves) the change again,
        instead of finding it already made in memory and answering success for an unsaved change."""
        try:
            record = self.store.load(self.state_class.KIND, self.key)
            self.state = self._rebuild(self.key, record.state, self.settings)
            self.version = record.version
        except Exception:  # the store is down: the redelivery fails too, and the asker is told so
            pass

    def save(self) -> None:
        cls = self.state_class
        self.version = self._write(lambda: self.store.save(cls.KIND, self.key, self.state.snapshot(), self.version,
                                                           cls.SCHEMA))

    def save_row(self, item: str, data: dict[str, Any] | None) -> None:
        """Write one item's row through (None: delete it), fenced by its own row version like the actor's row."""
        kind, version = self.state_class.ROWS, self.row_versions.get(item, 0)
        if data is None:
            if version:
                self._write(lambda: self.store.delete(kind, item, version))
            self.row_versions.pop(item, None)
        else:
            self.row_versions[item] = self._write(
                lambda: self.store.save(kind, item, data, version, self.state_class.SCHEMA))

    def _write(self, write: Callable[[], Any]) -> Any:
        try:
            result = write()
        except StaleWrite as exc:
            # Another copy of this actor wrote after us: we are the stale one, so we must not go on.
            self.log("error", "stale_copy", str(exc))
            self.exit_now()
            raise
        except Exception as exc:
            # The store itself failed (disk full, database locked, I/O error): say so by a stable name, once
            # until a save succeeds again (the retry and every later message would repeat it), then fail the
            # message (`decide` tries once more, then answers with a reference).
            if not self._store_failing:
                self._store_failing = True
                self.events.emit("error", "store_failed", self.kind, self.key, f"{type(exc).__name__}: {exc}"[:300])
            raise
        if self._store_failing:
            self._store_failing = False
            self.events.emit("info", "store_recovered", self.kind, self.key, "a save succeeded again")
        return result


def new_reference() -> str:
    """A short random id that a user, the asker and the log share for one failure."""
    return uuid.uuid4().hex[:8]


class ShellHands:
    """What each effect does in production, for one message (`msg`, None for a timer or a start): see
    actors/perform.py for the order they are performed in."""

    def __init__(self, actor: StatefulActor, msg: Deliver | None) -> None:
        self.actor, self.msg = actor, msg

    def save(self, effect: Save) -> None:
        self.actor.save()

    def save_row(self, effect: SaveRow) -> None:
        self.actor.save_row(effect.key, effect.data)

    def reply(self, effect: Reply) -> None:
        if self.msg is not None and self.msg.reply_to is not None:
            self.actor.send(self.msg.reply_to, Answer(self.msg.ref, effect.body))

    def tell(self, effect: Tell) -> None:
        self.actor.deliver(str(effect.kind), str(effect.key), effect.body)  # plain strings for supervision

    def resume(self, effect: Resume) -> None:
        actor = self.actor
        actor.send(actor.myAddress, Deliver(actor.kind, actor.key, effect.body, reply=False))

    def push(self, effect: Push) -> None:
        fact = effect.fact
        self.actor.store.put_route(fact.kind, fact.key, fact.value)  # the edge reloads these at start
        self.actor.publish(fact)

    def timer(self, effect: Timer) -> None:
        self.actor.wakeupAfter(timedelta(seconds=effect.delay_s), payload=effect.payload)

    def call(self, effect: Call, answer: Callable[[Any], None]) -> None:
        answer(self.actor.call(effect))

    def work_done(self, effect: WorkDone) -> None:
        self.actor.store.work_done(effect.trigger_id, effect.reply_id)

    def work_ack(self, effect: WorkAck) -> None:
        self.actor.store.work_ack(effect.trigger_id, effect.patience_s)

    def count(self, effect: Count) -> None:
        self.actor.count(effect.name, *effect.labels, amount=effect.amount)

    def observe(self, effect: Observe) -> None:
        self.actor.observe(effect.name, effect.value)

    def log(self, effect: Log) -> None:
        ids = {k: v for k, v in (("user", effect.user), ("channel", effect.channel), ("trigger", effect.trigger))
               if v is not None}
        self.actor.events.emit(effect.level, effect.event, self.actor.kind, self.actor.key, effect.detail, **ids)


def where(exc: BaseException) -> str:
    """`ValueError at actors/state/user.py:120 (_heard)`: enough for an operator to find it; never the exception's
    text, which can quote the data being handled (a user's words)."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return type(exc).__name__
    last = frames[-1]
    parts = Path(last.filename).parts
    return f"{type(exc).__name__} at {'/'.join(parts[-3:])}:{last.lineno} ({last.name})"
