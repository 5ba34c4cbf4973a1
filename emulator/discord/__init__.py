"""A local Discord (REST v10 + gateway + sandbox control) for end-to-end tests, benchmarks and the sandbox.

emulator = DiscordEmulator()          # default world: guild "Sandbox", alice/bob/carol, bot Tzurot
await emulator.start()                # emulator.api_base, emulator.gateway_url
...
await emulator.stop()
"""

from .journal import RequestRecord, Violation
from .models import Channel, ChannelType, Message, Overwrite, OverwriteType, User, Webhook
from .ratelimit import BucketRule, RateLimits
from .server import DEFAULT_TOKEN, DiscordEmulator, EmulatorThread
from .world import MESSAGES_PER_CHANNEL_CAP, World, default_world

__all__ = [
    "DEFAULT_TOKEN",
    "MESSAGES_PER_CHANNEL_CAP",
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
