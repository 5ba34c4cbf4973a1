"""A whole stack per test: the Discord and AI emulators in this process, the real bot in a subprocess."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from emulator.ai import AIEmulator
from emulator.discord import DiscordEmulator, World
from tests.e2e.bot_process import BotProcess, Sandbox


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Stack:
    discord: Any  # EmulatorThread
    ai: Any  # AI EmulatorThread
    bot: BotProcess
    sandbox: Sandbox


@pytest.fixture
def make_stack(tmp_path: Path) -> Iterator[Callable[..., Stack]]:
    stacks: list[Stack] = []

    def make(world: World | None = None, env: dict[str, str] | None = None) -> Stack:
        discord = DiscordEmulator(world=world).start_in_thread()
        ai = AIEmulator().start_in_thread()
        bot = BotProcess(
            {
                "DISCORD_TOKEN": "sandbox-token",
                "DISCORD_API_BASE": discord.api_base,
                "DISCORD_GATEWAY_URL": discord.gateway_url,
                "AI_BASE_URL": ai.base_url,
                "AI_MODEL": "e2e-model",
                "TZUROT_ACTOR_ADMIN_PORT": str(free_port()),
                "TZUROT_LIVENESS_PERIOD_S": "1",
                "TZUROT_HTTP_PORT": str(free_port()),
                **(env or {}),
            },
            tmp_path / f"data{len(stacks)}",
        )
        stack = Stack(discord, ai, bot, Sandbox(discord.base_url))
        stacks.append(stack)
        bot.start()
        return stack

    yield make
    problems = []
    for stack in stacks:
        stack.bot.stop()
        problems += stack.sandbox.violations()
        stack.ai.stop()
        stack.discord.stop()
    assert problems == [], f"the bot broke Discord's rules: {problems}"
