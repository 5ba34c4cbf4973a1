"""Catch-up after every new gateway session: one at a time, from the earliest loss not yet read back."""

from __future__ import annotations

import asyncio

from edge.durable import OneAtATime


def test_sessions_that_begin_during_a_catch_up_are_caught_up_after_it_from_the_earliest_loss() -> None:
    async def scenario() -> tuple[list[float], int]:
        ran: list[float] = []
        running, most = 0, 0
        release = asyncio.Event()

        async def job(since: float) -> None:
            nonlocal running, most
            running += 1
            most = max(most, running)
            ran.append(since)
            await release.wait()
            running -= 1

        catch_ups = OneAtATime(job)
        first = catch_ups.run(100.0)
        await asyncio.sleep(0)  # the first catch-up is under way
        assert catch_ups.run(300.0) is first and catch_ups.run(200.0) is first  # two more sessions meanwhile
        release.set()
        await first
        later = catch_ups.run(400.0)  # a later session: a new catch-up
        assert later is not first
        await asyncio.wait_for(later, 1)
        return ran, most

    ran, most = asyncio.run(scenario())
    assert ran == [100.0, 200.0, 400.0] and most == 1


def test_a_failed_catch_up_does_not_stop_the_next_one() -> None:
    async def scenario() -> list[float]:
        ran: list[float] = []

        async def job(since: float) -> None:
            ran.append(since)
            if since == 1.0:
                raise RuntimeError("the store is busy")

        catch_ups = OneAtATime(job)
        await catch_ups.run(1.0)
        await catch_ups.run(2.0)
        return ran

    assert asyncio.run(scenario()) == [1.0, 2.0]
