"""A whole stack per test: the Discord and AI emulators in this process, the real bot in a subprocess."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from emulator.discord import World
from testkit.stack import Stack


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
    report = yield
    if report.when == "call":
        item.stash[FAILED] = report.failed
    return report


FAILED = pytest.StashKey[bool]()


def tell_what_happened(stack: Stack) -> None:
    """A failed test shows what the bot printed and the tail of its logs (its data directory is rotated away
    by later runs: on a CI machine this is all there is to go on)."""
    print(f"---- the bot's output ({stack.bot.data_dir}) ----\n{stack.bot.output()[-6000:]}")
    for name in ("supervisor.log", "events.log"):
        path = Path(stack.bot.data_dir) / name
        lines = path.read_text(errors="replace").splitlines()[-40:] if path.exists() else ["(none)"]
        print(f"---- the last lines of {name} ----\n" + "\n".join(lines))


@pytest.fixture
def make_stack(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Callable[..., Stack]]:
    """Starts stacks; in a module that parametrizes `store_backend`, the bot keeps its state on that store (one
    PostgreSQL database per test, shared by the test's stacks, as one deployment's restarts share it)."""
    stacks: list[Stack] = []
    store_env: dict[str, str] = {}
    if "store_backend" in request.fixturenames and request.getfixturevalue("store_backend") == "postgresql":
        store_env["TZUROT_DATABASE_URL"] = request.getfixturevalue("postgres_url")

    def make(world: World | None = None, env: dict[str, str] | None = None, shards: int = 1) -> Stack:
        """A started stack; `shards`: the gateway shards the emulator expects and the bot runs (all of them,
        unless `env` names TZUROT_SHARD_IDS)."""
        stack = Stack(tmp_path / f"data{len(stacks)}", world, {**store_env, **(env or {})}, shards=shards)
        stacks.append(stack)
        return stack.start()

    yield make
    if request.node.stash.get(FAILED, False):
        for stack in stacks:
            tell_what_happened(stack)
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
    if store_env:  # on PostgreSQL nothing may have fallen back to the data directory's SQLite file
        assert not any((Path(s.bot.data_dir) / "tzurot.sqlite3").exists() for s in stacks), "SQLite was written"
    assert problems == [], f"the bot broke Discord's rules: {problems}"
