"""Every application message that actors exchange: small, frozen, module-level (Thespian pickles them).

Requests name the id of the actor they are for, so the bridge can route them; replies are what the actor
sends back to the asker. Supervision's own messages are in `supervision/protocol.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

# ---- replies shared by every actor ---------------------------------------------------------------


@dataclass(frozen=True)
class Refused:
    """Bad input or a forbidden request: nothing changed, and `reason` is fit to show the user."""

    reason: str


# ---- UserActor -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SetAutorespond:
    user_id: int
    enabled: bool


@dataclass(frozen=True)
class SetAlias:
    """A personal alias: in this user's messages, `alias` means the personality `personality`."""

    user_id: int
    alias: str
    personality: str


@dataclass(frozen=True)
class RemoveAlias:
    user_id: int
    alias: str


@dataclass(frozen=True)
class GetUserSettings:
    user_id: int


@dataclass(frozen=True)
class UserSettings:
    user_id: int
    autorespond: bool
    aliases: tuple[tuple[str, str], ...]  # (alias, personality), sorted by alias


# ---- ChannelActor --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActivatePersonality:
    """From now on `personality` answers every plain message in this channel."""

    channel_id: int
    personality: str
    by_user: int


@dataclass(frozen=True)
class DeactivateChannel:
    channel_id: int


@dataclass(frozen=True)
class RecordSent:
    """Remember which personality sent a message, so a reply to it reaches that personality."""

    channel_id: int
    message_id: int
    personality: str


@dataclass(frozen=True)
class LookupReply:
    channel_id: int
    message_id: int


@dataclass(frozen=True)
class ReplyTarget:
    channel_id: int
    message_id: int
    personality: str | None


@dataclass(frozen=True)
class GetChannelInfo:
    channel_id: int


@dataclass(frozen=True)
class ChannelInfo:
    channel_id: int
    activated: str | None
    activated_by: int | None
    remembered_messages: int


# ---- Registry ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegisterPersonality:
    name: str
    owner_id: int
    display_name: str | None = None


@dataclass(frozen=True)
class LookupPersonality:
    name: str


@dataclass(frozen=True)
class ListPersonalities:
    owner_id: int


@dataclass(frozen=True)
class PersonalityInfo:
    name: str
    display_name: str
    owner_id: int


@dataclass(frozen=True)
class PersonalityList:
    owner_id: int
    names: tuple[str, ...]


@dataclass(frozen=True)
class NotFound:
    what: str
