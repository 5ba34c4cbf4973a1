"""Bridge.start waits for Root's ChildReady. What Root publishes meanwhile (a Directory as each shard comes up)
can reach the bridge first when Thespian has to retry a send: it must be kept, not taken for the answer."""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Any

import pytest

import bridge as bridge_module
from bridge import Bridge
from config import Settings
from supervision.metrics import MetricsDelta
from supervision.protocol import ChildReady, Directory


class FakeSystem:
    """An actor system whose Root answers with what `replies` holds, in that order."""

    def __init__(self, replies: list[Any]) -> None:
        self.replies = deque(replies)
        self.stopped = False

    def createActor(self, cls: str) -> str:  # noqa: N802 - Thespian's name
        return "root-address"

    def tell(self, address: Any, msg: Any) -> None:
        pass

    def ask(self, address: Any, msg: Any, timeout: float) -> Any:
        return self.listen(timeout)

    def listen(self, timeout: float) -> Any:
        return self.replies.popleft() if self.replies else None

    def shutdown(self) -> None:
        self.stopped = True


def start_with(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, replies: list[Any]) -> tuple[Bridge, list[Any]]:
    system = FakeSystem(replies)
    monkeypatch.setattr(bridge_module, "start_actor_system", lambda *a, **kw: system)
    facts: list[Any] = []
    b = Bridge(Settings(data_dir=tmp_path, secret_key="ZmFrZS1rZXktZm9yLXRlc3RzLW9ubHktMzItYnl0ZXM="))
    b._listen = lambda: None  # type: ignore[method-assign] # no listener thread: the test is about start
    b.start_timeout_s = 0.2
    return b.start(on_fact=facts.append), facts


def test_a_directory_that_arrives_before_root_is_ready_is_kept_not_mistaken_for_the_answer(monkeypatch, tmp_path):
    directory = Directory((("user/0", "shard-address", 123),), (("user", 1),))
    delta = MetricsDelta((), ())
    b, facts = start_with(monkeypatch, tmp_path, [directory, delta, ChildReady("root", 42)])
    assert b.routes.address("user", "7") == "shard-address"  # the early directory is in use
    assert facts == [delta]  # and the other early fact reached the edge
    b._pool.shutdown()


def test_a_tree_that_never_says_ready_stops_the_start_with_a_clear_error(monkeypatch, tmp_path):
    with pytest.raises(RuntimeError, match="did not start"):
        start_with(monkeypatch, tmp_path, [])
