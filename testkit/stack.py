"""The Discord and AI emulators in this process and the real bot in a subprocess (`testkit/process.py`), and a
client for the emulator's control API: what the end-to-end tests and the benchmarks drive over the real
interfaces. The emulators run here, in threads; the bot is a separate process, so it starts its actor system
before any thread of its own exists, exactly as in production.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from testkit.process import BotProcess, free_port, wait_for


@contextmanager
def in_thread(emulator: Any) -> Iterator[Any]:
    """An emulator (Discord's or the AI's) serving from a thread of this process, stopped afterwards."""
    handle = emulator.start_in_thread()
    try:
        yield handle
    finally:
        handle.stop()


def world_denying(permission: int, name: str) -> tuple[Any, Any]:
    """The emulator's default world plus a text channel `name` in which the bot is denied `permission`."""
    from emulator.discord import Overwrite, OverwriteType, default_world

    world = default_world()
    channel = world.add_channel(next(iter(world.guilds)), name)
    world.set_overwrite(channel.id, Overwrite(world.bot_id, OverwriteType.MEMBER, deny=permission))
    return world, channel


class Sandbox:
    """Talks to the Discord emulator's control API the way a test or the benchmark does."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=10)
        self.state = self.http.get("/_sandbox/state").json()

    def channel(self, name: str) -> int:
        for guild in self.state["guilds"]:
            for ch in guild["channels"]:
                if ch["name"] == name:
                    return int(ch["id"])
        raise KeyError(name)

    def user(self, name: str) -> int:
        return next(int(u["id"]) for u in self.state["users"] if u["username"] == name)

    def dm(self, name: str) -> int:
        uid = self.user(name)
        return next(int(d["id"]) for d in self.state["dm_channels"] if int(d["user_id"]) == uid)

    @property
    def bot_id(self) -> int:
        return next(int(u["id"]) for u in self.state["users"] if u["bot"])

    def post(
        self, channel_id: int, author: str, content: str, reply_to: int | None = None,
        attachments: list[dict[str, str]] | None = None,
    ) -> int:
        body: dict[str, Any] = {
            "channel_id": str(channel_id),
            "author": {"id": str(self.user(author)), "username": author},
            "content": content,
        }
        if reply_to is not None:
            body["reply_to"] = str(reply_to)
        if attachments:
            body["attachments"] = attachments
        response = self.http.post("/_sandbox/messages", json=body)
        response.raise_for_status()
        return int(response.json()["id"])

    def messages(self, channel_id: int) -> list[dict[str, Any]]:
        return self.http.get(f"/_sandbox/channels/{channel_id}/messages").json()

    def replies(self, channel_id: int, after: int) -> list[dict[str, Any]]:
        """Messages the bot (or its webhooks) posted after message `after`."""
        return [m for m in self.messages(channel_id) if int(m["id"]) > after and m["author"]["bot"]]

    def said(self, channel_id: int, after: int, text: str = "", n: int = 1, timeout: float = 20.0) -> list[dict]:
        """Wait for at least `n` bot messages in the channel after message `after` (containing `text`)."""

        def found() -> list[dict[str, Any]]:
            hits = [m for m in self.replies(channel_id, after) if text in m["content"]]
            return hits if len(hits) >= n else []

        return wait_for(found, timeout, what=f"{n} bot message(s) with {text!r} in channel {channel_id}")

    def command(self, channel_id: int, author: str, text: str, answer: str, timeout: float = 20.0) -> int:
        """`author` posts `text` and waits for the bot's message containing `answer`; the posted message's id."""
        trigger = self.post(channel_id, author, text)
        self.said(channel_id, trigger, answer, timeout=timeout)
        return trigger

    def mention(self, text: str) -> str:
        """`text` addressed to the bot itself."""
        return f"<@{self.bot_id}> {text}"

    def violations(self) -> list[dict[str, Any]]:
        return self.http.get("/_sandbox/violations").json()

    def slash(self, channel_id: int, user: str, command: str, /, focused: str | None = None, **options: Any
              ) -> dict[str, Any]:
        """`user` invokes `/command` (`"tz info"`) with `options` (with `focused`: types into that option, an
        autocomplete); the interaction as it stands once the bot first answered (or 3 s passed)."""
        body: dict[str, Any] = {"channel_id": str(channel_id), "user_id": str(self.user(user)), "command": command,
                                "options": options}
        if focused is not None:
            body["focused"] = focused
        response = self.http.post("/_sandbox/interactions", json=body)
        response.raise_for_status()
        return response.json()

    def submit_modal(self, interaction_id: str, **values: str) -> dict[str, Any]:
        response = self.http.post("/_sandbox/interactions", json={"modal_of": interaction_id, "values": values})
        response.raise_for_status()
        return response.json()

    def slash_answer(self, interaction_id: str, text: str = "", timeout: float = 20.0) -> dict[str, Any]:
        """Wait until the interaction's (deferred) answer holds `text`; the interaction's state then."""

        def answered() -> dict[str, Any] | None:
            view = self.http.get(f"/_sandbox/interactions/{interaction_id}").json()
            original = view.get("original")
            return view if original and not original["loading"] and text in original["content"] else None

        return wait_for(answered, timeout, what=f"the answer to interaction {interaction_id} with {text!r}")

    def seen_by(self, channel_id: int, user: str) -> list[dict[str, Any]]:
        """The channel as `user` sees it: everyone's messages and the ephemeral ones meant for them."""
        return self.http.get(f"/_sandbox/channels/{channel_id}/messages", params={"as": str(self.user(user))}).json()

    def fault(self, **fault: Any) -> None:
        self.http.post("/_sandbox/faults", json=fault).raise_for_status()


# Settings every Stack in this process gives its bot unless told otherwise: `python -m bench --store postgresql`
# puts its fresh database's URL here (the environment's own TZUROT_DATABASE_URL is never inherited).
DEFAULT_ENV: dict[str, str] = {}


class Stack:
    """The Discord and AI emulators in this process, the real bot in a subprocess: what tests and benchmarks
    drive over the real interfaces (the control API, the gateway, the bot's HTTP server)."""

    def __init__(
        self,
        data_dir: Path,
        world: Any = None,
        env: dict[str, str] | None = None,
        ai_max_concurrent: int | None = None,
        discord_limits: Any = None,
        shards: int = 1,
    ) -> None:
        from emulator.ai import AIEmulator
        from emulator.discord import DiscordEmulator

        self.discord = DiscordEmulator(world=world, limits=discord_limits, shards=shards).start_in_thread()
        self.ai = AIEmulator(max_concurrent=ai_max_concurrent).start_in_thread()
        self.http_port = free_port()
        self.bot = BotProcess(
            {
                "DISCORD_TOKEN": "sandbox-token",
                "DISCORD_API_BASE": self.discord.api_base,
                "DISCORD_GATEWAY_URL": self.discord.gateway_url,
                "AI_BASE_URL": self.ai.base_url,
                "AI_MODEL": "e2e-model",
                "TZUROT_ACTOR_ADMIN_PORT": str(free_port()),
                "TZUROT_LIVENESS_PERIOD_S": "1",
                "TZUROT_HTTP_PORT": str(self.http_port),
                **DEFAULT_ENV,
                "TZUROT_SHARD_COUNT": str(shards),
                **(env or {}),
            },
            data_dir,
        )
        self.sandbox = Sandbox(self.discord.base_url)
        self.database_url = {**DEFAULT_ENV, **(env or {})}.get("TZUROT_DATABASE_URL", "")

    def store(self) -> Any:
        """A handle on the bot's store (its SQLite file, or the PostgreSQL database it was given)."""
        from store import open_target

        return open_target(self.database_url or Path(self.bot.data_dir) / "tzurot.sqlite3")

    def start(self) -> Stack:
        self.bot.start()
        return self

    def status(self) -> dict[str, Any]:
        return httpx.get(f"http://127.0.0.1:{self.http_port}/status", timeout=30).json()

    def counter(self, name: str, label: str) -> dict[str, float]:
        """One counter from the bot's `/metrics`, by the value of `label` (`tzurot_deliver_sends_total`, "path")."""
        from prometheus_client.parser import text_string_to_metric_families

        text = httpx.get(f"http://127.0.0.1:{self.http_port}/metrics", timeout=30).text
        out: dict[str, float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name:
                    out[sample.labels.get(label, "")] = out.get(sample.labels.get(label, ""), 0.0) + sample.value
        return out

    def actor_pid(self, kind: str, key: int | str, live_only: bool = False) -> int | None:
        """The pid `/status` gives the actor for (kind, key) (only while it is live, with `live_only`)."""
        for supervisor in self.status()["supervisors"]:
            for child in supervisor["children"]:
                if child["kind"] == kind and child["key"] == str(key) and (child["status"] == "live" or not live_only):
                    return child["pid"]
        return None

    def recorded(self, message_id: int) -> bool:
        """The message has a row in the store's work table (what the edge writes before waking an actor)."""
        store = self.store()
        try:
            return store.work_known(message_id)
        finally:
            store.close()

    def stop(self, strict: bool = True) -> list[dict[str, Any]]:
        """Stop everything; returns the emulator's recorded violations of Discord's rules. The emulators stop
        even when the bot was slow to go (their threads must not outlive the test)."""
        try:
            self.bot.stop(patience_s=30.0 if strict else 60.0, strict=strict)
        finally:
            problems = self.sandbox.violations()
            self.ai.stop()
            self.discord.stop()
        return problems
