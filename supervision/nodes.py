"""A tree over several nodes: this process's node, its capabilities, and the leader's heartbeats (pure).

`python bot.py node` starts one member of a Thespian Convention. The leader's Root places shards on members
by capability (`tzurot.node`); each shard still forks its own actors on its node. Thespian declares a dead
member gone only after a long silence, and the exit of a shard on another host may never be reported, so Root
sends every remote shard a heartbeat each period: a shard that misses `MISSES` in a row is treated as exited
(and restarted on a node that answers), and a shard that hears nothing from Root for as long stops itself
(fencing: no two live copies of a shard, whichever side of a broken network it is on).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import Any

CAPABILITY = "tzurot.node"
MISSES = 5  # heartbeats missed in a row before a node's shard is given up (and before a shard fences itself)

# Set by `bot.py node` before the actor system starts, so that every actor forked on this node inherits them:
# the node's name (for status) and its own settings (a shard placed here uses this node's data directory).
NODE_NAME = ""
LOCAL_SETTINGS: Any = None
OWNER_PID = 0  # a member's node process: when it is gone, the node's actor system stops itself
MARKER = "TZUROT_NODE_PROCESS"  # in the environment of every process of a member node: its node process's pid


def node_name(settings: Any) -> str:
    return str(getattr(settings, "node_name", "") or socket.gethostname())


def capabilities(name: str, leader: tuple[str, int] | None) -> dict[str, Any]:
    """The Thespian capabilities of a node: its name, and on a member the leader's admin address."""
    caps: dict[str, Any] = {CAPABILITY: name}
    if leader is not None:
        caps["Convention Address.IPv4"] = leader
    return caps


def on_node(capabilities: dict[str, Any], requirements: dict[str, Any] | None) -> bool:
    """Thespian's placement check: no requirement, or this system is the node asked for."""
    wanted = (requirements or {}).get(CAPABILITY)
    return wanted is None or capabilities.get(CAPABILITY) == wanted


def localized(settings: Any) -> Any:
    """The settings a child runs with: its node's own where it was placed on a member, else its parent's."""
    return LOCAL_SETTINGS if LOCAL_SETTINGS is not None else settings


@dataclass
class Heartbeats:
    """Root's view of its remote children: the last heartbeat each answered. Pure: the shell sends and times.

    A child is given up only when it missed the last `misses` heartbeats Root actually sent *and* that long
    has passed: if Root itself was slow to send them (a busy machine), nobody is blamed for it."""

    period_s: float
    misses: int = MISSES
    seq: int = 0  # the last heartbeat sent
    last: dict[str, tuple[int, float]] = field(default_factory=dict)  # key -> (seq, time) last answered/started

    def started(self, key: str, now: float) -> None:
        self.last[key] = (self.seq, now)  # a new incarnation gets a full allowance

    def sent(self) -> int:
        self.seq += 1
        return self.seq

    def answered(self, key: str, seq: int, now: float) -> None:
        if key in self.last and seq >= self.last[key][0]:
            self.last[key] = (seq, now)

    def forget(self, key: str) -> None:
        self.last.pop(key, None)

    def silent(self, now: float) -> list[tuple[str, float]]:
        """(key, seconds silent) for every child past its allowance; each is forgotten (reported once)."""
        limit = self.period_s * self.misses
        gone = [(key, now - at) for key, (seq, at) in self.last.items()
                if self.seq - seq >= self.misses and now - at > limit]
        for key, _ in gone:
            del self.last[key]
        return gone
