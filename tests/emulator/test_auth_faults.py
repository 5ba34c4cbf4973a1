"""Injected 401 and 403 answers: what a bot meets when its token is revoked or a permission is taken away."""

from __future__ import annotations

import aiohttp

from emulator.discord import DiscordEmulator
from tests.emulator.helpers import call, run_raw, sandbox


def test_unauthorized_and_forbidden_faults_answer_in_discords_shape_then_stop() -> None:
    async def scenario(emulator: DiscordEmulator, session: aiohttp.ClientSession) -> None:
        general = emulator.world.channel_named("general").id
        elsewhere = emulator.world.channel_named("help").id
        for fault in ({"kind": "unauthorized", "count": 1},
                      {"kind": "forbidden", "channel_id": str(general), "count": 1}):
            assert (await sandbox(session, emulator, "POST", "/faults", json=fault)).status == 200
        refused = await call(session, emulator, "GET", "/users/@me")
        assert (refused.status, refused.body["code"]) == (401, 0)
        assert (await call(session, emulator, "POST", f"/channels/{elsewhere}/typing")).status == 204
        forbidden = await call(session, emulator, "POST", f"/channels/{general}/typing")
        assert (forbidden.status, forbidden.body["code"]) == (403, 50001)
        assert (await call(session, emulator, "POST", f"/channels/{general}/typing")).status == 204
        assert [r.status for r in emulator.requests()] == [401, 204, 403, 204]

    run_raw(scenario)
