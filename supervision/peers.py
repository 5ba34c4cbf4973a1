"""Direct peers: two sharded actors that talk to each other (a user and a channel it speaks in) skip the shards.

A leaf actor normally sends through its supervisor, which passes the message to the key's shard, which hands it
to the actor: three hops, each about a millisecond of CPU on both sides. Every Deliver a leaf sends carries its
`Origin` (its kind, key and address), so the receiver learns where the sender lives and can answer it directly,
one hop. This table is that knowledge: pure, no Thespian, so its rules are tested alone.

The rules that keep the short cut safe:
- Order. A message relayed through the shards may still be on its way when the direct address is learned, and a
  direct send would overtake it. So every relayed send gets a sequence number (one counter per actor instance),
  each side tells the other the highest number it received from it (`Origin.ack`), and a peer is sent to
  directly only once it has acknowledged everything relayed to it.
- Death. An address is an instance: when the peer stops (passivated), dies or restarts, a send to the old
  address bounces (Thespian's dead letter), the shard delivers it again and tells the sender `PeerGone`, and the
  table forgets that address: later sends are relayed until the new instance speaks. A send that reaches another
  actor (a reused port) is noticed by the receiver from the Deliver's kind and key and handled the same way.
- Bounds. Thespian's cost per message grows with a process's open sockets, so at most `cap` peers are kept
  (least recently used dropped first); `cap` 0 turns the short cut off.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Origin:
    """Who sent a Deliver: its kind, key and address; `seq` numbers a relayed send (0: sent directly); `ack` is
    the highest relayed `seq` the sender has received from the instance at `acked_from` (counts start afresh in
    every instance, so an acknowledgement is only good for the instance it names)."""

    kind: str
    key: str
    address: Any
    seq: int = 0
    ack: int = 0
    acked_from: Any = None


@dataclass(frozen=True)
class PeerGone:
    """A supervisor (or the actor that now holds the address) to a sender: `address` no longer serves (kind, key);
    relay through the shards again until the new instance is heard from."""

    kind: str
    key: str
    address: Any


@dataclass
class _Peer:
    address: Any = None  # the peer's current instance, once heard from
    relayed: int = 0  # the seq of our last relayed send to it
    acked: int = 0  # the highest of our seqs it has acknowledged (from its current instance)
    got: int = 0  # the highest relayed seq we received from its current instance


class Peers:
    """What one actor instance knows of its peers: where to send directly, and what to stamp on each send."""

    def __init__(self, cap: int) -> None:
        self.cap = max(0, cap)
        self._peers: OrderedDict[tuple[str, str], _Peer] = OrderedDict()
        self._seq = 0  # relayed sends, over all peers: one counter, so a forgotten and relearned peer cannot
        # acknowledge a new send with an old number

    def __len__(self) -> int:
        return len(self._peers)

    def _entry(self, kind: str, key: str) -> _Peer:
        entry = self._peers.get((kind, key))
        if entry is None:
            entry = self._peers[(kind, key)] = _Peer()
            while len(self._peers) > self.cap:
                self._peers.popitem(last=False)
        else:
            self._peers.move_to_end((kind, key))
        return entry

    def send(self, kind: str, key: str, me: tuple[str, str, Any]) -> tuple[Any, Origin]:
        """Where to send a message for (kind, key) (its address, or None: relay it) and the origin to stamp on it."""
        if not self.cap:
            return None, Origin(*me)
        entry = self._entry(kind, key)
        if entry.address is not None and entry.acked >= entry.relayed:
            return entry.address, Origin(*me, seq=0, ack=entry.got, acked_from=entry.address)
        self._seq += 1
        entry.relayed = self._seq
        return None, Origin(*me, seq=self._seq, ack=entry.got, acked_from=entry.address)

    def heard(self, origin: Origin, me: Any) -> None:
        """A Deliver from `origin` arrived at our address `me` (relayed or direct): learn the sender's address,
        and what it acknowledged of ours if the acknowledgement is for this instance."""
        if not self.cap:
            return
        entry = self._entry(origin.kind, origin.key)
        if entry.address != origin.address:  # a new instance (or the first we hear): its counts start afresh
            entry.address, entry.acked, entry.got = origin.address, 0, 0
        if origin.acked_from == me:
            entry.acked = max(entry.acked, origin.ack)
        entry.got = max(entry.got, origin.seq)

    def gone(self, kind: str, key: str, address: Any) -> bool:
        """`address` no longer serves (kind, key): forget it (not a newer address learned since). True if known."""
        entry = self._peers.get((kind, key))
        if entry is None or entry.address is None or entry.address != address:
            return False
        entry.address, entry.acked, entry.got = None, 0, 0
        return True

    def forget_where(self, lost: Callable[[str, str], bool]) -> int:
        """Forget the address of every peer for which `lost(kind, key)` (its shard restarted: it died with it,
        and a send to its address would wait on a dead host); how many were forgotten."""
        count = 0
        for (kind, key), entry in self._peers.items():
            if entry.address is not None and lost(kind, key):
                entry.address, entry.acked, entry.got = None, 0, 0
                count += 1
        return count

    def addresses(self) -> list[tuple[str, str, Any]]:
        """Every peer we know an address for (told when we stop, so they stop sending to us)."""
        return [(kind, key, e.address) for (kind, key), e in self._peers.items() if e.address is not None]
