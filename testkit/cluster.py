"""A tree over several nodes on this machine: the leader (`bot.py node`: Root, the singletons and the edge) in a
Stack with the emulators, and member nodes (`bot.py node` with TZUROT_CONVENTION_LEADER), each its own process
group, data directory and ports, all on one PostgreSQL database. Each node runs on loopback with its own ports:
a node's death is its processes' death (every one of them SIGKILLed), not a cut network.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from supervision.procs import with_environment
from testkit.netns import Hosts, Relay
from testkit.process import BotProcess, free_port, wait_for
from testkit.stack import Stack


def fernet_key() -> str:
    import base64

    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def node_pids(process: BotProcess) -> set[int]:
    """Every live process of one node: all carry its data directory in their environment (Thespian's admin is
    re-parented to init, so they are not all descendants of the node process)."""
    return with_environment("TZUROT_DATA_DIR", str(process.data_dir))


def kill_node(process: BotProcess) -> int:
    """SIGKILL every process of a node at once (its node process, admin, logger, shards, actors)."""
    pids = node_pids(process)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    if process.proc is not None:
        process.proc.wait(10)
    return len(pids)


class Member(BotProcess):
    """`python bot.py node` as a member of the leader's Convention."""

    command = ("node",)
    ready = "node ready"

    def stop(self, sig: int = signal.SIGTERM, patience_s: float = 10.0, strict: bool = True) -> None:
        super().stop(sig, patience_s, strict)
        kill_node(self)  # whatever its own shutdown left behind


class Cluster:
    def __init__(self, root: Path, database_url: str, members: int = 2, world: Any = None,
                 env: dict[str, str] | None = None, shards: int = 1, edges: dict[str, str] | None = None,
                 hosts: Hosts | None = None) -> None:
        """`edges`: node name -> the gateway shards its edge runs (TZUROT_SHARD_IDS); the leader always runs one
        (all shards unless named here), a member only when named. `hosts`: the members run in network
        namespaces of their own (`testkit/netns.py`), the leader on the bridge's address."""
        edges = edges or {}
        self.relays: list[Relay] = []
        self.hosts = hosts
        self.common = {
            "TZUROT_DATABASE_URL": database_url, "TZUROT_SECRET_KEY": fernet_key(), "TZUROT_NODE_HEARTBEAT_S": "1",
            "TZUROT_LIVENESS_PERIOD_S": "1", "TZUROT_USER_SHARDS": "4", "TZUROT_CHANNEL_SHARDS": "2", **(env or {}),
        }
        self.shards = int(self.common["TZUROT_USER_SHARDS"]) + int(self.common["TZUROT_CHANNEL_SHARDS"])
        leader_env = {**self.common, "TZUROT_NODE_NAME": "leader"}
        leader_host = "127.0.0.1"
        if hosts is not None:
            leader_host = leader_env["TZUROT_BIND_HOST"] = hosts.host_address
        if "leader" in edges:
            leader_env["TZUROT_SHARD_IDS"] = edges["leader"]
        self.stack = Stack(root / "leader", world, env=leader_env, shards=shards)
        self.stack.bot.command = ("node",)
        self.leader_port = self.stack.bot.env["TZUROT_ACTOR_ADMIN_PORT"]
        self.members: dict[str, Member] = {}
        for i in range(1, members + 1):
            name = f"n{i}"
            where = {} if hosts is None else {
                "TZUROT_BIND_HOST": hosts.address(name), "TZUROT_DATABASE_URL": self.relayed(database_url),
                "DISCORD_API_BASE": self.relayed(self.stack.discord.api_base),
                "AI_BASE_URL": self.relayed(self.stack.ai.base_url),
            }
            member = Member({**self.stack.bot.env, **self.common, "TZUROT_NODE_NAME": name,
                             "TZUROT_ACTOR_ADMIN_PORT": str(free_port()), "TZUROT_HTTP_PORT": str(free_port()),
                             "TZUROT_CONVENTION_LEADER": f"{leader_host}:{self.leader_port}",
                             "TZUROT_SHARD_IDS": edges.get(name, ""), **where}, root / name)
            if hosts is not None:
                member.prefix = hosts.run_in(name)
            if edges.get(name):
                member.ready = "bot ready"  # its edge is connected to the gateway
            self.members[name] = member

    def relayed(self, url: str) -> str:
        """`url` as a node in a namespace reaches it: through a relay on the bridge (the servers here, the
        emulators and PostgreSQL, listen on loopback)."""
        assert self.hosts is not None
        parts = urlsplit(url)
        relay = Relay(self.hosts.host_address, (parts.hostname or "127.0.0.1", parts.port or 5432))
        self.relays.append(relay)
        user = f"{parts.username}@" if parts.username else ""
        return urlunsplit(parts._replace(netloc=f"{user}{self.hosts.host_address}:{relay.port}"))

    def start(self, timeout: float = 60.0) -> Cluster:
        self.stack.start()
        for member in self.members.values():
            member.start()
        self.wait_placed(set(self.members), timeout)
        return self

    def nodes(self) -> dict[str, list[str]]:
        """Node name -> the shards `bot.py status` says run there ("" is the leader's own system)."""
        return {n["name"]: n["shards"] for n in self.stack.status().get("nodes", [])}

    def wait_placed(self, names: set[str], timeout: float = 60.0) -> dict[str, list[str]]:
        """Until every shard answers `bot.py status`, all of them on the nodes `names` and no other."""
        seen: list[Any] = ["nothing yet"]

        def placed() -> dict[str, list[str]] | None:
            try:
                now = self.nodes()
            except Exception as exc:  # noqa: BLE001 - the status call itself may time out while shards move
                seen[0] = f"status failed: {type(exc).__name__}: {str(exc)[:200]}"
                return None
            seen[0] = now
            return now if set(now) == names and sum(map(len, now.values())) == self.shards else None
        try:
            return wait_for(placed, timeout, f"all {self.shards} shards answering, on the nodes {sorted(names)}")
        except AssertionError as exc:  # say what was seen last, and what each node's supervisor said of late
            tails = {name: [f"{r.get('event')} {r.get('kind')}/{r.get('key')}: {r.get('detail')}"
                            for r in member.supervisor_log()[-8:]] for name, member in self.members.items()}
            raise AssertionError(f"{exc}; last seen: {seen[0]}; the members' last supervisor lines: {tails}") from None

    def kill_member(self, name: str) -> tuple[int, float]:
        """SIGKILL every process of a member node; how many, and when."""
        return kill_node(self.members[name]), time.monotonic()

    def stop(self) -> list[dict[str, Any]]:
        try:
            for member in self.members.values():
                member.stop(strict=False)
            return self.stack.stop(strict=False)
        finally:
            for relay in self.relays:
                relay.close()
