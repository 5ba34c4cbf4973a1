"""The bridge from ordinary code (the discord.py edge, tests, tools) into the actor tree.

How a message reaches the actor for a user or channel id: the caller asks `Bridge.ask(Kind.USER, user_id, msg)`;
the bridge sends `Deliver(kind, key, msg, ref)` straight to the shard that owns the key (a stable hash of the
key, `supervision.sharding.shard_of`, modulo the group's shard count, in the `Directory` Root publishes; to
Root itself until the first directory arrives or while that shard is down, and Root forwards or holds it);
the shard activates the actor for that key if needed (loading its state) and forwards it; the actor answers
the asker directly with `Answer(ref, body)`.
Actors reach each other the same way, so Root is never a relay on the hot path.

Thespian handles are not thread-safe, so every thread that asks uses its own `ActorSystem.private()`
context, opened lazily and kept for the thread's life. asyncio code awaits `ask_async`, which runs the same
call on a small thread pool so the event loop never blocks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from thespian.actors import ActorSystemFailure, ActorSystemRequestTimeout

from actors.kinds import Kind
from actors.messages import RouteFact
from actors.tree import default_tree
from ai.tls import prepare_for_actors
from config import Settings
from store import open_store
from store.cells import open_cell
from store.sealed_keys import ensure_key_file
from supervision import nodes
from supervision.log import SupervisorLog
from supervision.nodes import capabilities, node_name
from supervision.procs import descendants, finish_off
from supervision.protocol import (
    Answer,
    ChildReady,
    ChildStart,
    Deliver,
    Directory,
    DirectoryRequest,
    Failed,
    StatusRequest,
    SupervisorStatus,
    TreeSpec,
    Unavailable,
)
from supervision.runtime import convention_timers, secure_data_dir, start_actor_system
from supervision.sharding import Routes

ROOT_CLASS = "supervision.root.Root"


def own_address(handle: Any) -> Any:
    """The address a Thespian handle receives answers on (private to Thespian: None if not found there, and the
    actor answers the sender instead, which is the same address unless the message was redelivered)."""
    return getattr(getattr(getattr(handle, "_systemBase", None), "transport", None), "myAddress", None)


log = logging.getLogger("tzurot.bridge")
DIRECTORY_POLL_S = 2.0  # an attached edge's refresh of Root's directory
ROOT_CELL = "tree-root"  # where the leader publishes Root's address for the edges on member nodes


def publish_root(settings: Settings, root: Any) -> None:
    """Write Root's address (host and port: never a pickle) to the shared cell the member edges read."""
    host, port = root.addressDetails.connectArgs[0]
    value = json.dumps({"host": host, "port": port}).encode()
    open_cell(settings, ROOT_CELL).update(lambda _old: (value, None))


def find_root(settings: Settings, timeout: float) -> Any:
    """Root's address as the leader published it (waiting up to `timeout` for a leader that starts later)."""
    from thespian.actors import ActorAddress
    from thespian.system.transport.IPBase import TCPv4ActorAddress

    deadline = time.monotonic() + timeout
    while True:
        raw = open_cell(settings, ROOT_CELL).peek()
        if raw:
            where = json.loads(raw)
            return ActorAddress(TCPv4ActorAddress(where["host"], int(where["port"])))
        if time.monotonic() > deadline:
            raise RuntimeError("no leader has published its tree in the database (start the leader: `bot.py node` "
                               "without TZUROT_CONVENTION_LEADER)")
        time.sleep(0.5)


class ActorUnavailable(RuntimeError):
    """The actor is parked after repeated failures; try again after `retry_after_s`."""

    def __init__(self, msg: Unavailable) -> None:
        super().__init__(f"{msg.kind} {msg.key} is temporarily unavailable (retry in {msg.retry_after_s:g}s)")
        self.retry_after_s = msg.retry_after_s


class ActorFailed(RuntimeError):
    """Handling the message raised twice; `reference` finds the details in the supervisor log."""

    def __init__(self, msg: Failed) -> None:
        super().__init__(f"{msg.kind} {msg.key} failed to handle that (reference {msg.reference})")
        self.reference = msg.reference


class Bridge:
    def __init__(self, settings: Settings, tree: TreeSpec | None = None, threads: int = 4) -> None:
        self.settings = settings
        self.tree = tree or default_tree(settings)
        self.threads = threads
        self.system: Any = None
        self.root: Any = None
        self._local = threading.local()
        self._contexts: list[contextlib.ExitStack] = []
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._on_fact: Callable[[Any], None] | None = None
        self.routes = Routes()  # straight to the owning shard; Root only while the route is unknown
        self._listener: threading.Thread | None = None
        self._stopping = threading.Event()
        self.start_timeout_s = 30.0
        self.attached = False  # an edge on a member node, over the leader's tree (attach)

    # ---- lifecycle ------------------------------------------------------------------------------
    def start(self, on_fact: Callable[[Any], None] | None = None) -> Bridge:
        """Start the actor system and the tree; call before the process starts any thread.

        The tree's published facts (routing facts for the edge) arrive at the handle that started Root; a
        listener thread owns that handle from then on and hands each fact to `on_fact`.
        """
        s = self.settings
        secure_data_dir(s.data_dir)  # 0700, its files 0600: it holds tokens, DM text and keys
        if not s.secret_key:
            ensure_key_file(s)  # before any actor could race to create it; a bad one stops here (ConfigError)
        prepare_for_actors()  # TLS context and httpx's transport: once here, shared by every actor forked from us
        node = None
        if self.tree.nodes:  # the leader of a tree over several nodes (`bot.py node`)
            convention_timers(s.node_heartbeat_s)
            node = capabilities(nodes.NODE_NAME or node_name(s), None)
        self.system = start_actor_system(s.data_dir, s.actor_admin_port, s.bind_host, s.log_max_bytes, s.log_keep,
                                         node)
        try:
            self.root = self.system.createActor(ROOT_CLASS)
            self.system.tell(self.root, ChildStart("root", "root", s, self.tree, ROOT_CLASS))
            early = self._await_ready(self.system, time.monotonic() + self.start_timeout_s)
        except BaseException:
            self.system.shutdown()
            raise
        if self.tree.nodes:  # the edges on member nodes find Root here
            publish_root(s, self.root)
        self._serve(on_fact, early)
        return self

    def attach(self, system: Any, root: Any, on_fact: Callable[[Any], None] | None = None) -> Bridge:
        """An edge on a member node: over that node's actor system, to the leader's Root. Root publishes to the
        leader's edge only, so this bridge asks it for the directory every few seconds; the routing facts come
        from the database (`store/route_feed.py`). Stopping it stops nothing of the tree."""
        self.system, self.root, self.attached = system, root, True
        self._serve(on_fact, [])
        return self

    def _serve(self, on_fact: Callable[[Any], None] | None, early: list[Any]) -> None:
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="bridge")
        self._on_fact = on_fact
        for fact in early:
            self._take(fact)
        self._listener = threading.Thread(target=self._listen, name="bridge-outlet", daemon=True)
        self._listener.start()

    def _await_ready(self, handle: Any, deadline: float) -> list[Any]:
        """Wait for Root's ChildReady; what Root publishes meanwhile (a Directory as each shard comes up) is kept,
        not mistaken for the answer: Thespian may deliver it first when a send has to be retried."""
        early: list[Any] = []
        while (remaining := deadline - time.monotonic()) > 0:
            msg = handle.listen(remaining)
            if isinstance(msg, ChildReady):
                return early
            if msg is not None:
                early.append(msg)
        raise RuntimeError(f"the actor tree did not start within {self.start_timeout_s:g} s "
                           f"(heard only {len(early)} other message(s))")

    def load_facts(self, apply: Callable[[RouteFact], None]) -> int:
        """Hand `apply` every routing fact the actors persisted (what the edge must know before any actor wakes).

        A row that cannot be read, or that `apply` rejects, is quarantined and reported in the supervisor log:
        no single bad row may stop the bot from starting. Returns how many facts were applied."""
        s = self.settings
        slog = SupervisorLog(s.supervisor_log_path, max_bytes=s.log_max_bytes, keep=s.log_keep)
        store = open_store(s)

        def bad(detail: str) -> None:
            slog.emit("error", "quarantined", "routes", "edge", detail)

        applied = 0
        try:
            store.expire_routes("conversation", time.time())  # ended while the bot was away
            for kind, key, value in store.routes(bad):
                try:
                    apply(RouteFact(kind, key, value))
                    applied += 1
                except Exception as exc:  # noqa: BLE001 - a fact the edge cannot use is set aside, not fatal
                    reason = f"{type(exc).__name__}: {exc}"[:300]
                    store.quarantine_route(kind, str(key), reason)
                    bad(f"routing fact {kind} {str(key)!r} quarantined: {reason}")
        finally:
            store.close()
        return applied

    def _listen(self) -> None:
        asked = 0.0
        while not self._stopping.is_set():
            try:
                if self.attached and time.monotonic() - asked >= DIRECTORY_POLL_S:
                    asked = time.monotonic()
                    with contextlib.suppress(Exception):  # the database away a moment: keep the one we know
                        self.root = find_root(self.settings, 0.0)  # a restarted leader publishes a new one
                    self.system.tell(self.root, DirectoryRequest())
                msg = self.system.listen(0.2)
            except Exception:  # noqa: BLE001 - the system is stopping under us
                return
            if msg is not None:
                self._take(msg)

    def _take(self, msg: Any) -> None:
        """One message published to the outlet: a new Directory for routing, any other fact for `on_fact`."""
        if isinstance(msg, Directory):
            self.routes.update(msg)
        elif self._on_fact is not None and not isinstance(msg, (Answer, ChildReady)):
            self._on_fact(msg)

    def stop(self) -> None:
        ours = self._tree_pids() if self.system is not None and not self.attached else set()  # ask while we can
        self._stopping.set()
        if self._listener is not None:
            self._listener.join(timeout=5)
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            for stack in self._contexts:
                stack.close()
            self._contexts.clear()
        if self.attached:  # the node's actor system is its node process's to stop, the tree the leader's
            self.system = None
        if self.system is not None:
            self.system.shutdown()
            self.system = None
            # Thespian's shutdown can give up with a large tree and leave its admin behind: stop what is left
            # of the processes this bridge started, by their pids.
            finish_off(ours)

    def _tree_pids(self) -> set[int]:
        """Thespian's admin (Root's parent) and everything under it."""
        try:
            root_pid = self._handle().ask(self.root, StatusRequest(), 5).pid
            with open(f"/proc/{root_pid}/stat", "rb") as fh:
                admin = int(fh.read().rsplit(b")", 1)[1].split()[1])
        except Exception:  # noqa: BLE001 - nothing to add when the tree does not answer
            return set()
        return {admin} | descendants(admin)

    def __enter__(self) -> Bridge:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # ---- asking ---------------------------------------------------------------------------------
    def ask(self, kind: Kind, key: int | str, body: Any, timeout: float | None = None) -> Any:
        """Send `body` to the actor for (kind, key) and return its answer; raise on park, failure, timeout."""
        ref = uuid.uuid4().hex
        handle = self._handle()
        deadline = time.monotonic() + (timeout or self.settings.ask_timeout_s)
        # Naming our own address as reply_to lets a message that bounced off a dead shard (Root redelivers it
        # to the shard's successor) still find us; Thespian's ask returns None at once in that case.
        message = Deliver(str(kind), str(key), body, ref, reply_to=own_address(handle))
        target = self.routes.address(str(kind), str(key)) or self.root
        reply = handle.ask(target, message, max(0.0, deadline - time.monotonic()))
        while True:
            if isinstance(reply, Answer) and reply.ref == ref:
                return reply.body
            if isinstance(reply, Unavailable) and reply.ref == ref:
                raise ActorUnavailable(reply)
            if isinstance(reply, Failed) and reply.ref == ref:
                raise ActorFailed(reply)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no answer from {kind} {key} in time")
            reply = handle.listen(remaining)  # a late answer to an earlier question: skip it

    def tell(self, kind: Kind, key: int | str, body: Any) -> None:
        """Send without waiting. If the actor cannot take it (parked), the tree publishes `Undelivered` to
        `on_fact`."""
        shard = self.routes.address(str(kind), str(key))
        try:
            self._handle().tell(shard or self.root, Deliver(str(kind), str(key), body, reply=False))
        except ActorSystemFailure:
            if shard is None:
                raise
            # The shard is dead and our route stale: Thespian hands the message to Root as a dead letter, and
            # Root delivers it to the shard's successor. Sending it again would deliver it twice.
        except ActorSystemRequestTimeout:
            # Its node is unreachable (on a tree over several nodes a send gives up after a few seconds, so one
            # dead host cannot stall the edge's hand-offs): Root gives the shard up, and the edge's sweep hands
            # a recorded message on again by the new route.
            log.warning("hand-off to %s %s timed out (its node unreachable?); the sweep hands it on again", kind, key)

    @property
    def pool(self) -> ThreadPoolExecutor | None:
        """The threads that talk to the actors for asyncio code (each with its own Thespian handle)."""
        return self._pool

    async def tell_async(self, kind: Kind, key: int | str, body: Any) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._pool, self.tell, kind, key, body)

    async def ask_async(self, kind: Kind, key: int | str, body: Any, timeout: float | None = None) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self.ask, kind, key, body, timeout)

    # ---- introspection (status, tests) ----------------------------------------------------------
    def directory(self, timeout: float | None = None) -> Directory:
        """Root's children; TimeoutError when Root does not answer within `timeout` (default: the ask timeout).
        The calling thread is free again by then: a probe's budget is passed down here."""
        deadline = time.monotonic() + (self.settings.ask_timeout_s if timeout is None else timeout)
        directory = self._ask_until(self._handle(), self.root, DirectoryRequest(), Directory, deadline)
        if directory is None:
            raise TimeoutError("root did not answer in time")
        return directory

    def status(self, timeout: float | None = None) -> list[SupervisorStatus]:
        """Every supervisor's view of its children, Root first, all within `timeout` (default: the ask timeout).

        A shard that is gone, or does not answer in time, is left out. TimeoutError when Root does not answer."""
        deadline = time.monotonic() + (self.settings.ask_timeout_s if timeout is None else timeout)
        handle = self._handle()
        root = self._ask_until(handle, self.root, StatusRequest(), SupervisorStatus, deadline)
        directory = self._ask_until(handle, self.root, DirectoryRequest(), Directory, deadline)
        if root is None or directory is None:
            raise TimeoutError("root did not answer in time")
        out = [root]
        for key, address, _pid in directory.children:
            if address is not None and "/" in key:
                reply = self._ask_until(handle, address, StatusRequest(), SupervisorStatus, deadline)
                if reply is not None:
                    out.append(reply)
        return out

    @staticmethod
    def _ask_until(handle: Any, address: Any, question: Any, answer: type, deadline: float) -> Any:
        """Ask, and wait until the deadline for an answer of type `answer`, skipping late answers to earlier
        questions. None when the deadline passes, or at once when the address is dead (Thespian's ask then
        returns None before its timeout): a probe never waits on a shard that is gone."""
        reply = handle.ask(address, question, max(0.0, deadline - time.monotonic()))
        while not isinstance(reply, answer):
            remaining = deadline - time.monotonic()
            if reply is None or remaining <= 0:
                return None
            reply = handle.listen(remaining)
        return reply

    def _handle(self) -> Any:
        handle = getattr(self._local, "handle", None)
        if handle is None:
            stack = contextlib.ExitStack()
            handle = stack.enter_context(self.system.private())
            self._local.handle = handle
            with self._lock:
                self._contexts.append(stack)
        return handle
