"""ChannelActor: one per active channel. Owns its activation, webhook pool, outbox and reply map."""

from __future__ import annotations

from typing import Any

from actors.shell import StatefulActor
from actors.state.channel import ChannelState
from discord_rest.client import DiscordRest
from discord_rest.gate import GlobalGate
from supervision.protocol import ChildStart


class ChannelActor(StatefulActor):
    state_class = ChannelState

    def make_services(self, start: ChildStart) -> dict[str, Any]:
        s = start.settings
        gate = GlobalGate(s.data_dir / "discord-gate", rate=s.discord_global_rate)
        return {"discord": DiscordRest(s.discord_api_base, s.discord_token, gate)}
