"""What an operator uses, against the real bot: `/healthz`, `/metrics`, `bot.py status` and `bot.py logs`."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from testkit.process import ROOT, free_port, wait_for

SNOWFLAKE = re.compile(r"\d{17,20}")
FAMILIES = (
    "tzurot_messages_received_total",
    "tzurot_messages_dropped_total",
    "tzurot_messages_answered_total",
    "tzurot_reply_latency_seconds_bucket",
    "tzurot_ai_latency_seconds_bucket",
    "tzurot_actor_restarts_total",
    "tzurot_live_actors",
    "tzurot_discord_429_total",
)


def url(stack, path: str) -> str:
    return f"http://127.0.0.1:{stack.http_port}{path}"


def bot_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`python bot.py ARGS` as an operator runs it, with the bot's own configuration."""
    return subprocess.run([sys.executable, str(ROOT / "bot.py"), *args], cwd=ROOT, env=env, text=True,
                          capture_output=True, timeout=60)


def talk(stack, author: str, channel: int, text: str) -> int:
    """Post `text` and wait for the bot's answer to it; the message's id."""
    sb = stack.sandbox
    trigger = sb.command(channel, author, text, "")
    return trigger


def lilith(stack) -> None:
    """alice creates the personality `lilith` in general."""
    general = stack.sandbox.channel("general")
    trigger = stack.sandbox.post(general, "alice", "!tz add lilith")
    wait_for(lambda: [m for m in stack.sandbox.replies(general, trigger) if "Added **Lilith**" in m["content"]],
             what="lilith to be added")


# ---- /healthz -------------------------------------------------------------------------------------------


def test_healthz_is_ok_and_names_a_store_that_cannot_be_written_until_it_can(make_stack) -> None:
    stack = make_stack()
    healthy = wait_for(lambda: (r := httpx.get(url(stack, "/healthz"), timeout=10)).status_code == 200 and r,
                       what="a healthy bot")
    assert healthy.json() == {"ok": True}

    # Someone holds the database's write lock (a stuck backup, a hand-run migration): the store is not writable.
    locker = sqlite3.connect(stack.bot.data_dir / "tzurot.sqlite3", isolation_level=None)
    try:
        locker.execute("BEGIN EXCLUSIVE")
        sick = httpx.get(url(stack, "/healthz"), timeout=20)
        assert sick.status_code == 503
        body = sick.json()
        assert body["ok"] is False and [f for f in body["failing"] if f.startswith("store")], body
        assert not [f for f in body["failing"] if not f.startswith("store")], body  # only the store is named
        assert "locked" in body["failing"][0]
    finally:
        locker.execute("ROLLBACK")
        locker.close()

    again = wait_for(lambda: (r := httpx.get(url(stack, "/healthz"), timeout=10)).status_code == 200 and r,
                     what="healthy again once the lock is released")
    assert again.json() == {"ok": True}


# ---- /metrics -------------------------------------------------------------------------------------------


def samples(text: str) -> list[Any]:
    """Every sample of the exposition (parsing it is the check that it is Prometheus text)."""
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def scrape(stack) -> tuple[str, list[Any]]:
    response = httpx.get(url(stack, "/metrics"), timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return response.text, samples(response.text)


def value(got: list[Any], name: str, **labels: str) -> float:
    return sum(s.value for s in got if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))


@pytest.mark.slow  # over 7 s: make test stays under 8 minutes
def test_metrics_are_prometheus_text_with_the_documented_families_and_no_ids_in_labels(make_stack) -> None:
    stack = make_stack()
    sb = stack.sandbox
    general = sb.channel("general")
    alice, bob = sb.user("alice"), sb.user("bob")
    assert SNOWFLAKE.fullmatch(str(alice)) and SNOWFLAKE.fullmatch(str(general))  # what the label check looks for

    lilith(stack)
    talk(stack, "alice", general, "@lilith hello there")  # general now has its webhook
    sb.post(general, "bob", "just chatting, nobody addressed")  # dropped at the edge
    sb.fault(kind="rate_limit", channel_id=str(general), count=3, seconds=0.3)  # Discord says 429
    talk(stack, "bob", general, "@lilith are you there")
    # Actors flush their counts every 2 s: wait for both answers before killing one of the actors that counted.
    wait_for(lambda: value(scrape(stack)[1], "tzurot_messages_answered_total") >= 2, what="both answers counted")
    pid = stack.actor_pid("user", bob)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)  # one restart
    stack.bot.pids.add(pid)

    def complete() -> tuple[str, list[Any]] | None:
        text, got = scrape(stack)
        names = {s.name for s in got}
        return (text, got) if set(FAMILIES) <= names and value(got, "tzurot_actor_restarts_total") >= 1 else None

    text, got = wait_for(complete, what="every documented family and the restart in /metrics")
    assert value(got, "tzurot_messages_received_total") >= 4
    assert [s.labels["reason"] for s in got if s.name == "tzurot_messages_dropped_total" and s.value >= 1]
    assert value(got, "tzurot_reply_latency_seconds_count") >= 2 and value(got, "tzurot_ai_latency_seconds_count") >= 2
    assert value(got, "tzurot_actor_restarts_total", kind="user") >= 1
    assert value(got, "tzurot_live_actors", kind="shard") >= 1 and value(got, "tzurot_live_actors", kind="user") >= 1
    assert value(got, "tzurot_discord_429_total") >= 1

    labels = [(s.name, k, v) for s in got for k, v in s.labels.items()]
    assert len(labels) > 20  # the check below looked at something
    assert [x for x in labels if SNOWFLAKE.search(x[2])] == []
    ids = {str(alice), str(bob), str(general)}
    assert not [line for line in text.splitlines() if "{" in line and any(i in line for i in ids)]


# ---- bot.py status --------------------------------------------------------------------------------------


def status_json(stack) -> dict[str, Any]:
    done = bot_cli(stack.bot.env, "status", "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.slow  # 13 s: runs in .ci/run (make test-slow), keeping make test under 8 minutes
def test_status_shows_the_bot_at_a_glance_and_a_killed_actor_and_a_parked_one(make_stack) -> None:
    stack = make_stack()
    sb = stack.sandbox
    general, alice, bob = sb.channel("general"), sb.user("alice"), sb.user("bob")
    lilith(stack)
    talk(stack, "alice", general, "@lilith hello")

    screen = bot_cli(stack.bot.env, "status")
    assert screen.returncode == 0, screen.stderr
    text = screen.stdout
    assert len(text.splitlines()) <= 25  # one screen
    assert re.search(r"^shards: .*user/0=\d+", text, re.M) and "channel/0=" in text
    assert re.search(r"live actors \d+ +restarts/h \d+ +parks/h \d+", text)
    assert re.search(r"AI slots \d+/\d+ in use \(ceiling 8\), \d+ waiting +breaker closed", text)
    assert f"top users (1 h): {alice} (" in text and "gateway connected" in text

    before = status_json(stack)
    for key in ("shards", "live_actors", "parked", "restarts_last_hour", "store_bytes", "top_users"):
        assert key in before, key
    assert before["parked"] == [] and before["store_bytes"] > 0 and before["live_actors"] >= 2  # alice and general
    assert {s["key"] for s in before["shards"]} >= {"user/0", "channel/0"}
    assert [n for u, n in before["top_users"] if u == alice] == [2]  # "!tz add" and the mention

    # An operator kills alice's actor: it is restarted, and status counts it.
    pid = stack.actor_pid("user", alice)
    os.kill(pid, signal.SIGKILL)
    stack.bot.pids.add(pid)
    wait_for(lambda: stack.status()["restarts_last_hour"] > before["restarts_last_hour"], what="the restart counted")
    assert status_json(stack)["restarts_last_hour"] > before["restarts_last_hour"]

    # bob's actor dies over and over (a bad deploy, an OOM loop): after 5 restarts in 60 s it is parked.
    talk(stack, "bob", general, "@lilith hi")
    last = None
    for _ in range(6):
        pid = wait_for(lambda last=last: (p := stack.actor_pid("user", bob)) not in (None, last) and p,
                       what="bob's actor to be running again")
        os.kill(pid, signal.SIGKILL)
        stack.bot.pids.add(pid)
        last = pid
    parked = wait_for(lambda: stack.status()["parked"], what="bob's actor parked")
    assert [p["key"] for p in parked] == [str(bob)] and parked[0]["last_error"]
    shown = status_json(stack)
    assert shown["parked"][0]["key"] == str(bob) and shown["parked"][0]["last_error"] == parked[0]["last_error"]
    assert shown["parks_last_hour"] >= 1
    screen = bot_cli(stack.bot.env, "status").stdout
    assert "PARKED:" in screen and f"/{bob}: {parked[0]['last_error'][:40]}" in screen


def test_status_without_a_running_bot_says_so_in_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "TZUROT_DATA_DIR": str(tmp_path), "TZUROT_HTTP_PORT": str(free_port())}
    for args in (("status",), ("status", "--json")):
        done = bot_cli(env, *args)
        assert done.returncode != 0 and done.stdout == ""
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert "no bot answering" in done.stderr and "Traceback" not in done.stderr


# ---- bot.py logs ----------------------------------------------------------------------------------------


STORY = ("received", "addressed", "ai_call", "answered", "sent")
LINE = re.compile(r"^\d\d:\d\d:\d\d\.\d{3} (?P<level>[A-Z]+) +(?P<event>\S+) (?P<where>\S+) .*?"
                  r"(?:  \[(?P<ids>[^\]]*)\])?$")


def parsed(output: str) -> list[dict[str, Any]]:
    """`bot.py logs` lines as (level, event, where, ids); every line must have the documented shape."""
    out = []
    for line in output.splitlines():
        match = LINE.match(line)
        assert match, f"not a log line: {line!r}"
        ids = dict(pair.split("=", 1) for pair in (match["ids"] or "").split())
        out.append({"level": match["level"], "event": match["event"], "where": match["where"],
                    **{k: int(v) for k, v in ids.items()}})
    return out


def logs(stack, *args: str) -> list[dict[str, Any]]:
    done = bot_cli(stack.bot.env, "logs", *args)
    assert done.returncode == 0, done.stderr
    return parsed(done.stdout)


@pytest.mark.slow  # over 7 s: make test stays under 8 minutes
def test_logs_tell_one_messages_whole_story_and_filter_as_documented(make_stack) -> None:
    stack = make_stack()
    sb = stack.sandbox
    general, lounge, alice = sb.channel("general"), sb.channel("lounge"), sb.user("alice")
    lilith(stack)
    hello = talk(stack, "alice", general, "@lilith hello")
    elsewhere = talk(stack, "alice", lounge, "@lilith over here")

    def story(trigger: int, *args: str) -> list[dict[str, Any]] | None:
        lines = [r for r in logs(stack, "--user", str(alice), *args) if r.get("trigger") == trigger]
        return lines if set(STORY) <= {r["event"] for r in lines} else None

    told = wait_for(lambda: story(hello), what="alice's message's whole story in `logs --user`")
    events = [r["event"] for r in told]
    assert [e for e in events if e in STORY] == list(STORY)  # in the order it happened
    for record in told:
        assert (record["user"], record["channel"]) == (alice, general), record
    everyone = logs(stack)
    assert {r["event"] for r in everyone} >= {"activated", *STORY}  # unfiltered: the supervisor log too
    assert all(r.get("user") in (alice, None) for r in logs(stack, "--user", str(alice)))

    # --channel: only that channel's lines (alice's message in lounge is not in general's story).
    in_general = logs(stack, "--channel", str(general))
    assert {r.get("trigger") for r in in_general if "trigger" in r} >= {hello}
    assert elsewhere not in {r.get("trigger") for r in in_general}
    assert wait_for(lambda: story(elsewhere, "--channel", str(lounge)), what="the lounge story")

    # --since: a line from two hours ago is left out of the last ten minutes.
    old = time.time() - 7200
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(old)) + ".000Z"
    record = {"ts": stamp, "level": "info", "event": "long_ago", "kind": "edge", "key": "edge", "pid": 1,
              "detail": "", "user": alice}
    with open(stack.bot.data_dir / "events.log", "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")
    assert "long_ago" in {r["event"] for r in logs(stack, "--user", str(alice))}
    recent = logs(stack, "--user", str(alice), "--since", "10m")
    assert "long_ago" not in {r["event"] for r in recent} and set(STORY) <= {r["event"] for r in recent}

    # --level warning: only warnings and errors (killing alice's actor is one).
    pid = stack.actor_pid("user", alice)
    os.kill(pid, signal.SIGKILL)
    stack.bot.pids.add(pid)
    warned = wait_for(lambda: logs(stack, "--user", str(alice), "--level", "warning"), what="a warning about alice")
    assert {r["level"] for r in warned} <= {"WARNING", "ERROR"} and warned[0]["where"] == f"user/{alice}"
    assert {r["event"] for r in warned} & {"exited", "liveness_miss"}

    # A --since that is not a duration is refused clearly, not with a traceback.
    refused = bot_cli(stack.bot.env, "logs", "--since", "5x")
    assert refused.returncode == 2 and refused.stdout == ""
    assert "--since takes a number and s, m, h or d (like 10m), not '5x'" in refused.stderr
    assert "Traceback" not in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
