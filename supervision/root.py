"""Root: the top of the tree. It starts every shard and singleton, routes messages to shards, redelivers dead
letters, and, on a tree over several nodes (`bot.py node`), places the shards on the member nodes and keeps
them there with heartbeats (`supervision/nodes.py`, `supervision/placement.py`).
"""

from __future__ import annotations

import os
import time
from datetime import timedelta
from typing import Any

from thespian.actors import ActorExitRequest, ActorSystemConventionUpdate, DeadEnvelope, WakeupMessage

from supervision import nodes
from supervision.placement import LOCAL, moves, place
from supervision.policy import LIVE, STARTING, ChildTable, Effect, Log, Stop
from supervision.procs import parents, pid_alive, stop_admin_from_inside
from supervision.protocol import (
    Bounced,
    ChildStart,
    Deliver,
    Directory,
    DirectoryRequest,
    Failed,
    GroupSpec,
    Heartbeat,
    HeartbeatAck,
    ShardSpec,
    TreeSpec,
)
from supervision.sharding import shard_key, shard_of
from supervision.supervisor import LIVENESS, Supervisor, policy_from

HEARTBEAT = "supervision.heartbeat"
PLACE = "supervision.place"
LIVE_OR_STARTING = (LIVE, STARTING)
SHARD_CLASS = "supervision.supervisor.Shard"


class Root(Supervisor):
    """Top of the tree: starts every shard and singleton, routes messages to shards, redelivers dead letters."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.tree: TreeSpec | None = None
        self._groups: dict[str, GroupSpec] = {}
        self._singletons: dict[str, str] = {}
        self._shard_keys: list[str] = []
        # A tree over several nodes (TreeSpec.nodes): where each shard runs, and who answers.
        self.members: dict[str, Any] = {}  # member node name -> its admin's address
        self.suspect: set[str] = set()  # members whose shards stopped answering: nothing new is placed there
        self.placed: dict[str, str] = {}  # shard key -> node (LOCAL: this actor system)
        self.moving: dict[str, str] = {}  # shard key -> the node it was stopped to move to
        self.beats: nodes.Heartbeats | None = None

    def on_start(self, start: ChildStart) -> None:
        # Whoever starts Root (the bridge) hears what the tree publishes, unless it named another outlet.
        self.outlet = self.outlet or self.starter
        self.tree = start.spec
        self._groups = {g.name: g for g in self.tree.groups}
        self._singletons = dict(self.tree.singletons)
        self.table = ChildTable(policy_from(start.settings, permanent=True, live_cap=None))
        self.handleDeadLetters(startHandling=True)
        now = time.time()
        self._shard_keys = [shard_key(g.name, i) for g in self.tree.groups for i in range(g.shards)]
        keys = self._shard_keys + list(self._singletons)
        self._shard_cap = max(1, start.settings.live_actor_cap // max(1, len(self._shard_keys)))
        now_keys = keys
        if self.tree.nodes:
            # Members already running register within a period or two: place the shards once they have.
            period = start.settings.node_heartbeat_s
            self.beats = nodes.Heartbeats(period)
            self.notifyOnSystemRegistrationChanges(True)
            self.wakeupAfter(timedelta(seconds=2 * period), payload=PLACE)
            self.wakeupAfter(timedelta(seconds=period), payload=HEARTBEAT)
            now_keys = list(self._singletons)
        for key in now_keys:
            self.perform(self.table.ensure(key, now))
        helpers = [p for p in parents().get(os.getppid(), []) if p != os.getpid()]
        self.log("info", "started", f"{len(keys)} children; admin pid {os.getppid()}; "
                 + "; ".join(f"logger pid {p}" for p in helpers))
        self.start_liveness()

    def child_kind(self, key: str) -> str:
        return "shard" if "/" in key else key

    def receiveMsg_WakeupMessage(self, msg: WakeupMessage, sender: Any) -> None:
        owner = self.tree.owner_pid if self.tree is not None else None
        if msg.payload == LIVENESS and owner is not None and not pid_alive(owner):
            # Thespian's admin outlives the process that started it; without its owner the tree must go,
            # or it would hold its port and its data files until someone kills it by hand.
            self.log("warning", "orphan_exit", f"owner pid {owner} is gone: stopping the actor system")
            self._exiting = True
            stop_admin_from_inside(os.getpid())  # Thespian's admin and logger; the shards exit as orphans
            self.exit_now()
            return
        if msg.payload == PLACE:
            for key in self._shard_keys:
                self.perform(self.table.ensure(key, time.time()))
        elif msg.payload == HEARTBEAT:
            self._heartbeat()
        else:
            super().receiveMsg_WakeupMessage(msg, sender)

    # ---- several nodes ---------------------------------------------------------------------------
    def receiveMsg_ActorSystemConventionUpdate(self, msg: ActorSystemConventionUpdate, sender: Any) -> None:
        name = str((msg.remoteCapabilities or {}).get(nodes.CAPABILITY) or "")
        if not name or self.beats is None:
            return
        if msg.remoteAdded:
            self.members[name] = msg.remoteAdminAddress
            self.suspect.discard(name)
            self.log("info", "node_joined", f"node {name} joined ({len(self.members)} member node(s))")
            self._rebalance()
        elif self.members.pop(name, None) is not None:
            self.log("warning", "node_left", f"node {name} left the convention: its shards start elsewhere")
            self._give_up(name, f"node {name} left the convention")

    def receiveMsg_HeartbeatAck(self, msg: HeartbeatAck, sender: Any) -> None:
        if self.beats is not None:
            self.beats.answered(msg.key, msg.seq, time.time())
            self.suspect.discard(self.placed.get(msg.key, LOCAL))

    def _heartbeat(self) -> None:
        assert self.beats is not None and self.table is not None
        now = time.time()
        for key, silent_s in self.beats.silent(now):
            node = self.placed.get(key, LOCAL)
            child = self.table.children.get(key)
            if node != LOCAL and child is not None and child.address is not None and child.status in LIVE_OR_STARTING:
                address = child.address
                self.child_gone(address, "liveness_miss", f"node {node}: no heartbeat for {silent_s:.1f} s")
                self.send(address, ActorExitRequest())  # if it is only slow, it stops now rather than at its fence
        seq = self.beats.sent()
        for key, child in self.table.children.items():
            node = self.placed.get(key, LOCAL)
            if node != LOCAL and node not in self.suspect and child.address is not None and child.status == LIVE:
                self.send(child.address, Heartbeat(seq))
        self.wakeupAfter(timedelta(seconds=self.beats.period_s), payload=HEARTBEAT)

    def child_gone(self, address: Any, event: str, why: str = "") -> None:
        """A shard on another node that is gone makes its node suspect until one of its shards answers again:
        its successor starts on a node that answers, and no heartbeat waits on a dead address."""
        if self.beats is not None and self.table is not None:
            key = self.table.key_of(address)
            node = self.placed.get(key, LOCAL) if key is not None else LOCAL
            if key is not None and key in self.moving:  # stopped to move: it starts on its new node
                self.placed[key] = self.moving.pop(key)
            elif node != LOCAL:
                self.suspect.add(node)
                if key is not None:
                    self.beats.forget(key)
        super().child_gone(address, event, why)

    def _give_up(self, node: str, why: str) -> None:
        """Every shard on `node` is gone: each restarts (on a node that answers) with what Root held for it."""
        assert self.table is not None
        for key, where in list(self.placed.items()):
            child = self.table.children.get(key)
            if where == node and child is not None and child.address is not None and child.status in LIVE_OR_STARTING:
                self.child_gone(child.address, "liveness_miss", why)

    def _up(self) -> list[str]:
        return [name for name in self.members if name not in self.suspect]

    def _rebalance(self) -> None:
        """A node joined: move to it its share of the live shards (each stops, and restarts there)."""
        assert self.table is not None
        if self.suspect:
            return  # not while a node's shards are being given up: they move one by one as that happens
        target_of = place(self._shard_keys, self._up(), self.placed)
        for key in moves(self._shard_keys, self._up(), self.placed):
            child = self.table.children.get(key)
            target = target_of[key]
            if child is None or child.status != LIVE or child.address is None or key in self.moving or not target:
                continue  # placed when it next starts (never moved back to the leader while it lives)

            self.log("info", "shard_moving", f"{key}: from node {self.placed.get(key) or 'leader'} to {target}")
            self.moving[key] = target
            self.perform([Stop(key, child.address)])

    def placement(self, key: str) -> dict[str, Any] | None:
        node = self.placed.get(key, LOCAL)
        return None if node == LOCAL or key not in self._shard_keys else {nodes.CAPABILITY: node}

    def child_alive(self, pid: int) -> bool:
        """A shard on another node is watched by heartbeats: its pid means nothing on this host."""
        assert self.table is not None
        remote = {c.pid for k, c in self.table.children.items() if self.placed.get(k, LOCAL) != LOCAL}
        return pid in remote or pid_alive(pid)

    def child_start(self, key: str) -> ChildStart:
        directory = self.current_directory()
        if key in self._singletons:
            cls = self._singletons[key]
            return ChildStart(key, key, self.settings, None, cls, self.myAddress, self.outlet, directory)
        name, index = key.split("/", 1)
        fence_s = None
        if self.beats is not None:
            target = place(self._shard_keys, self._up(), self.placed)[key]
            if target != self.placed.get(key, LOCAL):
                self.log("info", "shard_placed", f"{key}: on node {target or 'leader'}")
            self.placed[key] = target
            if target != LOCAL:
                fence_s = self.beats.period_s * (nodes.MISSES - 1)  # it stops before Root gives it up
                self.beats.started(key, time.time())
        spec = ShardSpec(self._groups[name], int(index), self._shard_cap, fence_s)
        return ChildStart("shard", key, self.settings, spec, SHARD_CLASS, self.myAddress, self.outlet, directory)

    def route(self, msg: Deliver) -> str:
        """The child of Root that owns this message: a singleton by name, else the key's shard."""
        if msg.kind in self._singletons:
            return msg.kind
        group = self._groups[msg.kind]
        return shard_key(group.name, shard_of(msg.key, group.shards))

    def on_deliver(self, msg: Deliver) -> None:
        assert self.table is not None
        if msg.kind not in self._groups and msg.kind not in self._singletons:
            if msg.reply_to is not None:
                reason = f"no such actor kind {msg.kind!r}"
                self.send(msg.reply_to, Failed(msg.ref, msg.kind, msg.key, "-", reason))
            return
        self.perform(self.table.deliver(self.route(msg), msg, time.time()))

    def receiveMsg_DirectoryRequest(self, msg: DirectoryRequest, sender: Any) -> None:
        self.send(sender, self.current_directory())

    def current_directory(self) -> Directory:
        """Every child of Root, a child that is not serving without an address, and every group's shard count."""
        assert self.table is not None and self.tree is not None
        children = tuple(
            (k, c.address, c.pid) if c.status == LIVE else (k, None, None) for k, c in self.table.children.items()
        )
        return Directory(children, tuple((g.name, g.shards) for g in self.tree.groups))

    def perform(self, effects: list[Effect]) -> None:
        super().perform(effects)
        if any(isinstance(e, Log) and e.event in ("exited", "liveness_miss") for e in effects):
            self.publish_directory()  # a child went down: its messages come to Root (which holds them) meanwhile

    def child_ready(self, key: str) -> None:
        self.publish_directory()
        if self.beats is not None and key in self._shard_keys:
            self._rebalance()  # a node that joined while this shard was starting gets its share now

    def publish_directory(self) -> None:
        """Every shard, and the outlet, learn at once where each child of Root is, or that it is down
        (a shard's children learn it from their shard)."""
        directory = self.current_directory()
        assert self.table is not None
        for child in self.table.children.values():
            if child.address is not None and child.status == "live":
                self.send(child.address, directory)
        if self.outlet is not None:
            self.send(self.outlet, directory)

    def receiveMsg_Bounced(self, msg: Bounced, sender: Any) -> None:
        """A dead letter a shard on another node caught, for a key whose shard is down (or unknown there)."""
        self.receiveMsg_DeadEnvelope(DeadEnvelope(msg.dead, msg.message), sender)

    def receiveMsg_DeadEnvelope(self, msg: DeadEnvelope, sender: Any) -> None:
        """A message could not reach a dead actor: note the death at once and deliver it again."""
        assert self.table is not None
        dead, lost = msg.deadAddress, msg.deadMessage
        ours = self.table.key_of(dead) is not None
        if ours:  # one of our shards or singletons
            self.child_gone(dead, "liveness_miss", "a message to it bounced")
        if not isinstance(lost, Deliver):
            return
        if ours or lost.kind in self._singletons:
            self.on_deliver(lost)  # to the child's successor (held for it while it restarts)
        elif lost.kind in self._groups:  # sent to a dead actor under a shard: its shard delivers it again
            self.perform(self.table.deliver(self.route(lost), Bounced(dead, lost), time.time()))
