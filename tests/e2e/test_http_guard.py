"""The real bot's HTTP server as an operator meets it: a token guards all but the probes, `bot.py status`
sends it, and Discord's invalid-request budget is counted where an operator looks."""

from __future__ import annotations

import json
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from testkit.process import wait_for
from tests.e2e.test_operating import bot_cli, lilith, talk, url

TOKEN = "e2e-http-token-0123456789"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


def test_with_a_token_only_the_probes_are_open_and_bot_py_status_sends_it(make_stack) -> None:
    stack = make_stack(env={"TZUROT_HTTP_TOKEN": TOKEN})

    refused = httpx.get(url(stack, "/status"), timeout=10)
    assert refused.status_code == 401 and refused.json() == {"error": "unauthorized"}
    assert httpx.get(url(stack, "/status"), headers=BEARER, timeout=30).status_code == 200
    assert wait_for(lambda: httpx.get(url(stack, "/healthz"), timeout=10).status_code == 200, what="healthy")
    assert httpx.get(url(stack, "/metrics"), timeout=10).status_code == 200
    assert httpx.get(url(stack, "/ping"), params={"user": "42"}, headers=BEARER, timeout=10).status_code == 404
    preflight = httpx.options(url(stack, "/status"), headers={**BEARER, "Origin": "https://evil.example",
                                                             "Access-Control-Request-Method": "GET"}, timeout=10)
    assert "access-control-allow-origin" not in preflight.headers

    screen = bot_cli(stack.bot.env, "status")  # the operator's configuration holds the token
    assert screen.returncode == 0, screen.stderr
    assert "gateway connected" in screen.stdout and TOKEN not in screen.stdout

    without = {k: v for k, v in stack.bot.env.items() if k != "TZUROT_HTTP_TOKEN"}
    denied = bot_cli(without, "status")
    assert denied.returncode == 1 and "401" in denied.stderr and "TZUROT_HTTP_TOKEN" in denied.stderr


def invalid_in_metrics(stack) -> float:
    text = httpx.get(url(stack, "/metrics"), timeout=10).text
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples
               if s.name == "tzurot_discord_invalid_requests")


def test_invalid_discord_answers_are_counted_in_metrics_and_status(make_stack) -> None:
    stack = make_stack()
    sb = stack.sandbox
    general = sb.channel("general")
    lilith(stack)
    talk(stack, "alice", general, "@lilith hello")  # general has its webhook
    assert invalid_in_metrics(stack) == 0

    # Discord refuses the next two requests in general (a permission taken away, then a revoked token).
    sb.fault(kind="forbidden", channel_id=str(general), count=1)
    sb.fault(kind="unauthorized", channel_id=str(general), count=1)
    sb.post(general, "alice", "@lilith are you there")
    wait_for(lambda: len([r for r in stack.discord.requests(channel_id=general) if r.status in (401, 403)]) == 2,
             what="both refusals")

    assert wait_for(lambda: invalid_in_metrics(stack) >= 2, what="the invalid requests in /metrics")
    text = httpx.get(url(stack, "/metrics"), timeout=10).text
    by_status: dict[str, Any] = {s.labels["status"]: s.value for f in text_string_to_metric_families(text)
                                 for s in f.samples if s.name == "tzurot_discord_invalid_responses_total"}
    assert by_status.get("401") == 1 and by_status.get("403") == 1

    shown = json.loads(bot_cli(stack.bot.env, "status", "--json").stdout)
    assert shown["discord_invalid"]["count"] == 2 and shown["discord_invalid"]["pace"] == "normal"
    screen = bot_cli(stack.bot.env, "status").stdout
    assert "discord invalid requests 2/10000 in 10 min (pace normal)" in screen
