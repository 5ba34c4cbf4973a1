"""The real tree on multiprocTCPBase, started per test in a fresh data directory, and cleaned up after.

Teardown stops the actor system and then makes sure that no process the test started is left: every pid the
supervisor log mentions, plus our descendants, is waited for and, if still there, killed by its pid.
"""

from __future__ import annotations

import dataclasses
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import config
from actors.kinds import Kind
from actors.tree import default_tree
from bridge import Bridge
from observability import jsonlog
from supervision.procs import descendants, pid_alive
from supervision.protocol import GroupSpec, TreeSpec
from testkit.process import free_port, named_pids, reap

FAST = {
    "TZUROT_LIVENESS_PERIOD_S": "0.5",
    "TZUROT_BACKOFF_FIRST_S": "0.05",
    "TZUROT_BACKOFF_MAX_S": "0.4",
    "TZUROT_ASK_TIMEOUT_S": "10",
    "TZUROT_USER_SHARDS": "2",
    "TZUROT_CHANNEL_SHARDS": "1",
}


class Tree:
    """One running actor system plus helpers to find and kill its processes."""

    def __init__(
        self, data_dir: Path, env: dict[str, str], user_class: str | None, on_fact: Callable[[Any], None] | None = None
    ) -> None:
        self.env = {"TZUROT_DATA_DIR": str(data_dir), "TZUROT_ACTOR_ADMIN_PORT": str(free_port()), **FAST, **env}
        self.settings = config.load(self.env)
        self.user_class = user_class
        self.on_fact = on_fact  # what the tree publishes to its outlet (the edge's callback in the bot)
        self.bridge: Bridge | None = None
        self.pids: set[int] = set()

    def tree_spec(self) -> TreeSpec:
        spec = default_tree(self.settings)
        if self.user_class is None:
            return spec
        groups = tuple(
            GroupSpec(g.name, g.shards, self.user_class) if g.name == Kind.USER else g for g in spec.groups
        )
        return dataclasses.replace(spec, groups=groups)

    def start(self) -> Tree:
        self.bridge = Bridge(self.settings, self.tree_spec()).start(on_fact=self.on_fact)
        return self

    def stop(self) -> None:
        if self.bridge is not None:
            self.bridge.stop()
            self.bridge = None

    def ask(self, kind: Kind, key: int | str, body: Any, timeout: float | None = None) -> Any:
        assert self.bridge is not None
        return self.bridge.ask(kind, key, body, timeout)

    def child(self, key: str, kind: str = "user") -> Any:
        """The status row of a child (a shard key like 'user/1', or an actor's key), or None."""
        assert self.bridge is not None
        for status in self.bridge.status():
            for row in status.children:
                if row.key == key and (status.key.startswith(kind) or status.key == "root"):
                    return row
        return None

    def shard_of_child(self, key: str, kind: str = "user") -> Any:
        assert self.bridge is not None
        for status in self.bridge.status()[1:]:
            if status.key.startswith(kind) and any(r.key == key for r in status.children):
                return self.child(status.key, "root")
        return None

    def log(self) -> list[dict[str, Any]]:
        records = jsonlog.read(self.settings.supervisor_log_path)
        self.pids |= named_pids(records)
        return records

    def events(self, event: str, key: str | None = None) -> list[dict[str, Any]]:
        return [r for r in self.log() if r["event"] == event and (key is None or r["key"] == key)]

    def kill(self, pid: int) -> None:
        self.pids.add(pid)
        os.kill(pid, signal.SIGKILL)



def leftover(pids: set[int]) -> set[int]:
    return {p for p in pids if p != os.getpid() and pid_alive(p)}


@pytest.fixture
def make_tree(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., Tree]]:
    """Starts trees; in a module that parametrizes `store_backend`, on that store (one database per test)."""
    trees: list[Tree] = []
    before = descendants(os.getpid())
    store_env: dict[str, str] = {}
    if "store_backend" in request.fixturenames and request.getfixturevalue("store_backend") == "postgresql":
        store_env["TZUROT_DATABASE_URL"] = request.getfixturevalue("postgres_url")

    def make(
        env: dict[str, str] | None = None,
        user_class: str | None = None,
        data_dir: Path | None = None,
        on_fact: Callable[[Any], None] | None = None,
    ) -> Tree:
        tree = Tree(data_dir or tmp_path / "data", {**store_env, **(env or {})}, user_class, on_fact).start()
        trees.append(tree)
        return tree

    yield make
    for tree in trees:
        tree.stop()
        tree.log()
    if store_env:  # on PostgreSQL nothing may have fallen back to the data directory's SQLite file
        assert not any(t.settings.store_path.exists() for t in trees), "an actor wrote SQLite, not PostgreSQL"
    ours = set().union(*(t.pids for t in trees)) | (descendants(os.getpid()) - before) if trees else set()
    reap(ours, 10, what="every actor process to exit")
