"""UserActor: one per active user. Owns that user's settings; handles their messages one at a time."""

from __future__ import annotations

from actors.shell import StatefulActor
from actors.state.user import UserState


class UserActor(StatefulActor):
    state_class = UserState
