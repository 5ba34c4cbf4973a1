"""The supervision policy as a pure state machine: which child to start, restart, park or passivate.

A supervisor's Thespian shell feeds it events (a message for a key, a child ready, a child gone, a timer,
a liveness tick) and performs the effects it returns. Nothing here does I/O or imports Thespian, so every
rule (backoff, intensity, parking, passivation, the live-actor cap) is tested directly.

Exit notices from Thespian can be lost or doubled, so every event is idempotent: a notice about an address
that is not current is ignored, and the liveness tick finds children whose notice never came.
"""

from __future__ import annotations

import random
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

STARTING, LIVE, STOPPING, BACKOFF, PARKED = "starting", "live", "stopping", "backoff", "parked"
QUEUED = "queued"  # waiting for room under the live-actor cap before its process is started


@dataclass(frozen=True)
class Policy:
    backoff_first_s: float = 0.1
    backoff_max_s: float = 30.0
    max_restarts: int = 5
    window_s: float = 60.0
    park_cooldown_s: float = 300.0
    idle_s: float | None = 900.0  # None: never passivate (permanent children)
    live_cap: int | None = None
    pending_cap: int = 200

    def backoff(self, restarts_in_window: int, rand: Callable[[], float]) -> float:
        """Exponential delay with +-20 % jitter so children that failed together do not restart together."""
        base = min(self.backoff_max_s, self.backoff_first_s * 2 ** max(0, restarts_in_window - 1))
        return min(self.backoff_max_s, base * (0.8 + 0.4 * rand()))


# Effects the shell performs.
@dataclass(frozen=True)
class Spawn:
    key: str


@dataclass(frozen=True)
class Forward:
    key: str
    address: Any
    message: Any


@dataclass(frozen=True)
class Stop:
    key: str
    address: Any


@dataclass(frozen=True)
class Refuse:
    key: str
    message: Any
    retry_after_s: float
    reason: str


@dataclass(frozen=True)
class Schedule:
    delay_s: float
    payload: tuple[str, str, int]  # (what, key, generation): stale timers are recognised and ignored


@dataclass(frozen=True)
class Log:
    level: str
    event: str
    key: str
    detail: str = ""


Effect = Spawn | Forward | Stop | Refuse | Schedule | Log


@dataclass
class Child:
    key: str
    status: str = STARTING
    address: Any = None
    pid: int | None = None
    generation: int = 0
    pending: deque[Any] = field(default_factory=deque)
    restarts: deque[float] = field(default_factory=deque)
    parked_until: float = 0.0
    last_error: str = ""
    spawned_at: float = 0.0


class ChildTable:
    """All children of one supervisor, keyed by the application's key, least recently used first."""

    def __init__(self, policy: Policy, rand: Callable[[], float] = random.random) -> None:
        self.policy = policy
        self.rand = rand
        self.children: OrderedDict[str, Child] = OrderedDict()
        self.last_used: dict[str, float] = {}

    # ---- events -------------------------------------------------------------------------------
    def deliver(self, key: str, message: Any, now: float) -> list[Effect]:
        """A message for `key`: forward it, queue it while the child starts, or refuse it if parked."""
        self._touch(key, now)
        child = self.children.get(key)
        if child is None:
            child = self.children[key] = Child(key, status=QUEUED)
            child.pending.append(message)
            # Make room (passivate the least recently used), then start it if there is room already.
            return [*self._enforce_cap(now, exclude=key), *self._admit()]
        if child.status == LIVE:
            return [Forward(key, child.address, message)]
        if child.status == PARKED:
            return [Refuse(key, message, max(0.0, child.parked_until - now), child.last_error or "parked")]
        if len(child.pending) >= self.policy.pending_cap:
            return [Refuse(key, message, 1.0, "too many messages waiting for this actor to start")]
        child.pending.append(message)
        return []

    def touch(self, key: str, now: float) -> None:
        """`key` is in use (its messages reach it past us): not idle, and the last to make way for others."""
        if key in self.children:
            self._touch(key, now)

    def ensure(self, key: str, now: float) -> list[Effect]:
        """Start a permanent child now (Root starts every shard at once, not on first use)."""
        if key in self.children:
            return []
        self._touch(key, now)
        return self._spawn(self.children.setdefault(key, Child(key)))

    def spawned(self, key: str, address: Any, now: float = 0.0) -> None:
        """The shell created the child process for `key` (it is not serving until `ready`)."""
        child = self.children[key]
        child.status, child.address, child.pid, child.spawned_at = STARTING, address, None, now

    def ready(self, key: str, address: Any, pid: int, now: float = 0.0) -> list[Effect]:
        """The child loaded its state: hand it everything that waited."""
        child = self.children.get(key)
        if child is None or child.address != address or child.status != STARTING:
            return []
        child.status, child.pid = LIVE, pid
        child.address = address  # the resolved address; the one from createActor was provisional
        took = f" in {(now - child.spawned_at) * 1000:.0f} ms" if now and child.spawned_at else ""
        out: list[Effect] = [Log("info", "activated", key, f"pid {pid}{took}")]
        while child.pending:
            out.append(Forward(key, address, child.pending.popleft()))
        if any(c.status == QUEUED for c in self.children.values()):
            out += self._enforce_cap(now, exclude=key)  # others wait for room: the least recently used make way
        return out

    def exited(self, address: Any, now: float, event: str = "exited", detail: str = "") -> list[Effect]:
        """A child is gone (exit notice, dead letter or liveness miss); idempotent for repeats.

        `detail` says what happened (`killed by signal 9 (SIGKILL)`); the log adds what the child was doing
        unless it was serving (`exited with status 3 (while starting)`)."""
        key = self.key_of(address)
        child = self.children.get(key) if key is not None else None
        if child is None:
            return []
        was, child.address, child.pid = child.status, None, None
        what = (detail or "exited (status unknown)") + ("" if was == LIVE else f" (while {was})")
        out: list[Effect] = [Log("warning" if was != STOPPING else "info", event, key, what)]
        if was == STOPPING:
            if child.pending:  # a message arrived while it was passivating: bring it back when there is room
                child.status = QUEUED
            else:
                del self.children[key]
                self.last_used.pop(key, None)
            return [*out, *self._admit()]
        child.last_error = what
        return out + self._restart_or_park(child, now)

    def timer(self, payload: tuple[str, str, int], now: float) -> list[Effect]:
        what, key, generation = payload
        child = self.children.get(key)
        if child is None or child.generation != generation:
            return []  # stale: the child moved on since this timer was set
        # The log line follows the Spawn, so the shell can name the new process in it.
        if what == "restart" and child.status == BACKOFF:
            return [*self._spawn(child), Log("info", "restarted", key, f"after {len(child.restarts)} restart(s)")]
        if what == "unpark" and child.status == PARKED:
            child.restarts.clear()
            return [*self._spawn(child), Log("info", "unparked", key, "cool-down over, retrying")]
        return []

    def tick(
        self, now: float, alive: Callable[[int], bool], how: Callable[[str], str] = lambda key: ""
    ) -> list[Effect]:
        """Periodic liveness: find children whose exit notice was lost, and passivate idle ones.

        `how(key)` says how a gone child's process ended, when the shell knows (else "")."""
        out: list[Effect] = []
        for child in list(self.children.values()):
            if child.status in (LIVE, STOPPING) and child.pid is not None and not alive(child.pid):
                status = how(child.key)
                detail = "gone: found by the liveness check" + (f"; {status}" if status else "")
                out += self.exited(child.address, now, "liveness_miss", detail)
        idle = self.policy.idle_s
        if idle is not None:
            for key, child in list(self.children.items()):
                if child.status == LIVE and now - self.last_used.get(key, now) >= idle:
                    out += self._passivate(child, "idle")
        return out

    # ---- queries --------------------------------------------------------------------------------
    def key_of(self, address: Any) -> str | None:
        """Linear on purpose: ActorAddress is unhashable and its str() changes once the child connects."""
        for key, child in self.children.items():
            if child.address is not None and child.address == address:
                return key
        return None

    # ---- internals ------------------------------------------------------------------------------
    def _touch(self, key: str, now: float) -> None:
        self.last_used[key] = now
        if key in self.children:
            self.children.move_to_end(key)

    def _spawn(self, child: Child) -> list[Effect]:
        child.status, child.generation = STARTING, child.generation + 1
        return [Spawn(child.key)]

    def _restart_or_park(self, child: Child, now: float) -> list[Effect]:
        window = self.policy.window_s
        while child.restarts and now - child.restarts[0] > window:
            child.restarts.popleft()
        child.generation += 1
        if len(child.restarts) >= self.policy.max_restarts:
            child.status, child.parked_until = PARKED, now + self.policy.park_cooldown_s
            detail = f"{len(child.restarts) + 1} failures in {window:g}s; last: {child.last_error}"
            out: list[Effect] = [Log("error", "parked", child.key, detail)]
            while child.pending:
                out.append(Refuse(child.key, child.pending.popleft(), self.policy.park_cooldown_s, detail))
            return [*out, Schedule(self.policy.park_cooldown_s, ("unpark", child.key, child.generation))]
        child.restarts.append(now)
        child.status = BACKOFF
        delay = self.policy.backoff(len(child.restarts), self.rand)
        return [
            Log("info", "backoff", child.key, f"restart {len(child.restarts)} in {delay:.2f}s"),
            Schedule(delay, ("restart", child.key, child.generation)),
        ]

    def _passivate(self, child: Child, why: str) -> list[Effect]:
        child.status = STOPPING
        return [Log("info", "passivated", child.key, why), Stop(child.key, child.address)]

    def _processes(self) -> int:
        """Children that hold a process now (starting, serving or stopping): what the cap bounds."""
        return sum(1 for c in self.children.values() if c.address is not None or c.status == STARTING)

    def _admit(self) -> list[Effect]:
        """Start queued children, oldest first, while the cap leaves room."""
        out: list[Effect] = []
        cap = self.policy.live_cap
        for child in list(self.children.values()):
            if child.status == QUEUED and (cap is None or self._processes() < cap):
                out += self._spawn(child)
        return out

    def _enforce_cap(self, now: float, exclude: str) -> list[Effect]:
        cap = self.policy.live_cap
        if cap is None:
            return []
        out: list[Effect] = []
        stopping = sum(1 for c in self.children.values() if c.status == STOPPING)
        waiting = sum(1 for c in self.children.values() if c.status == QUEUED)
        over = self._processes() - stopping + waiting - cap  # what must make way for the queued ones
        for key, child in self.children.items():  # least recently used first
            if over <= 0:
                break
            if key != exclude and child.status == LIVE:
                out += self._passivate(child, f"live-actor cap {cap}")
                over -= 1
        return out
