"""Where Root's shards run when the tree spans several nodes (a Thespian Convention): a pure decision.

Root keeps a map shard -> node. Shards go to member nodes, spread evenly; the leader ("", this system) holds
them only while no member is up, so a one-node tree still runs. A shard stays where it is while its node is
up and not over its share: moving a shard passivates its actors (they reload from the store on next use), so
a join moves only what the newcomer's share needs, and a death moves only the dead node's shards.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

LOCAL = ""  # the leader's own actor system


def shares(count: int, nodes: Sequence[str]) -> dict[str, int]:
    """How many of `count` shards each node should hold: equal, the remainder to the first names in order."""
    base, extra = divmod(count, len(nodes))
    return {node: base + (1 if i < extra else 0) for i, node in enumerate(sorted(nodes))}


def place(keys: Iterable[str], nodes: Iterable[str], current: Mapping[str, str]) -> dict[str, str]:
    """A node for every shard key: its current node while that is up and within its share, else the node
    furthest below its share. With no member node up, every shard is local."""
    ordered, up = list(keys), sorted(set(nodes))
    if not up:
        return {key: LOCAL for key in ordered}
    quota = shares(len(ordered), up)
    held: dict[str, int] = {node: 0 for node in up}
    out: dict[str, str] = {}
    for key in ordered:  # first pass: keep what may stay
        node = current.get(key)
        if node in held and held[node] < quota[node]:
            out[key] = node
            held[node] += 1
    for key in ordered:  # second pass: the rest to whoever is furthest below its share
        if key not in out:
            node = min(up, key=lambda n: (held[n] - quota[n], held[n], n))
            out[key] = node
            held[node] += 1
    return out


def moves(keys: Iterable[str], nodes: Iterable[str], current: Mapping[str, str]) -> list[str]:
    """The shards that must move (stop here, start on their new node) to reach `place`'s spread."""
    target = place(keys, nodes, current)
    return [key for key, node in target.items() if current.get(key, LOCAL) != node]
