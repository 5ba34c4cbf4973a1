"""REST routes discord.py needs around login and caching: users, application, gateway, guilds."""

from __future__ import annotations

from aiohttp import web

from .context import ApiCall, Routes
from .errors import UNKNOWN_MEMBER, json_response
from .lookups import require_guild, require_user
from .payloads import application_payload, channel_payload, guild_payload, member_payload, role_payload, user_payload
from .permissions import guild_permissions

_SESSION_START_LIMIT = {"total": 1000, "remaining": 1000, "reset_after": 86_400_000, "max_concurrency": 1}


def gateway_url(call: ApiCall) -> str:
    """Where clients open the websocket; `/gateway` on this same server."""
    return call.ctx.base_url.replace("http://", "ws://", 1) + "/gateway"


async def get_me(call: ApiCall) -> web.Response:
    payload = {**user_payload(call.world.bot), "verified": True, "mfa_enabled": False, "locale": "en-US"}
    return json_response(payload)


async def get_user(call: ApiCall) -> web.Response:
    return json_response(user_payload(require_user(call.world, call.id_param("user_id"))))


async def get_application(call: ApiCall) -> web.Response:
    return json_response(application_payload(call.world))


async def get_gateway(call: ApiCall) -> web.Response:
    return json_response({"url": gateway_url(call)})


async def get_bot_gateway(call: ApiCall) -> web.Response:
    """The gateway, the shard count this emulator expects (what IDENTIFY must use) and the start limit."""
    return json_response({"url": gateway_url(call), "shards": call.ctx.gateway.shard_count,
                          "session_start_limit": _SESSION_START_LIMIT})


async def my_guilds(call: ApiCall) -> web.Response:
    world = call.world
    joined = [g for g in world.guilds.values() if (g.id, world.bot_id) in world.members]
    return json_response(
        [
            {
                "id": str(g.id),
                "name": g.name,
                "icon": None,
                "owner": g.owner_id == world.bot_id,
                "permissions": str(guild_permissions(world, g.id, world.bot_id)),
                "features": [],
            }
            for g in joined
        ]
    )


async def get_guild(call: ApiCall) -> web.Response:
    """The REST guild object: the gateway one without its members, channels and threads."""
    payload = guild_payload(call.world, require_guild(call.world, call.id_param("guild_id")))
    for gateway_only in ("members", "channels", "threads", "presences", "voice_states", "joined_at", "large"):
        payload.pop(gateway_only, None)
    return json_response(payload)


async def guild_channels(call: ApiCall) -> web.Response:
    guild = require_guild(call.world, call.id_param("guild_id"))
    return json_response([channel_payload(call.world, c) for c in call.world.guild_channels(guild.id)])


async def guild_roles(call: ApiCall) -> web.Response:
    guild = require_guild(call.world, call.id_param("guild_id"))
    return json_response([role_payload(r) for r in call.world.guild_roles(guild.id)])


async def guild_member(call: ApiCall) -> web.Response:
    guild = require_guild(call.world, call.id_param("guild_id"))
    member = call.world.members.get((guild.id, call.id_param("user_id")))
    if member is None:
        raise UNKNOWN_MEMBER()
    return json_response(member_payload(call.world, member))


async def guild_members(call: ApiCall) -> web.Response:
    guild = require_guild(call.world, call.id_param("guild_id"))
    after = int(call.query.get("after", 0))
    limit = int(call.query.get("limit", 1))
    members = sorted((m for m in call.world.guild_members(guild.id) if m.user_id > after), key=lambda m: m.user_id)
    return json_response([member_payload(call.world, m) for m in members[:limit]])


ROUTES: Routes = {
    ("GET", "/users/@me"): get_me,
    ("GET", "/users/{user_id}"): get_user,
    ("GET", "/users/@me/guilds"): my_guilds,
    ("GET", "/oauth2/applications/@me"): get_application,
    ("GET", "/gateway"): get_gateway,
    ("GET", "/gateway/bot"): get_bot_gateway,
    ("GET", "/guilds/{guild_id}"): get_guild,
    ("GET", "/guilds/{guild_id}/channels"): guild_channels,
    ("GET", "/guilds/{guild_id}/roles"): guild_roles,
    ("GET", "/guilds/{guild_id}/members"): guild_members,
    ("GET", "/guilds/{guild_id}/members/{user_id}"): guild_member,
}
