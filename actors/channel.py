"""ChannelActor: one per active channel. Owns its activation and the map of which personality said what."""

from __future__ import annotations

from actors.shell import StatefulActor
from actors.state.channel import ChannelState


class ChannelActor(StatefulActor):
    state_class = ChannelState
