"""multihost: a tree over three nodes (the leader and two members, `bot.py node`) on a fresh PostgreSQL database;
users in both guilds talk while one member node is killed with SIGKILL (every process of it). Then wait for
quiet and count: every message must have exactly one answer.

`failover_s`: for each user whose actor lived on the killed node, from the kill to the first answer to one of
their messages sent after it (the answer's Discord time); p50 and max over those users. Live actors per node
are read from `bot.py status` before the kill and at the end. Always on PostgreSQL (several nodes need it).
"""

from __future__ import annotations

import time
from typing import Any

from bench.measure import percentile, scratch_dir, snowflake_ms
from bench.tally import Talk, summary, wait_for_quiet
from bench.world import crowd
from supervision.sharding import shard_of
from testkit import postgres
from testkit.cluster import Cluster

USERS, ROOMS, USER_SHARDS = 24, 4, 4
VICTIM = "n1"


def live_per_node(cluster: Cluster) -> dict[str, int]:
    return {n["name"]: n["live"] for n in cluster.stack.status().get("nodes", [])}


def failovers(cluster: Cluster, talk: Talk, rooms: list[int], users: dict[str, int], on_victim: set[str],
              killed_at: float) -> list[float]:
    """Seconds from the kill to each victim user's first answer to a message sent after it."""
    sent_after = {tag: mid for tag, mid in talk.sent.items() if snowflake_ms(mid) / 1000 >= killed_at}
    by_tag = {}
    for room in rooms:
        for message in cluster.stack.sandbox.replies(room, min(sent_after.values(), default=0)):
            for word in set(message["content"].replace(":", " ").split()):
                if word in sent_after:
                    by_tag.setdefault(word, snowflake_ms(message["id"]) / 1000)
    first: dict[str, float] = {}
    for name in on_victim:
        n = list(users).index(name)
        times = [at for tag, at in by_tag.items() if int(tag[3:]) // 100_000 == n]
        if times:
            first[name] = min(times) - killed_at
    return sorted(first.values())


def run(quick: bool) -> dict[str, Any]:
    seconds = 8.0 if quick else 30.0
    world, names, rooms = crowd(USERS, ROOMS)
    annex = next(g for g in world.guilds.values() if g.name == "Annex").id
    rooms.append(world.add_channel(annex, "annex-room").id)  # the second guild (gateway shard 1) talks too
    for user in [u for u in world.users.values() if u.username in names]:
        world.add_member(annex, user.id)
    env = {"TZUROT_USER_RATE_PER_MIN": "120", "TZUROT_USER_BURST": "10", "TZUROT_USER_SHARDS": str(USER_SHARDS)}
    with postgres.fresh_database() as url:
        cluster = Cluster(scratch_dir("multihost"), url, members=2, world=world, env=env, shards=2)
        try:
            cluster.start()
            sb = cluster.stack.sandbox
            users = {name: sb.user(name) for name in names}
            sb.command(rooms[0], names[0], "!tz add echo", "Added", timeout=30)
            since = sb.post(rooms[0], names[0], "multihost starts")
            talk = Talk(cluster.stack, names, rooms, (1.0, 3.0)).start()
            time.sleep(seconds / 2)  # the benchmark's run time (it measures; it is not a test)
            placed = cluster.nodes()
            before = live_per_node(cluster)
            victim_shards = {int(key.split("/")[1]) for key in placed.get(VICTIM, []) if key.startswith("user/")}
            on_victim = {n for n, uid in users.items() if shard_of(str(uid), USER_SHARDS) in victim_shards}
            killed, _ = cluster.kill_member(VICTIM)
            killed_at = time.time()
            time.sleep(seconds / 2)
            talk.stop()
            counts = wait_for_quiet(cluster.stack, rooms, talk.sent, since, 180.0)
            times = failovers(cluster, talk, rooms, users, on_victim, killed_at)
            after = live_per_node(cluster)
            return {
                "store": "postgresql", "nodes": 3, **summary(talk.sent, counts), "killed_processes": killed,
                "victim_users": len(on_victim), "failover_s_p50": round(percentile(times, 50), 2),
                "failover_s_max": round(max(times, default=float("nan")), 2),
                "live_actors_before": before, "live_actors_after": after,
            }
        finally:
            cluster.stop()
