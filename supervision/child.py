"""The child's side of supervision: the start handshake and the orphan watch.

Thespian leaves a child running when its supervisor process is SIGKILLed, so every child watches its OS
parent (Thespian forks a child from its parent actor's process): when `getppid()` changes, the parent is gone
and the child exits by itself, at the latest one liveness period later.
"""

from __future__ import annotations

import dataclasses
import gc
import os
import sys
import time
from datetime import timedelta
from typing import Any

from thespian.actors import ActorExitRequest, ActorTypeDispatcher, WakeupMessage

from supervision import nodes
from supervision.log import SupervisorLog
from supervision.metrics import FLUSH_S, MetricsBuffer
from supervision.peers import Origin, PeerGone, Peers
from supervision.procs import die_with_parent
from supervision.protocol import (
    Answer,
    ChildReady,
    ChildStart,
    Deliver,
    Directory,
    ForOutlet,
    Modules,
    ModulesRequest,
    Touched,
)
from supervision.sharding import Routes

ORPHAN_CHECK = "supervision.orphan_check"
FLUSH_METRICS = "supervision.flush_metrics"


def imported_packages() -> tuple[str, ...]:
    """The top-level packages this process has imported, sorted."""
    return tuple(sorted({name.partition(".")[0] for name in list(sys.modules)}))


class SupervisedChild(ActorTypeDispatcher):
    """Base of every supervised actor; subclasses implement `on_start`, `on_deliver`, `on_stop`, `on_timer`.

    A leaf actor talks to its supervisor: what it sends elsewhere (to another actor, to the outlet) goes
    through its shard. Thespian's cost per message grows with a process's open sockets, so this keeps every
    process's socket count bounded: a singleton or the edge sees a few shards, never every user. The one
    exception is a peer in a sharded group that it talks with (a user and the channel it speaks in): once each
    knows the other's address they skip the shards, within a small bound (`supervision/peers.py`).
    """

    relay_via_parent = True
    def __init__(self, *args: Any, **kw: Any) -> None:
        # Everything this process inherited from the one it was forked from is kept out of the garbage
        # collector's reach: a collection writes to every object it visits, which would copy each inherited
        # page into this process (up to 9 MB) instead of sharing it. What it creates itself is collected.
        gc.freeze()
        die_with_parent()  # until the start handshake: then the orphan watch takes over (and logs)
        super().__init__(*args, **kw)
        self.kind = ""
        self.key = ""
        self.settings: Any = None
        self.root_address: Any = None
        self.outlet: Any = None
        self.starter: Any = None  # who sent ChildStart (the supervisor, or the bridge for Root)
        self.routes = Routes()
        self.slog: SupervisorLog | None = None
        self._parent_pid = 0
        self._started = False
        self._exiting = False
        self.metrics = MetricsBuffer()
        self._flush_pending = False
        self.peers = Peers(0)
        self._touched = 0.0  # when we last told our supervisor we are in use

    # ---- callbacks ----------------------------------------------------------------------------
    def on_start(self, start: ChildStart) -> None:
        """Load state. An exception here is a failed start; the supervisor restarts with backoff."""

    def on_deliver(self, msg: Deliver) -> None:
        raise NotImplementedError

    def on_stop(self) -> None:
        """Last chance before exit (passivation, orphan exit). State is written through, so usually empty."""

    def on_timer(self, payload: Any) -> None:
        """A `wakeupAfter` of the subclass fired."""

    # ---- Thespian handlers --------------------------------------------------------------------
    def receiveMsg_ChildStart(self, msg: ChildStart, sender: Any) -> None:
        if self._started:  # a redelivered start: already running
            return
        if nodes.localized(msg.settings) is not msg.settings:  # placed on a member node: its own settings
            msg = dataclasses.replace(msg, settings=nodes.localized(msg.settings))
        self.kind, self.key, self.settings = msg.kind, msg.key, msg.settings
        self.root_address, self.outlet, self.starter = msg.root, msg.outlet, sender
        self.routes.update(msg.directory)
        self.slog = SupervisorLog(self.settings.supervisor_log_path, max_bytes=self.settings.log_max_bytes,
                                  keep=self.settings.log_keep)
        self._parent_pid = os.getppid()
        if self.relay_via_parent:
            self.peers = Peers(getattr(self.settings, "direct_peers", 0))
        self.on_start(msg)
        self._started = True
        self.send(sender, ChildReady(msg.key, os.getpid()))
        die_with_parent(False)
        self._watch()

    def receiveMsg_Deliver(self, msg: Deliver, sender: Any) -> None:
        if msg.reply and msg.reply_to is None:  # asked directly: answer the sender
            msg = dataclasses.replace(msg, reply_to=sender)
        if isinstance(msg.body, ModulesRequest) and (msg.kind, msg.key) == (self.kind, self.key):  # for us
            if msg.reply_to is not None:
                self.send(msg.reply_to, Answer(msg.ref, Modules(os.getpid(), imported_packages())))
            return
        if msg.direct and (msg.kind, msg.key) != (self.kind, self.key):
            # Sent straight to an address that is no longer (kind, key)'s: a new actor got its port. Tell the
            # sender to forget it, and hand the message on the way it would have gone.
            if isinstance(msg.origin, Origin):
                self.send(msg.origin.address, PeerGone(msg.kind, msg.key, self.myAddress))
            msg = dataclasses.replace(msg, direct=False)
            if self.relay_via_parent and self.starter is not None:
                self.send(self.starter, msg)
                return
        elif isinstance(msg.origin, Origin) and self.relay_via_parent:
            if self._exiting and msg.direct and self.starter is not None:
                # We are stopping (passivated): our supervisor holds it for our successor, as for a relayed one.
                self.send(self.starter, dataclasses.replace(msg, direct=False))
                self.log("info", "peer_bounced", f"a message from {msg.origin.kind}/{msg.origin.key} reached us "
                         "while stopping: handed to our supervisor")
                return
            self.peers.heard(msg.origin, self.myAddress)
            if msg.direct:
                self._in_use()
        if not self._exiting:
            self.on_deliver(msg)

    def receiveMsg_PeerGone(self, msg: PeerGone, sender: Any) -> None:
        self.peers.gone(msg.kind, msg.key, msg.address)

    def _in_use(self) -> None:
        """Messages that come straight to us pass our supervisor by: tell it now and then that we are in use,
        or it would passivate us as idle (or as least recently used) in the middle of a conversation."""
        now = time.monotonic()
        if now - self._touched >= min(30.0, self.settings.idle_passivate_s / 4) and self.starter is not None:
            self._touched = now
            self.send(self.starter, Touched(self.key))

    def receiveMsg_Directory(self, msg: Directory, sender: Any) -> None:
        self.forget_peers_of(self.routes.update(msg))

    def forget_peers_of(self, changed: set[str]) -> None:
        """Peers under a shard that restarted (or went down) died with it: relay to their keys again."""
        if changed and len(self.peers):
            self.peers.forget_where(lambda kind, key: self.routes.shard_of_key(kind, key) in changed)

    def deliver(self, kind: str, key: str, body: Any) -> None:
        """Send `body` to the actor for (kind, key): via our supervisor, or (for a supervisor) straight to the
        shard that owns the key, or to Root while the route is unknown."""
        if self.relay_via_parent and self.starter is not None:
            address, origin = None, None
            if self.peers.cap and self.routes.sharded(kind) and self.routes.sharded(self.kind):
                address, origin = self.peers.send(kind, key, (self.kind, self.key, self.myAddress))
            self.send(address or self.starter, Deliver(kind, key, body, reply=False, origin=origin,
                                                       direct=address is not None))
            self.count("deliver_sends", "direct" if address is not None else "relayed")
        else:
            self.send(self.routes.address(kind, key) or self.root_address, Deliver(kind, key, body, reply=False))
            self.count("deliver_sends", "forwarded")

    def publish(self, body: Any) -> None:
        """Send a fact or metrics to the outlet (the edge), through our supervisor."""
        if self.outlet is None:
            return
        if self.relay_via_parent and self.starter is not None:
            self.send(self.starter, ForOutlet(body))
        else:
            self.send(self.outlet, body)

    def receiveMsg_ForOutlet(self, msg: ForOutlet, sender: Any) -> None:
        if self.outlet is not None:
            self.send(self.outlet, msg.body)

    def receiveMsg_WakeupMessage(self, msg: WakeupMessage, sender: Any) -> None:
        if msg.payload == FLUSH_METRICS:
            self._flush_pending = False
            self.flush_metrics()
        elif msg.payload != ORPHAN_CHECK:
            self.on_timer(msg.payload)
        elif os.getppid() != self._parent_pid and self._exiting:
            os._exit(0)  # asked to stop a period ago and still here (a send to the dead parent may never end)
        elif os.getppid() != self._parent_pid:
            self.log("warning", "orphan_exit", f"supervisor pid {self._parent_pid} is gone")
            self.exit_now()
            self._watch()
        else:
            self._watch()

    def receiveMsg_ActorExitRequest(self, msg: ActorExitRequest, sender: Any) -> None:
        if not self._exiting:
            self._exiting = True
            self.on_stop()
            self._leave_peers()
            self.flush_metrics()

    def _leave_peers(self) -> None:
        """We stop: our peers relay to our key again (through the shard, which starts our successor)."""
        for _kind, _key, address in self.peers.addresses():
            self.send(address, PeerGone(self.kind, self.key, self.myAddress))

    # ---- helpers ------------------------------------------------------------------------------
    def count(self, name: str, *labels: str, amount: float = 1.0) -> None:
        self.metrics.inc(name, *labels, amount=amount)
        self._schedule_flush()

    def level(self, name: str, value: float) -> None:
        """Report this actor's current depth of something (a queue): the latest value wins."""
        self.metrics.level(name, self.key, value)
        self._schedule_flush()

    def observe(self, name: str, value: float, *labels: str) -> None:
        self.metrics.observe(name, value, *labels)
        self._schedule_flush()

    def flush_metrics(self) -> None:
        if self.metrics and self.outlet is not None:
            self.publish(self.metrics.drain())

    def _schedule_flush(self) -> None:
        if not self._flush_pending and not self._exiting:
            self._flush_pending = True
            self.wakeupAfter(timedelta(seconds=FLUSH_S), payload=FLUSH_METRICS)

    def log(self, level: str, event: str, detail: str = "", **extra: Any) -> None:
        if self.slog is not None:
            self.slog.emit(level, event, self.kind, self.key, detail, **extra)

    def exit_now(self) -> None:
        """Stop this actor after `on_stop`, through Thespian so its sockets close cleanly."""
        if not self._exiting:
            self._exiting = True
            self.on_stop()
            self._leave_peers()
            self.flush_metrics()
        self.send(self.myAddress, ActorExitRequest())

    def _watch(self) -> None:
        self.wakeupAfter(timedelta(seconds=self.settings.liveness_period_s), payload=ORPHAN_CHECK)
