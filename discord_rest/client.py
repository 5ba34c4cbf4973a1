"""Discord REST v10 from inside an actor process: synchronous httpx, rate limits from the headers, no sleeping.

Every call returns a result instead of waiting: `Ok`, `Fail`, or `Wait(seconds)` when a bucket is empty, the
bot's shared budget is spent, or Discord answered 429 (the types are `actors/results.py`'s, which the pure state
classes read). The actor then sets a Thespian timer and tries again;
an actor never sleeps. Buckets are keyed by Discord's `X-RateLimit-Bucket` plus the major parameter (webhook
or channel id), because different webhooks have been seen to report the same bucket string. A global 429
pauses every sender in every process through the shared gate. Every 401, 403 and non-shared 429 is counted
bot-wide against Discord's invalid-request budget, which paces every sender (`discord_rest/invalid.py`).
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from typing import Any

import httpx

from actors.results import Fail, Ok, Result, Wait
from ai.tls import shared_context
from discord_rest.gate import CELL_NAME, GlobalGate
from discord_rest.invalid import FILE_NAME, InvalidRequests, is_invalid, pace
from observability.events import EventLog
from store.cells import open_cell

NO_MENTIONS: dict[str, Any] = {"parse": []}
# httpx logs each request's URL at INFO, and a webhook's or an interaction's token is part of the URL.
logging.getLogger("httpx").setLevel(logging.WARNING)

__all__ = ["DiscordRest", "Fail", "Ok", "Result", "Wait"]  # the result types are defined in actors/results.py


@dataclass
class _Bucket:
    remaining: int
    reset_at: float


class DiscordRest:
    def __init__(
        self,
        api_base: str,
        token: str,
        gate: GlobalGate,
        timeout_s: float = 10.0,
        bucket_cap: int = 512,
        invalid: InvalidRequests | None = None,
    ) -> None:
        self.api_base = api_base.rstrip("/")
        self._token = token
        self.gate = gate
        self.invalid = invalid or InvalidRequests(gate.cell.sibling(FILE_NAME))  # beside the shared gate
        self.timeout_s = timeout_s
        self.bucket_cap = bucket_cap
        self._route_bucket: dict[str, str] = {}  # route key -> Discord bucket hash
        self._buckets: dict[str, _Bucket] = {}  # bucket hash + major id -> state
        self._client: httpx.Client | None = None
        self._pid = 0
        self._me: Ok | None = None
        self.requests = 0  # sent to Discord by this process
        self.rate_limited = 0  # 429s received by this process

    def __repr__(self) -> str:  # never show the token
        return f"DiscordRest({self.api_base!r})"

    @classmethod
    def from_settings(cls, settings: Any) -> DiscordRest:
        """The client an actor process uses: the bot-wide budget and invalid-request window in the shared cells
        these settings name (the data directory's files, or PostgreSQL's rows)."""
        events = EventLog.in_dir(settings.data_dir, echo_level="warning")
        return cls(settings.discord_api_base, settings.discord_token,
                   GlobalGate(open_cell(settings, CELL_NAME), rate=settings.discord_global_rate),
                   invalid=InvalidRequests(open_cell(settings, FILE_NAME), events=events))

    # ---- the operations the bot uses ------------------------------------------------------------
    def me(self) -> Result:
        if self._me is None:
            result = self.request("GET", "/users/@me", route="me")
            if not isinstance(result, Ok):
                return result
            self._me = result
        return self._me

    def list_webhooks(self, channel_id: int) -> Result:
        return self.request("GET", f"/channels/{channel_id}/webhooks", route=f"webhooks:{channel_id}")

    def create_webhook(self, channel_id: int, name: str) -> Result:
        return self.request(
            "POST", f"/channels/{channel_id}/webhooks", route=f"webhooks:{channel_id}", json={"name": name}
        )

    def execute_webhook(
        self, webhook_id: int, token: str, payload: dict[str, Any], thread_id: int | None = None
    ) -> Result:
        params: dict[str, Any] = {"wait": "true"}
        if thread_id is not None:
            params["thread_id"] = str(thread_id)
        body = {**payload, "allowed_mentions": NO_MENTIONS}
        return self.request(
            "POST", f"/webhooks/{webhook_id}/{token}", route=f"webhook:{webhook_id}", json=body, params=params,
            auth=False,
        )

    def edit_webhook_message(
        self, webhook_id: int, token: str, message_id: int, payload: dict[str, Any], thread_id: int | None = None
    ) -> Result:
        params = {"thread_id": str(thread_id)} if thread_id is not None else None
        body = {**payload, "allowed_mentions": NO_MENTIONS}
        return self.request(
            "PATCH", f"/webhooks/{webhook_id}/{token}/messages/{message_id}", route=f"webhook:{webhook_id}",
            json=body, params=params, auth=False,
        )

    def delete_webhook_message(
        self, webhook_id: int, token: str, message_id: int, thread_id: int | None = None
    ) -> Result:
        params = {"thread_id": str(thread_id)} if thread_id is not None else None
        return self.request(
            "DELETE", f"/webhooks/{webhook_id}/{token}/messages/{message_id}", route=f"webhook:{webhook_id}",
            params=params, auth=False,
        )

    def create_message(self, channel_id: int, payload: dict[str, Any]) -> Result:
        body = {**payload, "allowed_mentions": NO_MENTIONS}
        return self.request("POST", f"/channels/{channel_id}/messages", route=f"messages:{channel_id}", json=body)

    def create_message_with_file(self, channel_id: int, payload: dict[str, Any], name: str, data: bytes) -> Result:
        body = {**payload, "allowed_mentions": NO_MENTIONS, "attachments": [{"id": 0, "filename": name}]}
        files = {"files[0]": (name, data, "application/json"), "payload_json": (None, json.dumps(body))}
        return self.request("POST", f"/channels/{channel_id}/messages", route=f"messages:{channel_id}", files=files)

    def answer_interaction(self, application_id: int, token: str, first: bool, payload: dict[str, Any],
                           ephemeral: bool = True, file_name: str = "", data: bytes = b"") -> Result:
        """A slash command's answer: `first` fills the response the edge deferred (an edit, so saying it again
        changes nothing), the rest are follow-ups. Interaction webhooks need no bot token."""
        body = {**payload, "allowed_mentions": NO_MENTIONS}
        if not first and ephemeral:
            body["flags"] = 64
        path = f"/webhooks/{application_id}/{token}" + ("/messages/@original" if first else "")
        files = None
        if file_name:
            body["attachments"] = [{"id": 0, "filename": file_name}]
            files = {"files[0]": (file_name, data, "application/json"), "payload_json": (None, json.dumps(body))}
        return self.request("PATCH" if first else "POST", path, route=f"interaction:{application_id}",
                            json=None if files else body, files=files, auth=False)

    def delete_message(self, channel_id: int, message_id: int) -> Result:
        return self.request(
            "DELETE", f"/channels/{channel_id}/messages/{message_id}", route=f"delete:{channel_id}"
        )

    def typing(self, channel_id: int) -> Result:
        return self.request("POST", f"/channels/{channel_id}/typing", route=f"typing:{channel_id}")

    def channel_messages(self, channel_id: int, after: int | None = None, limit: int = 50) -> Result:
        params: dict[str, Any] = {"limit": str(max(1, min(100, limit)))}
        if after is not None:
            params["after"] = str(after)
        return self.request("GET", f"/channels/{channel_id}/messages", route=f"messages:{channel_id}", params=params)

    # ---- the mechanism ----------------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        route: str,
        json: Any = None,
        params: dict[str, Any] | None = None,
        auth: bool = True,
        files: dict[str, Any] | None = None,
    ) -> Result:
        now = time.time()
        bucket = self._bucket_for(f"{method} {route}")
        if bucket is not None and bucket.remaining <= 0 and bucket.reset_at > now:
            return Wait(bucket.reset_at - now, "bucket")
        step = pace(self.invalid.count(now))
        if step.level == "hold":  # too close to Discord's ban: nothing goes until the window frees
            return Wait(max(0.05, self.invalid.hold_for(now)), "gate")
        wait = self.gate.acquire(now, step.cost)
        if wait > 0:
            return Wait(wait, "gate")
        headers = {"User-Agent": "DiscordBot (tzurot-actors, 0.1)"}
        if auth:
            headers["Authorization"] = f"Bot {self._token}"
        try:
            response = self._http().request(
                method, self.api_base + path, json=json, params=params, headers=headers, files=files
            )
        except httpx.HTTPError as exc:
            return Fail(0, None, f"could not reach Discord: {type(exc).__name__}")
        self.requests += 1
        self._learn(f"{method} {route}", route, response)
        if is_invalid(response.status_code, response.headers.get("X-RateLimit-Scope")):
            self.invalid.record(response.status_code)
        if response.status_code == 429:
            return self._rate_limited(response)
        if response.status_code >= 400:
            code, message = _error_of(response)
            return Fail(response.status_code, code, message)
        data = response.json() if response.content and _is_json(response) else None
        return Ok(response.status_code, data)

    def _rate_limited(self, response: httpx.Response) -> Wait:
        self.rate_limited += 1
        try:
            body = response.json()
        except ValueError:
            body = {}
        retry_after = float(body.get("retry_after") or response.headers.get("Retry-After") or 1.0)
        scope = response.headers.get("X-RateLimit-Scope", "user")
        if body.get("global") or response.headers.get("X-RateLimit-Global") or scope == "global":
            self.gate.pause_until(time.time() + retry_after)
            scope = "global"
        return Wait(retry_after, scope)

    def _bucket_for(self, route_key: str) -> _Bucket | None:
        bucket_hash = self._route_bucket.get(route_key)
        if bucket_hash is None:
            return None
        return self._buckets.get(bucket_hash + ":" + route_key.split(":", 1)[-1])

    def _learn(self, route_key: str, route: str, response: httpx.Response) -> None:
        h = response.headers
        bucket_hash = h.get("X-RateLimit-Bucket")
        if not bucket_hash or h.get("X-RateLimit-Remaining") is None:
            return
        try:
            remaining = int(h["X-RateLimit-Remaining"])
            reset_after = float(h.get("X-RateLimit-Reset-After", "0"))
        except ValueError:
            return
        if len(self._buckets) >= self.bucket_cap:  # bounded: forget the oldest learned buckets
            for stale in list(self._buckets)[: self.bucket_cap // 4]:
                del self._buckets[stale]
        if len(self._route_bucket) >= self.bucket_cap:
            for stale in list(self._route_bucket)[: self.bucket_cap // 4]:
                del self._route_bucket[stale]
        self._route_bucket[route_key] = bucket_hash
        major = route.split(":", 1)[-1]
        self._buckets[bucket_hash + ":" + major] = _Bucket(remaining, time.time() + reset_after)

    def _http(self) -> httpx.Client:
        if self._client is None or self._pid != os.getpid():  # never reuse a parent's sockets after fork
            self._client = httpx.Client(timeout=httpx.Timeout(self.timeout_s, connect=5.0), verify=shared_context())
            self._pid = os.getpid()
        return self._client

    def close(self) -> None:
        if self._client is not None and self._pid == os.getpid():
            self._client.close()
        self._client = None


def _is_json(response: httpx.Response) -> bool:
    return response.headers.get("Content-Type", "").startswith("application/json")


def _error_of(response: httpx.Response) -> tuple[int | None, str]:
    try:
        body = response.json()
        return body.get("code"), str(body.get("message", ""))[:300]
    except (ValueError, AttributeError):
        return None, response.text[:300]
