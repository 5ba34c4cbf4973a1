"""The edge's parts alone, with fakes for their narrow collaborators: redelivery (the resend sweep and the
catch-up, edge/durable.py) and the live status (observability/live.py), no discord.py client and no actors."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from actors.messages import Author, GetSlots, Incoming, Place, SlotsInfo
from config import Settings
from edge.durable import Redelivery, WorkLog
from edge.routing import RoutingTable
from observability.activity import Activity
from observability.events import EventLog
from observability.jsonlog import read
from observability.live import LiveStatus
from observability.metrics import Metrics
from testkit.process import await_for


def incoming(message_id: int, channel_id: int = 7, user: int = 42) -> Incoming:
    return Incoming(message_id, Place(channel_id), Author(user, "alice"), "hi @lilith")


class FakeWork:
    def __init__(self, due: list[tuple[Incoming, int, bool]], seen: frozenset[int] = frozenset()) -> None:
        self._due, self.seen = due, seen
        self.given_up: list[int] = []
        self.pruned = 0
        self.asked_since: list[tuple[int, float]] = []

    def due(self) -> list[tuple[Incoming, int, bool]]:
        due, self._due = self._due, []
        return due

    def give_up(self, message_id: int) -> None:
        self.given_up.append(message_id)

    def all_due(self) -> int:
        return 0

    def prune(self) -> int:
        self.pruned += 1
        return 0

    def last_seen(self, channel_id: int, before: float) -> int | None:
        self.asked_since.append((channel_id, before))
        return None

    def known(self, message_id: int) -> bool:
        return message_id in self.seen


class FakeBridge:
    pool = None  # the loop's default executor

    def __init__(self) -> None:
        self.told: list[tuple[str, int, Any]] = []

    async def tell_async(self, kind: str, key: int | str, body: Any) -> None:
        self.told.append((kind, key, body))


class FakeNotices:
    def __init__(self) -> None:
        self.said: list[tuple[int, str]] = []

    async def tell_author(self, incoming: Incoming, text: str, kind: str = "edge") -> None:
        self.said.append((incoming.message_id, text))


def sweep_until(redelivery: Redelivery, done: Any, timeout_s: float = 10.0) -> None:
    """Run the resend sweep (every 10 ms) until `done()` holds, then stop it."""

    async def sweeping() -> None:
        sweep = asyncio.create_task(redelivery.resend_forever(every_s=0.01))
        try:
            await await_for(done, timeout_s, "the sweep to do its work")
        finally:
            sweep.cancel()

    asyncio.run(sweeping())


def test_the_sweep_hands_on_what_fell_due_and_gives_up_what_is_hopeless(tmp_path: Path) -> None:
    work = FakeWork([(incoming(1), 0, False), (incoming(2), 8, True)])
    bridge, notices, table = FakeBridge(), FakeNotices(), RoutingTable()
    table.conversations[5] = time.time() - 1  # ended: the hourly prune forgets it
    redelivery = Redelivery(work, bridge, table, notices, EventLog(tmp_path / "events.log", echo=False))
    sweep_until(redelivery, lambda: work.pruned and notices.said and bridge.told)
    assert [(kind, key, body.message_id) for kind, key, body in bridge.told] == [("channel", 7, 1)]
    assert work.given_up == [2] and [m for m, _ in notices.said] == [2]
    assert work.pruned == 1 and 5 not in table.conversations
    assert [(r["event"], r["trigger"]) for r in read(tmp_path / "events.log")] == [("redelivered", 1)]


def test_after_a_restart_a_message_an_actor_of_the_last_run_held_is_handed_on_at_once(
    tmp_path: Path, store_target: str | Path
) -> None:
    """Its answer was made but its channel died before sending it: the acknowledgement asked for 5 minutes'
    patience, but that actor is gone, so the first sweep after a start hands the message on again (on both
    stores; it was lost on PostgreSQL, where sends lag further behind, in `bench restart`)."""
    settings = (Settings(data_dir=tmp_path, database_url=store_target) if isinstance(store_target, str)
                else Settings(data_dir=tmp_path))
    before = WorkLog(settings)
    before.record(incoming(1))
    before.store.work_ack(1, patience_s=300.0)  # the user's actor has it (and then everything is killed)
    before.store.work_open(2, 7, 42, {"x": 1}, due_in_s=20.0)  # handed on, not yet acknowledged
    before.store.work_done(2, 99)  # answered: never handed on again
    bridge = FakeBridge()
    redelivery = Redelivery(WorkLog(settings), bridge, RoutingTable(), FakeNotices(),
                            EventLog(tmp_path / "events.log", echo=False))
    sweep_until(redelivery, lambda: bridge.told)
    assert [(kind, key, body.message_id) for kind, key, body in bridge.told] == [("channel", 7, 1)]


class FakeChannel:
    def __init__(self, ids: list[int]) -> None:
        self.ids = ids

    async def history(self, **_: Any) -> AsyncIterator[Any]:
        for message_id in self.ids:
            yield type("Message", (), {"id": message_id})()


class FakeReader:
    def __init__(self, channels: dict[int, FakeChannel]) -> None:
        self.channels = channels
        self.handled: list[int] = []

    def get_channel(self, channel_id: int, /) -> Any:
        return self.channels.get(channel_id)

    async def fetch_channel(self, channel_id: int, /) -> Any:
        raise LookupError(channel_id)  # a channel we cannot read: the others are still caught up

    async def handle(self, message: Any, caught_up: bool = False) -> int:
        assert caught_up
        self.handled.append(message.id)
        return 1


def test_catch_up_reads_back_activated_and_live_channels_and_hands_on_what_it_had_not_seen(tmp_path: Path) -> None:
    table = RoutingTable(activated={7: "lilith", 9: "bob"}, conversations={8: time.time() + 60, 6: 1.0})
    work = FakeWork([], seen=frozenset({71}))
    reader = FakeReader({7: FakeChannel([70, 71, 72]), 8: FakeChannel([80])})  # 9 cannot be fetched
    redelivery = Redelivery(work, FakeBridge(), table, FakeNotices(), EventLog(tmp_path / "events.log"))

    handed = asyncio.run(redelivery.catch_up(reader, since=123.0))
    assert handed == 3 and sorted(reader.handled) == [70, 72, 80]
    assert sorted(work.asked_since) == [(7, 123.0), (8, 123.0)]  # not 6 (its talk ended), nor 9 (unreadable)


class FakeTree:
    pool = None

    def status(self, timeout: float | None = None) -> list[Any]:
        return []

    def ask(self, kind: str, key: int | str, body: Any, timeout: float | None = None) -> Any:
        assert (kind, key, body) == ("slots", "slots", GetSlots())
        return SlotsInfo(6, 3, 1, 8)


def test_live_status_gathers_the_tree_the_edge_and_the_slots_and_sets_the_gauges(tmp_path: Path) -> None:
    metrics, table, usage = Metrics(), RoutingTable(), Activity()
    table.dropped["chatter"] += 2
    usage.add(42)
    live = LiveStatus(FakeTree(), Settings(data_dir=tmp_path), metrics, table, usage, gateway_up=lambda: True)

    status = asyncio.run(live.status())
    assert status["gateway_connected"] is True and live.connected()
    assert status["edge"] == {"forwarded": 0, "dropped": {"chatter": 2},
                              "routing": {"webhooks": 0, "aliases": 0, "activated": 0}}
    assert status["ai_slots"] == {"capacity": 6, "ceiling": 8, "in_use": 3, "waiting": 1}
    assert status["breaker"] == "closed"
    assert status["top_users"] and "discord_invalid" in status
    asyncio.run(live.refresh_gauges())
    assert b'tzurot_live_actors{kind="user"} 0.0' in metrics.render()
