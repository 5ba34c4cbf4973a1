"""ChannelActor: one per active channel. Owns its activation, webhook pool, outbox and reply map."""

from __future__ import annotations

from typing import Any

from actors.services import Services
from actors.shell import StatefulActor
from actors.state.channel import ChannelState
from discord_rest.client import DiscordRest
from supervision.protocol import ChildStart


class ChannelActor(StatefulActor):
    state_class = ChannelState

    def make_services(self, start: ChildStart) -> dict[str, Any]:
        return Services({"discord": lambda: DiscordRest.from_settings(start.settings)})
