"""A whole stack per test: the Discord and AI emulators in this process, the real bot in a subprocess."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from emulator.discord import World
from testkit.stack import Stack


@pytest.fixture
def make_stack(tmp_path: Path) -> Iterator[Callable[..., Stack]]:
    stacks: list[Stack] = []

    def make(world: World | None = None, env: dict[str, str] | None = None) -> Stack:
        stack = Stack(tmp_path / f"data{len(stacks)}", world, env)
        stacks.append(stack)
        return stack.start()

    yield make
    problems: list = []
    failures: list[BaseException] = []
    for stack in stacks:  # every stack is stopped, even if an earlier one failed to stop cleanly
        try:
            # Under a loaded CI machine Thespian's shutdown can take its time: whatever is left after the
            # patience is stopped by pid (no process outlives the test), without failing the test for it.
            problems += stack.stop(strict=False)
        except BaseException as exc:  # noqa: BLE001 - reported below, after the others are stopped
            failures.append(exc)
    if failures:
        raise failures[0]
    assert problems == [], f"the bot broke Discord's rules: {problems}"
