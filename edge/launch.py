"""Starting the actor tree before the edge exists: the lean half of `bot.py run` and `bot.py sandbox`.

Every actor is a process forked (through Thespian's admin and the supervisors) from the process that starts
the actor system, and inherits its heap: whatever that process has imported, every actor holds a copy of as
soon as it touches it. So the tree starts from here, before `edge.app` brings in discord.py, aiohttp and
prometheus-client, none of which an actor uses. Nothing this module imports may import them (a system test
asks a live actor process what it has imported).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import random
import socket
import threading
from collections import deque
from typing import TYPE_CHECKING, Any

from actors.messages import RouteFact
from actors.tree import default_tree
from bridge import Bridge
from config import Settings, is_private
from edge.routing import RoutingTable
from store.route_feed import RouteFeed, watch_routes
from store.tree_lock import TreeLock, claim_tree
from supervision.metrics import MetricsDelta
from supervision.protocol import Undelivered

if TYPE_CHECKING:  # for the annotations only: importing them here would put discord.py into every actor
    import asyncio

    from edge.client import Edge
    from observability.metrics import Metrics

SANDBOX_TOKEN = "sandbox-token"


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on, chosen below the kernel's ephemeral range: a port the kernel handed out
    (bind to 0) is soon some outgoing connection's local port, and a server restarted on it (the actor
    admin after a restart) then finds it taken."""
    low = _ephemeral_low()
    for _ in range(200):
        port = random.randrange(max(1024, low - 12000), low)
        with socket.socket() as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port on {host} below {low}")


def _ephemeral_low() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as fh:
            return int(fh.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def sandbox_settings(settings: Settings, port: int) -> tuple[Settings, int | None]:
    """The settings pointed at the local emulators, and the AI emulator's port (None when AI_BASE_URL is set)."""
    ai_port = None if settings.ai_base_url else free_port()
    base = f"http://127.0.0.1:{port}"
    return dataclasses.replace(
        settings,
        discord_token=SANDBOX_TOKEN,
        discord_api_base=f"{base}/api/v10",
        discord_gateway_url=f"ws://127.0.0.1:{port}/gateway",
        ai_base_url=settings.ai_base_url or f"http://127.0.0.1:{ai_port}/v1",
        ai_model=settings.ai_model if settings.ai_base_url else "sandbox-model",
    ), ai_port


def require_bot_settings(settings: Settings) -> None:
    """What `bot.py run` cannot start without, checked before anything starts."""
    if not settings.discord_token:
        raise RuntimeError("DISCORD_TOKEN is not set (run `python bot.py sandbox` to try it without Discord)")
    if not settings.ai_base_url:
        raise RuntimeError("AI_BASE_URL is not set: point it at an OpenAI-compatible server")


class ForTheEdge:
    """Facts only the edge can act on (it speaks through discord.py, on its event loop) that may arrive before
    the edge exists: held, bounded, until `attach`, then handed to the edge's loop from the listener thread."""

    def __init__(self, cap: int = 1_000) -> None:
        self._held: deque[Any] = deque(maxlen=cap)
        self._target: tuple[Edge, asyncio.AbstractEventLoop] | None = None
        self._lock = threading.Lock()

    def put(self, fact: Any) -> None:
        with self._lock:
            if self._target is None:
                self._held.append(fact)
                return
            edge, loop = self._target
        loop.call_soon_threadsafe(edge.notices.on_undelivered, fact)

    def attach(self, edge: Edge, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            self._target = (edge, loop)
            held, self._held = list(self._held), deque(maxlen=self._held.maxlen)
        for fact in held:
            loop.call_soon_threadsafe(edge.notices.on_undelivered, fact)


class MetricsSink:
    """The actors' metrics, applied to the edge's Prometheus registry once it exists (prometheus-client is
    imported after the tree has started); what arrives before is held, bounded, and applied then."""

    def __init__(self, cap: int = 1_000) -> None:
        self._held: deque[MetricsDelta] = deque(maxlen=cap)
        self._metrics: Metrics | None = None
        self._lock = threading.Lock()

    def put(self, delta: MetricsDelta) -> None:
        with self._lock:  # one lock for both paths: held deltas are applied before any later one
            if self._metrics is None:
                self._held.append(delta)
            else:
                self._metrics.apply(delta)

    def attach(self, metrics: Metrics) -> None:
        with self._lock:
            self._metrics = metrics
            while self._held:
                metrics.apply(self._held.popleft())


@dataclasses.dataclass
class Tree:
    """The started actor system and what the edge needs from it: the routing table it filters with (loaded
    with the persisted facts), and where the tree's facts for the edge and its metrics wait for them."""

    bridge: Bridge
    table: RoutingTable
    metrics: MetricsSink
    for_edge: ForTheEdge
    feed: RouteFeed | None = None  # with PostgreSQL: the facts other processes write
    claim: TreeLock | None = None  # with PostgreSQL: this tree's hold on the database

    def stop(self) -> None:
        """Stop following other processes' facts, then the actor system, then give up the database: no thread
        or connection outlives the tree, and no other tree starts while this one's actors still run."""
        try:
            if self.feed is not None:
                self.feed.stop()
        finally:
            try:
                self.bridge.stop()
            finally:
                if self.claim is not None:
                    self.claim.release()


def start_tree(settings: Settings, nodes: bool = False) -> Tree:
    """Start the actor system and the tree. Facts pushed later are applied from the bridge's listener thread:
    each is one set or dict operation, atomic under the GIL, and the event loop only reads the table."""
    table = RoutingTable(prefix=settings.command_prefix)
    metrics = MetricsSink()
    for_edge = ForTheEdge()

    def on_fact(fact: object) -> None:
        if isinstance(fact, RouteFact):
            table.apply(fact)
        elif isinstance(fact, MetricsDelta):
            metrics.put(fact)
        elif isinstance(fact, Undelivered):
            for_edge.put(fact)

    if not is_private(settings.bind_host):  # only with TZUROT_ALLOW_PUBLIC_BIND=1 (config refuses it otherwise)
        logging.getLogger("tzurot.edge").warning(
            "public_bind: actor sockets listen on %r, not a private address (TZUROT_ALLOW_PUBLIC_BIND=1): anyone "
            "who can reach their ports can run code in the bot; keep them firewalled", settings.bind_host)
    bridge = Bridge(settings, default_tree(settings, nodes)).start(on_fact=on_fact)
    claim = None
    try:
        # A second tree on one database would answer twice. Claimed once the actor system runs, as every
        # connection of this process is: actors are forked from its admin, and must never share a connection.
        claim = claim_tree(settings)
        bridge.load_facts(table.apply)
        # Several edges on one PostgreSQL: each also follows every fact any process writes (none with SQLite).
        feed = watch_routes(settings, lambda kind, key, value: table.apply(RouteFact(kind, key, value)))
    except BaseException:
        Tree(bridge, table, metrics, for_edge, None, claim).stop()
        raise
    return Tree(bridge, table, metrics, for_edge, feed, claim)


def attach_tree(settings: Settings, system: Any) -> Tree:
    """The tree as an edge on a member node sees it: the leader's Root (its address from the database), the
    routing facts loaded and followed from the database. No tree lock: the tree is the leader's."""
    from bridge import find_root

    table = RoutingTable(prefix=settings.command_prefix)
    bridge = Bridge(settings).attach(system, find_root(settings, timeout=60.0))
    try:
        bridge.load_facts(table.apply)
        feed = watch_routes(settings, lambda kind, key, value: table.apply(RouteFact(kind, key, value)))
    except BaseException:
        bridge.stop()
        raise
    return Tree(bridge, table, MetricsSink(), ForTheEdge(), feed, None)


def run_member(settings: Settings, leader: tuple[str, int]) -> int:
    """`bot.py node` with TZUROT_CONVENTION_LEADER: a member of the leader's Convention. No Root runs here: the
    leader places shards here, and each forks its actors here. With TZUROT_SHARD_IDS it also runs an edge for
    those gateway shards, over the leader's tree. Returns when told to stop (SIGTERM, Ctrl-C), after stopping
    every process its actor system started."""
    import signal

    from ai.tls import prepare_for_actors
    from store.sealed_keys import ensure_key_file
    from supervision import nodes
    from supervision.procs import descendants, finish_off, with_environment
    from supervision.runtime import convention_timers, secure_data_dir, start_actor_system

    name = nodes.node_name(settings)
    nodes.NODE_NAME, nodes.LOCAL_SETTINGS = name, settings  # inherited by every actor forked on this node
    nodes.OWNER_PID = os.getpid()
    os.environ[nodes.MARKER] = str(os.getpid())  # Thespian's admin is not our child: this finds it
    secure_data_dir(settings.data_dir)
    if not settings.secret_key:
        ensure_key_file(settings)  # every node must hold the same key (TZUROT_SECRET_KEY): see the README
    prepare_for_actors()
    convention_timers(settings.node_heartbeat_s)
    system = start_actor_system(settings.data_dir, settings.actor_admin_port, settings.bind_host,
                                settings.log_max_bytes, settings.log_keep, nodes.capabilities(name, leader))
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    print(f"node ready: {name} on {settings.bind_host}:{settings.actor_admin_port}, member of {leader[0]}:{leader[1]}",
          flush=True)
    if settings.shard_ids.strip():  # this node also runs an edge, for these gateway shards
        tree = attach_tree(settings, system)
        try:
            from edge.app import run_bot

            run_bot(settings, tree)
        finally:
            tree.stop()
    else:
        while not stop.wait(1.0):
            pass
    ours = descendants(os.getpid()) | with_environment(nodes.MARKER, str(os.getpid()))
    ours.discard(os.getpid())
    system.shutdown()
    finish_off(ours)  # whatever Thespian's shutdown left behind
    return 0
