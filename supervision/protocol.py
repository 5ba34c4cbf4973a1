"""Messages of the supervision behaviour: between supervisors, their children and outside callers.

They carry opaque keys and bodies; nothing here knows what a user or a channel is. Application messages
(the bodies) live in `actors/messages.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class GroupSpec:
    """A sharded group of children: `shards` supervisors, each owning the keys that hash to it."""

    name: str
    shards: int
    child_class: str  # "module.Class", imported in the shard's process


@dataclass(frozen=True)
class TreeSpec:
    """The whole tree under Root: sharded groups and single permanent children (e.g. the Registry)."""

    groups: tuple[GroupSpec, ...]
    singletons: tuple[tuple[str, str], ...] = ()  # (name, "module.Class")
    owner_pid: int | None = None  # the process that started the tree: when it dies, the tree stops itself
    nodes: bool = False  # shards go to the Convention's member nodes (`bot.py node`), not this system


@dataclass(frozen=True)
class ShardSpec:
    """What one shard supervises: its group's child class, and its slice of the live-actor cap."""

    group: GroupSpec
    index: int
    live_cap: int
    fence_s: float | None = None  # on another node: stop if Root's heartbeats stop for this long


@dataclass(frozen=True)
class ChildStart:
    """First message a supervisor sends a new child: who it is and how to behave."""

    kind: str
    key: str
    settings: Any  # config.Settings; typed loosely so supervision does not import the application
    spec: Any = None  # what a supervisor child supervises in turn (TreeSpec for Root, ShardSpec for a shard)
    child_class: str = ""
    root: Any = None  # Root's address: where a child sends a Deliver for any other actor
    outlet: Any = None  # where children publish facts for the code outside (the edge); may be None
    directory: Any = None  # the latest Directory: where to send a Deliver without passing through Root


@dataclass(frozen=True)
class ChildReady:
    """A child has loaded its state and serves; its pid lets the supervisor check it is alive."""

    key: str
    pid: int


@dataclass(frozen=True)
class Deliver:
    """A body for the child `key` of group `kind`; answers go straight to `reply_to`, tagged with `ref`.

    Root fills `reply_to` with the sender when `reply` is set, so an outside asker need not know its address.
    """

    kind: str
    key: str
    body: Any
    ref: str = ""
    reply: bool = True
    reply_to: Any = None
    origin: Any = None  # a leaf sender's supervision.peers.Origin: the receiver may answer it directly
    direct: bool = False  # sent straight to the address of (kind, key), not through a shard


@dataclass(frozen=True)
class Touched:
    """A child to its supervisor: I am in use (messages reach me directly, past you), do not count me idle."""

    key: str


@dataclass(frozen=True)
class ForOutlet:
    """A child's fact (or metrics) for the outlet, passed on by its supervisor: see `SupervisedChild.publish`."""

    body: Any


@dataclass(frozen=True)
class Answer:
    """A child's reply to a Deliver, tagged so an asker can tell it from a late reply to an older question."""

    ref: str
    body: Any


@dataclass(frozen=True)
class Bounced:
    """Root to a shard: this message bounced off `dead`, so that child is gone; deliver it again."""

    dead: Any
    message: Deliver


@dataclass(frozen=True)
class Unavailable:
    """Sent to the asker when the addressed child is parked after too many restarts, or too many messages
    already wait for it to start."""

    ref: str
    kind: str
    key: str
    retry_after_s: float
    reason: str


@dataclass(frozen=True)
class Undelivered:
    """Published to the outlet when a tell (a Deliver nobody waits on) is refused: its actor is parked, or too
    many messages already wait for it. The sender learns what `Unavailable` tells an asker, with the body,
    so it can answer for the actor and keep the work until `retry_after_s` has passed."""

    kind: str
    key: str
    body: Any
    retry_after_s: float
    reason: str


@dataclass(frozen=True)
class Failed:
    """Sent to the asker when handling its message raised twice; `reference` is in the logs too."""

    ref: str
    kind: str
    key: str
    reference: str
    reason: str


@dataclass(frozen=True)
class DirectoryRequest:
    """Ask Root for the addresses of its children (shards and singletons)."""


@dataclass(frozen=True)
class Directory:
    """Root's children and their addresses. Root pushes it to every shard (which hands it to its children)
    and to its outlet whenever a child of Root starts or stops, so messages go straight to the right shard
    instead of all passing through Root (one process, whose cost per message grows with its open sockets).

    It always lists every child and every group's shard count: a child that is down is listed with no address,
    so a key's shard never depends on which shards are up (its messages go to Root, which holds them for it)."""

    children: tuple[tuple[str, Any, int | None], ...]  # (key, address or None while down, pid)
    groups: tuple[tuple[str, int], ...] = ()  # (group name, shard count)

    def addresses(self) -> dict[str, Any]:
        return {key: address for key, address, _ in self.children if address is not None}


@dataclass(frozen=True)
class StatusRequest:
    """Ask one supervisor for its children's state."""


@dataclass(frozen=True)
class ChildStatus:
    key: str
    status: str
    pid: int | None
    restarts: int
    pending: int
    idle_s: float
    last_error: str


@dataclass(frozen=True)
class SupervisorStatus:
    key: str
    pid: int
    children: tuple[ChildStatus, ...]
    node: str = ""  # the node it runs on ("" on a single-node tree)


@dataclass(frozen=True)
class Heartbeat:
    """Root to a shard on another node, every TZUROT_NODE_HEARTBEAT_S."""

    seq: int


@dataclass(frozen=True)
class HeartbeatAck:
    key: str
    seq: int


@dataclass(frozen=True)
class ModulesRequest:
    """A Deliver body any supervised child answers itself with `Modules`: what its process has imported, so a
    test or a benchmark can see what a forked actor inherited (memory it copies, libraries it need not hold)."""


@dataclass(frozen=True)
class Modules:
    pid: int
    names: tuple[str, ...]  # the top-level packages in sys.modules, sorted
