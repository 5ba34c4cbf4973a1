"""Thespian shells around the pure ChildTable: a Shard supervises one slice of a group's keys (Root, in
`supervision/root.py`, supervises the shards).

Both are one_for_one: a child's failure restarts that child only. Both run the same liveness tick, because
Thespian's exit notices can be lost: a child whose pid is gone is treated as exited even without a notice.
"""

from __future__ import annotations

import os
import time
import uuid
from datetime import timedelta
from typing import Any

from thespian.actors import (
    ActorExitRequest,
    ChildActorExited,
    DeadEnvelope,
    PoisonMessage,
    WakeupMessage,
)

from supervision import nodes
from supervision.child import SupervisedChild
from supervision.peers import Origin, PeerGone
from supervision.policy import ChildTable, Effect, Forward, Log, Policy, Refuse, Schedule, Spawn, Stop
from supervision.procs import exit_status, pid_alive, spawned_process, stop_admin_from_inside
from supervision.protocol import (
    Bounced,
    ChildReady,
    ChildStart,
    ChildStatus,
    Deliver,
    Directory,
    Failed,
    GroupSpec,
    Heartbeat,
    HeartbeatAck,
    StatusRequest,
    SupervisorStatus,
    Touched,
    Unavailable,
    Undelivered,
)
from supervision.runtime import freeze_heap
from supervision.sharding import shard_of
from supervision.storm import StormWatch

LIVENESS = "supervision.liveness"
FENCE = "supervision.fence"


def policy_from(settings: Any, permanent: bool, live_cap: int | None) -> Policy:
    return Policy(
        backoff_first_s=settings.backoff_first_s,
        backoff_max_s=settings.backoff_max_s,
        max_restarts=settings.intensity_max_restarts,
        window_s=settings.intensity_window_s,
        park_cooldown_s=settings.park_cooldown_s,
        idle_s=None if permanent else settings.idle_passivate_s,
        live_cap=live_cap,
        pending_cap=settings.pending_cap,
    )


class Supervisor(SupervisedChild):
    """Shared shell: performs the table's effects. Subclasses say which class a key runs and how it starts."""

    relay_via_parent = False  # supervisors route by the directory themselves

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.table: ChildTable | None = None
        self.directory: Directory | None = None
        self.storm = StormWatch()
        self._procs: dict[str, Any] = {}  # key -> the child's multiprocessing.Process, until its exit is seen
        self._child_pids: dict[str, int] = {}  # key -> the pid of its latest process, named in every log line

    # ---- what subclasses provide --------------------------------------------------------------
    def child_kind(self, key: str) -> str:
        raise NotImplementedError

    def child_start(self, key: str) -> ChildStart:
        raise NotImplementedError

    def child_alive(self, pid: int) -> bool:
        """The liveness tick's test of a child's pid (a child on another node is Root's heartbeats' business)."""
        return pid_alive(pid)

    def placement(self, key: str) -> dict[str, Any] | None:
        """Thespian's requirements for where the child runs (None: this actor system)."""
        return None

    # ---- effects ------------------------------------------------------------------------------
    def perform(self, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, Forward):
                self.send(effect.address, effect.message)
                self.count("deliver_sends", "forwarded")
            elif isinstance(effect, Spawn):
                start = self.child_start(effect.key)
                address = self.createActor(start.child_class, targetActorRequirements=self.placement(effect.key))
                assert self.table is not None
                self.table.spawned(effect.key, address, time.time())
                self._keep_process(effect.key, spawned_process(getattr(self, "_myRef", None), address))
                self.send(address, start)
            elif isinstance(effect, Stop):
                self.send(effect.address, ActorExitRequest())
            elif isinstance(effect, Refuse):
                self._refuse(effect)
            elif isinstance(effect, Schedule):
                self.wakeupAfter(timedelta(seconds=effect.delay_s), payload=effect.payload)
            elif isinstance(effect, Log):
                self.child_log(effect.level, effect.event, effect.key, effect.detail)
        if self.table is not None and len(self._child_pids) > len(self.table.children):
            for key in [k for k in self._child_pids if k not in self.table.children]:  # passivated for good
                self._child_pids.pop(key, None)
                self._procs.pop(key, None)

    def _keep_process(self, key: str, process: Any) -> None:
        if process is None:  # no handle (simpleSystemBase): its exits say "status unknown"
            self._procs.pop(key, None)
            self._child_pids.pop(key, None)
        else:
            self._procs[key] = process
            self._child_pids[key] = process.pid

    def ended(self, key: str) -> str:
        """How the child's process ended (`killed by signal 9 (SIGKILL)`), or "" if unknown or still running."""
        status = exit_status(self._procs.get(key))
        if status:
            self._procs.pop(key, None)  # reaped: nothing more to learn from it
        return status

    def child_gone(self, address: Any, event: str, why: str = "") -> None:
        """A child is gone: `why` says how we know (empty for an exit notice), its process handle how it ended."""
        assert self.table is not None
        key = self.table.key_of(address)
        detail = "; ".join(part for part in (why, self.ended(key) if key is not None else "") if part)
        self.perform(self.table.exited(address, time.time(), event, detail))

    def child_log(self, level: str, event: str, key: str, detail: str) -> None:
        if event in ("restarted", "parked", "liveness_miss", "exited", "passivated", "activated", "failed"):
            self.count(f"actor_{event}", self.child_kind(key))
        if self.slog is not None:
            child_pid = self._child_pids.get(key)
            self.slog.emit(level, event, self.child_kind(key), key, detail, supervisor=self.key, child_pid=child_pid)
        if event == "restarted" and (count := self.storm.restarted(time.time())) is not None:
            self.log("warning", "restart_storm", f"{count} child restarts in {self.storm.window_s:g}s "
                     f"(more than {self.storm.limit}); last: {self.child_kind(key)}/{key}", count=count)

    def _refuse(self, effect: Refuse) -> None:
        """Answer an ask with Unavailable; publish a refused tell to the outlet (nobody else would hear of it)."""
        msg = effect.message.message if isinstance(effect.message, Bounced) else effect.message
        if not isinstance(msg, Deliver):
            return
        retry = max(0.1, round(effect.retry_after_s, 1))
        if msg.reply_to is not None:
            self.send(msg.reply_to, Unavailable(msg.ref, msg.kind, msg.key, retry, effect.reason))
        elif not msg.reply:
            self.publish(Undelivered(msg.kind, msg.key, msg.body, retry, effect.reason))

    # ---- Thespian handlers --------------------------------------------------------------------
    def receiveMsg_ChildReady(self, msg: ChildReady, sender: Any) -> None:
        if self.table is not None:
            child = self.table.children.get(msg.key)
            if child is not None and child.address == sender:
                self._child_pids[msg.key] = msg.pid  # what the child says (the spawn's pid, unless no handle)
            self.perform(self.table.ready(msg.key, sender, msg.pid, time.time()))
            self.child_ready(msg.key)

    def child_ready(self, key: str) -> None:
        """A child began serving (Root publishes the new directory)."""

    def receiveMsg_ChildActorExited(self, msg: ChildActorExited, sender: Any) -> None:
        if self.table is not None and not self._exiting:  # while we stop, our children stop with us
            self.child_gone(msg.childAddress, "exited")

    def receiveMsg_PoisonMessage(self, msg: PoisonMessage, sender: Any) -> None:
        """A child raised twice on one message: answer its asker, and restart a child that failed to start."""
        poisoned = msg.poisonMessage
        if isinstance(poisoned, ChildStart) and self.table is not None:
            detail = f"failed to start: {str(msg.details).strip().splitlines()[-1:]}"
            self.perform(self.table.exited(sender, time.time(), "exited", detail))
            self.send(sender, ActorExitRequest())
        elif isinstance(poisoned, Deliver) and poisoned.reply_to is not None:
            reference = uuid.uuid4().hex[:8]
            last = (str(msg.details).strip().splitlines() or ["error"])[-1][:300]
            self.child_log("error", "failed", poisoned.key, f"ref {reference}: {last}")
            self.send(poisoned.reply_to, Failed(poisoned.ref, poisoned.kind, poisoned.key, reference, "handler failed"))

    def receiveMsg_WakeupMessage(self, msg: WakeupMessage, sender: Any) -> None:
        payload = msg.payload
        if payload == LIVENESS and nodes.OWNER_PID and self.key != "root" and not pid_alive(nodes.OWNER_PID):
            # On a member node whose node process is gone: Thespian's admin would live on (holding the port
            # and these shards) until killed by hand.
            self.log("warning", "orphan_exit", f"node process pid {nodes.OWNER_PID} is gone: stopping this node")
            self._exiting = True
            stop_admin_from_inside(os.getpid())
            self.exit_now()
        elif payload == LIVENESS:
            if self.table is not None:
                self.perform(self.table.tick(time.time(), self.child_alive, self.ended))
            self.wakeupAfter(timedelta(seconds=self.settings.liveness_period_s), payload=LIVENESS)
        elif isinstance(payload, tuple) and len(payload) == 3 and self.table is not None:
            self.perform(self.table.timer(payload, time.time()))
        else:
            super().receiveMsg_WakeupMessage(msg, sender)

    def receiveMsg_StatusRequest(self, msg: StatusRequest, sender: Any) -> None:
        self.send(sender, self.status())

    def status(self) -> SupervisorStatus:
        now, rows = time.time(), []
        if self.table is not None:
            for key, c in self.table.children.items():
                idle = now - self.table.last_used.get(key, now)
                rows.append(ChildStatus(key, c.status, c.pid, len(c.restarts), len(c.pending), idle, c.last_error))
        return SupervisorStatus(self.key, os.getpid(), tuple(rows), nodes.NODE_NAME)

    def start_liveness(self) -> None:
        self.wakeupAfter(timedelta(seconds=self.settings.liveness_period_s), payload=LIVENESS)

    def on_stop(self) -> None:
        # Our children are stopped by Thespian with us; their state is already written through.
        self.log("info", "stopped", "supervisor stopping")


class Shard(Supervisor):
    """Supervisor of the keys of one group that hash to this shard; activates children on demand."""

    group: GroupSpec
    index: int  # this shard's index in its group: it serves exactly the keys with shard_of(key) == index
    fence_s: float | None = None
    _last_beat = 0.0

    @staticmethod
    def actorSystemCapabilityCheck(capabilities: dict[str, Any], requirements: dict[str, Any] | None) -> bool:  # noqa: N802
        return nodes.on_node(capabilities, requirements)

    def on_start(self, start: ChildStart) -> None:
        freeze_heap()  # this process forks every actor of the shard: let them share its pages
        self.directory = start.directory
        self.group = start.spec.group
        self.index = start.spec.index
        self.table = ChildTable(policy_from(start.settings, permanent=False, live_cap=start.spec.live_cap))
        self.start_liveness()
        self.fence_s = start.spec.fence_s
        if self.fence_s is not None:  # on another node than Root: stop when Root's heartbeats stop
            self._last_beat = time.monotonic()
            self.wakeupAfter(timedelta(seconds=self.fence_s / nodes.MISSES), payload=FENCE)
            # A message this node's actors sent to a dead actor (one on a node that died) comes back here as a
            # dead letter: only Root's own system hands them to Root. The last shard to ask gets them.
            self.handleDeadLetters(startHandling=True)

    def receiveMsg_Heartbeat(self, msg: Heartbeat, sender: Any) -> None:
        self._last_beat = time.monotonic()
        self.send(sender, HeartbeatAck(self.key, msg.seq))
        if msg.seq % 10 == 0:
            self.handleDeadLetters(startHandling=True)  # again: the shard that held the job may have moved

    def receiveMsg_DeadEnvelope(self, msg: DeadEnvelope, sender: Any) -> None:
        """A Deliver that could not reach a dead actor: to the shard that owns its key (it starts a successor
        and tells a direct sender to forget the dead address), or to Root while that shard is down."""
        if isinstance(msg.deadMessage, Deliver):
            self.receiveMsg_Bounced(Bounced(msg.deadAddress, msg.deadMessage), sender)

    def on_timer(self, payload: Any) -> None:
        if payload != FENCE or self.fence_s is None or self._exiting:
            return
        silent = time.monotonic() - self._last_beat
        if silent > self.fence_s:
            # Root has given us up by now (or is gone): a successor may already serve our keys elsewhere.
            self.log("warning", "fenced", f"no heartbeat from root for {silent:.1f} s: stopping this shard "
                     "and its actors (a successor serves its keys)")
            self.exit_now()
            return
        self.wakeupAfter(timedelta(seconds=self.fence_s / nodes.MISSES), payload=FENCE)

    def child_kind(self, key: str) -> str:
        return self.group.name

    def on_deliver(self, msg: Deliver) -> None:
        """Serve only keys that hash to this shard: any other key (from one of our children, or sent here by a
        stale route) is passed on, to its shard or, while that is down, to Root, which holds it for it."""
        assert self.table is not None
        if msg.kind == self.group.name and shard_of(msg.key, self.group.shards) == self.index:
            self.perform(self.table.deliver(msg.key, msg, time.time()))
        else:
            self.send(self.routes.address(msg.kind, msg.key) or self.root_address, msg)
            self.count("deliver_sends", "forwarded")

    def child_start(self, key: str) -> ChildStart:
        return ChildStart(
            self.group.name, key, self.settings, None, self.group.child_class, self.root_address, self.outlet,
            self.directory,
        )

    def receiveMsg_Directory(self, msg: Directory, sender: Any) -> None:
        """Keep the latest directory for new children, and pass it on to the live ones."""
        self.directory = msg
        self.forget_peers_of(self.routes.update(msg))
        if self.table is not None:
            for child in self.table.children.values():
                if child.address is not None and child.status == "live":
                    self.send(child.address, msg)

    def receiveMsg_Bounced(self, msg: Bounced, sender: Any) -> None:
        assert self.table is not None
        lost = msg.message
        if lost.kind != self.group.name or shard_of(lost.key, self.group.shards) != self.index:
            self.send(self.routes.address(lost.kind, lost.key) or self.root_address, msg)
            return
        self.child_gone(msg.dead, "liveness_miss", "a message to it bounced")
        self.perform(self.table.deliver(msg.message.key, msg.message, time.time()))
        origin = msg.message.origin
        if msg.message.direct and isinstance(origin, Origin):  # its sender knew a dead address: it forgets it
            self.send(origin.address, PeerGone(msg.message.kind, msg.message.key, msg.dead))
            self.child_log("info", "peer_bounced", msg.message.key, f"a message from {origin.kind}/{origin.key} "
                           "to its old address was delivered again; the sender was told to forget that address")

    def receiveMsg_Touched(self, msg: Touched, sender: Any) -> None:
        """A child that peers reach directly is in use, though no message for it passed through us."""
        if self.table is not None:
            self.table.touch(msg.key, time.time())
