"""The bot on a sharded gateway, and start-up refusals about where it listens and which shards it runs."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from observability import jsonlog
from testkit.process import BotProcess, free_port, wait_for
from testkit.stack import in_thread
from tests.e2e.test_data_dir import refused
from tests.e2e.test_gateway_sessions import gateway


@pytest.mark.parametrize("host", ["0.0.0.0", "203.0.113.7"])
def test_a_public_actor_bind_stops_the_bot_before_any_actor_starts(tmp_path: Path, host: str) -> None:
    code, output = refused(tmp_path, {"TZUROT_BIND_HOST": host})
    lines = output.strip().splitlines()
    assert code == 2 and len(lines) == 1, output
    assert lines[0].startswith("configuration error: TZUROT_BIND_HOST") and "TZUROT_ALLOW_PUBLIC_BIND=1" in lines[0]
    assert not (tmp_path / "data" / "supervisor.log").exists()  # no actor system was started


def test_shard_ids_that_do_not_fit_the_count_stop_the_bot(tmp_path: Path) -> None:
    code, output = refused(tmp_path, {"TZUROT_SHARD_COUNT": "2", "TZUROT_SHARD_IDS": "1,2"})
    assert code == 2 and output.strip() == (
        "configuration error: TZUROT_SHARD_IDS: shard 2 is not below TZUROT_SHARD_COUNT (2)")


def healthz(stack) -> tuple[int, dict]:
    response = httpx.get(f"http://127.0.0.1:{stack.http_port}/healthz", timeout=10)
    return response.status_code, response.json()


@pytest.mark.slow  # 15-20 s: runs in .ci/run (make test-slow), keeping make test under 8 minutes
def test_one_edge_running_both_shards_answers_users_in_both_guilds_and_catches_each_shard_up(make_stack) -> None:
    stack = make_stack(env={"TZUROT_SHARD_COUNT": "2"}, shards=2)
    sb = stack.sandbox
    assert gateway(sb)["connected_shards"] == [0, 1]  # two sessions: shard 0 (Sandbox, DMs), shard 1 (Annex)
    general, commons, workshop = sb.channel("general"), sb.channel("commons"), sb.channel("workshop")
    sb.command(general, "alice", "!tz add lilith", "Added")
    for channel, user in ((general, "alice"), (commons, "bob"), (workshop, "carol"), (sb.dm("carol"), "carol")):
        trigger = sb.post(channel, user, f"@lilith hello from {user}")
        sb.said(channel, trigger, f"heard: {user}: hello from {user}", timeout=30)
    status = stack.status()
    assert [(s["id"], s["of"], s["connected"]) for s in status["gateway_shards"]] == [(0, 2, True), (1, 2, True)]
    assert healthz(stack) == (200, {"ok": True})

    # A new session on every shard: each shard reads back what was said in its own guild while it was away.
    sb.command(workshop, "bob", "!tz activate lilith", "now answers every message")
    sb.command(general, "alice", "!tz activate lilith", "now answers every message")
    gateway(sb, "outage")
    wait_for(lambda: healthz(stack)[0] == 503, what="/healthz to notice the lost shards")
    assert healthz(stack)[1]["failing"][0].startswith("gateway: not connected (shard ")
    missed = [(workshop, sb.post(workshop, "carol", "annex while away"), "heard: carol: annex while away"),
              (general, sb.post(general, "bob", "sandbox while away"), "heard: bob: sandbox while away")]
    wait_for(lambda: gateway(sb)["waiting"] == 2, timeout=60, what="both shards to IDENTIFY anew")
    gateway(sb, "restore")
    for channel, trigger, answer in missed:
        sb.said(channel, trigger, answer, timeout=60)
    wait_for(lambda: healthz(stack) == (200, {"ok": True}), timeout=30, what="/healthz ok with both shards back")
    for channel, trigger, answer in missed:
        assert sum(answer in m["content"] for m in sb.replies(channel, trigger)) == 1  # once each
    events = jsonlog.read(Path(stack.bot.data_dir) / "events.log")
    assert {int(r["trigger"]) for r in events if r["event"] == "caught_up"} == {t for _, t, _ in missed}


@pytest.mark.slow  # over 7 s: make test stays under 8 minutes
def test_two_edge_processes_each_running_one_shard_answer_only_their_own_guilds(make_stack, tmp_path: Path) -> None:
    """Each edge process here has its own actor tree and store: a process that runs only an edge over another
    process's tree needs the multi-host Convention, so the two bots share nothing but the gateway."""
    stack = make_stack(env={"TZUROT_SHARD_IDS": "0"}, shards=2)
    sb = stack.sandbox
    other_http = free_port()
    other = BotProcess({**stack.bot.env, "TZUROT_SHARD_IDS": "1", "TZUROT_ACTOR_ADMIN_PORT": str(free_port()),
                        "TZUROT_HTTP_PORT": str(other_http)}, tmp_path / "edge1")
    try:
        other.start(timeout=60)
        assert gateway(sb)["connected_shards"] == [0, 1]
        general, commons, dm = sb.channel("general"), sb.channel("commons"), sb.dm("carol")
        sb.command(general, "alice", "!tz add lilith", "Added")  # each bot its own catalogue
        sb.command(commons, "bob", "!tz add lilith", "Added")
        said = [(general, "alice", "in the sandbox"), (commons, "bob", "in the annex"), (dm, "carol", "in private")]
        triggers = []
        for channel, user, text in said:
            trigger = sb.post(channel, user, f"@lilith {text}")
            sb.said(channel, trigger, f"heard: {user}: {text}", timeout=30)
            triggers.append(trigger)
        for (channel, user, text), trigger in zip(said, triggers, strict=True):
            assert sum(f"heard: {user}: {text}" in m["content"] for m in sb.replies(channel, trigger)) == 1
        # Each edge was handed only its own shard's messages: shard 0 the Sandbox and the DMs, shard 1 the Annex.
        heard = {edge: {int(r["channel"]) for r in jsonlog.read(Path(data) / "events.log") if r["event"] == "received"}
                 for edge, data in ((0, stack.bot.data_dir), (1, other.data_dir))}
        assert heard == {0: {general, dm}, 1: {commons}}
        shards = [stack.status()["gateway_shards"],
                  httpx.get(f"http://127.0.0.1:{other_http}/status", timeout=30).json()["gateway_shards"]]
        assert [[(s["id"], s["of"], s["connected"]) for s in edge] for edge in shards] == [[(0, 2, True)],
                                                                                           [(1, 2, True)]]
        assert httpx.get(f"http://127.0.0.1:{other_http}/healthz", timeout=10).json() == {"ok": True}
    finally:
        other.stop(patience_s=30.0, strict=False)


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({}, "cannot start: the gateway refused the connection with close code 4011 (sharding required: "),
        ({"TZUROT_SHARD_COUNT": "3", "TZUROT_SHARD_IDS": "0"},
         "cannot start: the gateway refused shard 0 of 3 with close code 4010 (invalid shard: "),
    ],
    ids=["too-few", "too-many"],
)
def test_a_shard_count_the_gateway_refuses_stops_the_bot_saying_what_to_change(
    tmp_path: Path, env: dict[str, str], says: str
) -> None:
    from emulator.discord import DiscordEmulator

    with in_thread(DiscordEmulator(shards=2)) as emulator:
        bot = BotProcess({"DISCORD_TOKEN": "sandbox-token", "DISCORD_API_BASE": emulator.api_base,
                          "DISCORD_GATEWAY_URL": emulator.gateway_url, "TZUROT_HTTP_PORT": "0",
                          "AI_BASE_URL": f"http://127.0.0.1:{free_port()}/v1",
                          "TZUROT_ACTOR_ADMIN_PORT": str(free_port()), **env}, tmp_path / "data")
        try:
            code = bot.run_to_end(timeout=90)
        finally:
            bot.stop(strict=False)  # the tree it started, whatever happened
    assert code == 1 and says in bot.output() and "Traceback" not in bot.output(), bot.output()[-3000:]
