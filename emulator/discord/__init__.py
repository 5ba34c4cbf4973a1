"""A local Discord (REST v10 + gateway + sandbox control) for end-to-end tests, benchmarks and the sandbox.

emulator = DiscordEmulator()          # default world: guilds "Sandbox" and "Annex", alice/bob/carol, bot Tzurot
                                      # DiscordEmulator(shards=2): IDENTIFY must use two gateway shards
await emulator.start()                # emulator.api_base, emulator.gateway_url
...
await emulator.stop()

Files posted to it are kept (bounded) and served at their attachment urls; `world.add_proxy_app()` plus
`emulator.proxy_message(...)` play PluralKit.
"""

from .files import FILE_STORE_CAP
from .journal import RequestRecord, Violation
from .models import Application, Attachment, Channel, ChannelType, Message, Overwrite, OverwriteType, User, Webhook
from .ratelimit import BucketRule, RateLimits
from .server import DEFAULT_TOKEN, DiscordEmulator, EmulatorThread
from .world import MESSAGES_PER_CHANNEL_CAP, PLURALKIT_APPLICATION_ID, World, default_world

__all__ = [
    "DEFAULT_TOKEN",
    "FILE_STORE_CAP",
    "MESSAGES_PER_CHANNEL_CAP",
    "PLURALKIT_APPLICATION_ID",
    "Application",
    "Attachment",
    "BucketRule",
    "Channel",
    "ChannelType",
    "DiscordEmulator",
    "EmulatorThread",
    "Message",
    "Overwrite",
    "OverwriteType",
    "RateLimits",
    "RequestRecord",
    "User",
    "Violation",
    "Webhook",
    "World",
    "default_world",
]
