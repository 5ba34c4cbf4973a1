"""Registry: the personality catalogue, a single permanent actor under Root (names are bot-wide)."""

from __future__ import annotations

from actors.shell import StatefulActor
from actors.state.registry import RegistryState


class RegistryActor(StatefulActor):
    state_class = RegistryState
