"""The real bot against the Discord emulator: what users see in each kind of channel, and under faults."""

from __future__ import annotations

import pytest

from emulator.discord import default_world
from emulator.discord.permissions import MANAGE_WEBHOOKS
from testkit.process import wait_for
from testkit.stack import world_denying


def test_addressed_message_is_answered_through_a_webhook_in_each_channel_kind(make_stack) -> None:
    stack = make_stack()
    sb = stack.sandbox
    for name in ("general", "lounge", "ideas"):
        channel = sb.channel(name)
        trigger = sb.post(channel, "alice", sb.mention(f"hello from {name}"))
        reply = sb.said(channel, trigger)
        assert len(reply) == 1
        assert reply[0]["webhook_id"] is not None and reply[0]["author"]["username"] == "Tzurot"
        assert f"hello from {name}" in reply[0]["content"]
    # The thread's answer came through a webhook of its parent channel (sent with thread_id).
    hooks = {w["id"]: int(w["channel_id"]) for w in sb.http.get("/_sandbox/state").json()["webhooks"]}
    thread_reply = sb.replies(sb.channel("ideas"), 0)[0]
    assert hooks[thread_reply["webhook_id"]] == sb.channel("help")

    dm = sb.dm("bob")
    trigger = sb.post(dm, "bob", "@tzurot hi in private")
    reply = sb.said(dm, trigger)
    assert reply[0]["webhook_id"] is None and reply[0]["content"].startswith("**Tzurot:** ")


def test_a_429_storm_loses_no_reply_and_sends_nothing_before_retry_after(make_stack) -> None:
    stack = make_stack()
    sb = stack.sandbox
    general = sb.channel("general")
    sb.command(general, "alice", sb.mention("warm up"), "")

    sb.fault(kind="rate_limit", channel_id=str(general), count=3, seconds=0.5)
    triggers = [sb.post(general, user, sb.mention(f"storm {user}")) for user in ("alice", "bob", "carol")]
    wait_for(lambda: len(sb.replies(general, triggers[0])) >= 3, what="all three replies")
    replies = sb.replies(general, triggers[0])
    assert sorted(r["content"].rsplit(" ", 1)[-1] for r in replies) == ["alice", "bob", "carol"]

    limited = [r for r in stack.discord.requests(channel_id=general) if r.rate_limited]
    assert len(limited) >= 1
    everything = stack.discord.requests()
    for hit in limited:
        same_route = [r for r in everything if r.route == hit.route and r.at > hit.at]
        assert all(r.at >= hit.at + hit.retry_after - 0.02 for r in same_route)


def test_deleted_webhooks_are_replaced_with_one_retry(make_stack) -> None:
    stack = make_stack()
    sb = stack.sandbox
    general = sb.channel("general")
    sb.command(general, "alice", sb.mention("before"), "")

    sb.fault(kind="delete_webhooks", channel_id=str(general))
    second = sb.post(general, "bob", sb.mention("after"))
    reply = sb.said(general, second)
    assert len(reply) == 1 and reply[0]["webhook_id"] is not None
    unknown = [r for r in stack.discord.requests() if r.status == 404]
    assert len(unknown) <= 1  # at most the one send that found its webhook gone, then exactly one retry


def test_channel_without_manage_webhooks_still_gets_answers(make_stack) -> None:
    world, locked = world_denying(MANAGE_WEBHOOKS, "locked")
    stack = make_stack(world)
    sb = stack.sandbox
    for n in range(2):
        trigger = sb.post(locked.id, "carol", sb.mention(f"anyone there {n}"))
        wait_for(lambda trigger=trigger: [r for r in sb.replies(locked.id, trigger) if "anyone there" in r["content"]],
                 what="an answer without webhooks")
    bot_posts = [m for m in sb.messages(locked.id) if m["author"]["bot"]]
    assert all(m["webhook_id"] is None for m in bot_posts)
    assert sum("Manage Webhooks" in m["content"] for m in bot_posts) == 1  # one notice, not one per answer
    assert all(m["content"].startswith("**Tzurot:** ") for m in bot_posts if "anyone there" in m["content"])


def test_a_4500_character_answer_arrives_as_three_messages(make_stack) -> None:
    stack = make_stack()
    sb = stack.sandbox
    general = sb.channel("general")
    trigger = sb.post(general, "alice", sb.mention("LONG:4500"))
    replies = wait_for(lambda: len(sb.replies(general, trigger)) >= 3 and sb.replies(general, trigger),
                       what="three messages")
    assert [len(r["content"]) <= 2000 for r in replies] == [True, True, True]
    assert sum(len(r["content"]) for r in replies) >= 4500 - 10  # only the whitespace at the cuts is dropped
    assert all(r["content"].rstrip()[-1] in ".!?" for r in replies[:-1])  # cut on natural boundaries


def test_the_bot_never_answers_its_own_webhook_echoes(make_stack) -> None:
    stack = make_stack()
    sb = stack.sandbox
    general = sb.channel("general")
    sb.command(general, "alice", sb.mention("echo test"), "")
    # The reply's own MESSAGE_CREATE reached the edge before this message did (one gateway, in order).
    sb.command(general, "bob", sb.mention("after the echo"), "")
    bot_posts = [m for m in sb.messages(general) if m["author"]["bot"]]
    assert len(bot_posts) == 2


def test_killing_the_bot_process_stops_its_whole_actor_system(make_stack) -> None:
    """Thespian's admin outlives whoever started it: the tree must notice its owner died and stop itself."""
    import re
    import signal

    from supervision.procs import pid_alive

    stack = make_stack()
    log = stack.bot.supervisor_log()
    pids = {int(r["pid"]) for r in log} | {int(p) for r in log for p in re.findall(r"pid (\d+)", r["detail"])}
    assert len(pids) >= 9  # root, admin, logger, 6 shards, registry
    stack.bot.proc.send_signal(signal.SIGKILL)
    wait_for(lambda: not [p for p in pids if pid_alive(p)], timeout=3 * 1.0 + 2, what="the orphaned tree to stop")
    assert any(r["event"] == "orphan_exit" and r["kind"] == "root" for r in stack.bot.supervisor_log())


@pytest.mark.slow  # over 7 s: make test stays under 8 minutes
def test_the_whole_bot_stays_under_discords_global_rate_limit(make_stack) -> None:
    """Twelve channel actors in their own processes, all sending at once, share one 50/s budget."""
    world = default_world()
    guild_id = next(iter(world.guilds))
    channels = [world.add_channel(guild_id, f"room-{n}").id for n in range(12)]
    # Each user addresses 12 channels at once: lift the per-user limit, which is not what this measures.
    stack = make_stack(world, {"TZUROT_USER_RATE_PER_MIN": "100000", "TZUROT_USER_BURST": "1000"})
    sb = stack.sandbox
    triggers = {}
    for round_ in range(3):
        for n, channel in enumerate(channels):
            author = ("alice", "bob", "carol")[n % 3]
            triggers[(channel, round_)] = sb.post(channel, author, sb.mention(f"round {round_}"))
    first = min(triggers.values())
    wait_for(lambda: all(len(sb.replies(c, first)) >= 3 for c in channels), timeout=60, what="every reply")

    requests = stack.discord.requests()
    assert len(requests) > 80  # well over one second's budget, sent as fast as the bot was allowed
    # The emulator enforces Discord's global 50/s (per fixed second, as Discord does): never tripped.
    assert not [r for r in requests if r.rate_limited and r.scope == "global"]
