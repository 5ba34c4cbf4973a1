"""Blacklist: a single permanent actor under Root that owns who the bot ignores."""

from __future__ import annotations

from actors.shell import StatefulActor
from actors.state.blacklist import BlacklistState


class BlacklistActor(StatefulActor):
    state_class = BlacklistState
