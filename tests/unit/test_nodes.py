"""Where shards run on a tree over several nodes, and how Root decides a node's shard is gone (pure parts)."""

from __future__ import annotations

from collections import Counter

import pytest

import config
from observability.status import collect, render
from supervision.nodes import CAPABILITY, Heartbeats, capabilities, on_node
from supervision.placement import LOCAL, moves, place, shares
from supervision.protocol import ChildStatus, SupervisorStatus

KEYS = [f"user/{i}" for i in range(4)] + ["channel/0", "channel/1"]


def test_without_members_every_shard_stays_on_the_leader() -> None:
    assert set(place(KEYS, [], {}).values()) == {LOCAL}


def test_shards_spread_evenly_over_the_members() -> None:
    spread = Counter(place(KEYS, ["n1", "n2"], {}).values())
    assert spread == {"n1": 3, "n2": 3}
    assert shares(7, ["b", "a"]) == {"a": 4, "b": 3}


def test_a_joining_node_takes_only_its_share_from_the_others() -> None:
    before = place(KEYS, ["n1"], {})
    assert set(before.values()) == {"n1"}
    moving = moves(KEYS, ["n1", "n2"], before)
    assert len(moving) == 3  # half of them, no more
    after = place(KEYS, ["n1", "n2"], before)
    assert all(after[k] == "n2" for k in moving) and all(after[k] == "n1" for k in KEYS if k not in moving)


def test_a_dead_nodes_shards_go_to_the_survivors_and_nothing_else_moves() -> None:
    before = place(KEYS, ["n1", "n2", "n3"], {})
    after = place(KEYS, ["n1", "n3"], before)
    assert "n2" not in after.values()
    assert all(after[k] == before[k] for k in KEYS if before[k] != "n2")
    assert Counter(after.values()) == {"n1": 3, "n3": 3}


def test_thespian_places_a_shard_only_on_the_node_asked_for() -> None:
    caps = capabilities("n1", ("10.0.0.1", 19500))
    assert caps["Convention Address.IPv4"] == ("10.0.0.1", 19500)
    assert on_node(caps, None) and on_node(caps, {CAPABILITY: "n1"}) and not on_node(caps, {CAPABILITY: "n2"})
    assert "Convention Address.IPv4" not in capabilities("leader", None)


def test_a_shard_is_given_up_after_missing_five_heartbeats_and_five_periods_once() -> None:
    beats = Heartbeats(period_s=1.0)
    beats.started("user/0", 100.0)
    beats.started("user/1", 100.0)
    for t in range(1, 6):
        seq = beats.sent()
        if t <= 3:
            beats.answered("user/1", seq, 100.0 + t)
    assert beats.silent(104.9) == []  # five sent, but not five seconds yet
    assert beats.silent(105.2) == [("user/0", pytest.approx(5.2))]
    assert beats.silent(108.2) == []  # user/1 last answered heartbeat 3 of 5: two missed only
    for _ in range(3):
        beats.sent()
    assert beats.silent(108.2) == [("user/1", pytest.approx(5.2))]
    assert beats.silent(120.0) == []  # each reported once
    beats.answered("user/0", beats.seq, 121.0)  # an answer from a forgotten shard does not bring it back
    assert beats.silent(200.0) == []


def test_a_slow_root_blames_nobody_for_heartbeats_it_did_not_send() -> None:
    beats = Heartbeats(period_s=1.0)
    beats.started("user/0", 100.0)
    beats.sent()
    assert beats.silent(130.0) == []  # 30 s passed, but only one heartbeat went out


@pytest.mark.parametrize("text, ok", [("10.1.2.3:19500", True), ("leader.internal:1", True), ("[fd00::2]:19500", True),
                                      ("10.1.2.3", False), (":19500", False), ("host:0", False), ("host:70000", False)])
def test_the_leader_address_is_host_and_port(text: str, ok: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZUROT_CONVENTION_LEADER", text)
    if ok:
        assert config.parse_host_port(config.load().convention_leader) is not None
    else:
        with pytest.raises(config.ConfigError, match="TZUROT_CONVENTION_LEADER"):
            config.load()


def test_status_shows_each_node_with_its_shards_and_live_actors(tmp_path) -> None:
    def shard(key: str, node: str, live: int) -> SupervisorStatus:
        rows = tuple(ChildStatus(str(i), "live", 100 + i, 0, 0, 0.0, "") for i in range(live))
        return SupervisorStatus(key, 1, rows, node)

    status = collect([SupervisorStatus("root", 1, (), "leader"), shard("user/0", "n1", 2), shard("user/1", "n2", 1),
                      shard("channel/0", "n1", 0)], {}, tmp_path)
    assert status["nodes"] == [{"name": "n1", "shards": ["user/0", "channel/0"], "live": 2},
                               {"name": "n2", "shards": ["user/1"], "live": 1}]
    text = render(status)
    assert "node n1: 2 shard(s) (user/0 channel/0), 2 live actor(s)" in text
    assert "node n2: 1 shard(s) (user/1), 1 live actor(s)" in text


def test_an_actor_forgets_the_peers_whose_shard_restarted() -> None:
    from supervision.peers import Origin, Peers
    from supervision.protocol import Directory
    from supervision.sharding import Routes, shard_of

    routes, peers = Routes(), Peers(8)
    old = Directory((("user/0", "A0", 1), ("user/1", "A1", 2)), (("user", 2),))
    assert routes.update(old) == set()
    keys = {shard_of(str(k), 2): str(k) for k in range(20)}  # one key on each shard
    for key in keys.values():
        peers.heard(Origin("user", key, f"addr-{key}"), "me")
    restarted = Directory((("user/0", "A0", 1), ("user/1", "B1", 3)), (("user", 2),))
    changed = routes.update(restarted)
    assert changed == {"user/1"}
    assert peers.forget_where(lambda kind, key: routes.shard_of_key(kind, key) in changed) == 1
    assert {key for _, key, _ in peers.addresses()} == {keys[0]}  # only the peer under the live shard is kept
