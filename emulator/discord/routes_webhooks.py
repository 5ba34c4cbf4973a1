"""REST routes for webhooks: manage them with the bot token, execute and edit with the webhook token."""

from __future__ import annotations

from aiohttp import web

from . import actions
from .attachments import build_attachments
from .context import ApiCall, Routes
from .errors import (
    DM_CHANNEL_ACTION,
    MAX_GUILD_WEBHOOKS,
    MAX_WEBHOOKS,
    MISSING_PERMISSIONS,
    UNKNOWN_CHANNEL,
    UNKNOWN_MESSAGE,
    WRONG_CHANNEL_TYPE,
    json_response,
    no_content,
)
from .lookups import require_channel, require_guild, require_message, require_permission, require_webhook
from .models import Channel, ChannelType, Message, User, Webhook
from .payloads import message_payload, webhook_payload
from .permissions import MANAGE_WEBHOOKS, guild_permissions
from .routes_messages import check_sendable
from .rules import WEBHOOKS_PER_CHANNEL, WEBHOOKS_PER_GUILD, execute_problems, message_problems, webhook_name_problems

_TRUE = ("true", "1")


def _webhook_channel(call: ApiCall, channel_id: int) -> Channel:
    """A channel that can hold webhooks, where the bot has Manage Webhooks."""
    channel = require_channel(call.world, channel_id)
    if channel.is_dm:
        raise DM_CHANNEL_ACTION()
    if channel.type != ChannelType.GUILD_TEXT:
        raise WRONG_CHANNEL_TYPE()
    require_permission(call.world, channel, MANAGE_WEBHOOKS)
    return channel


def _managed_webhook(call: ApiCall) -> Webhook:
    webhook = require_webhook(call.world, call.id_param("webhook_id"))
    require_permission(call.world, call.world.channels[webhook.channel_id], MANAGE_WEBHOOKS)
    return webhook


def _token_webhook(call: ApiCall) -> Webhook:
    return require_webhook(call.world, call.id_param("webhook_id"), call.params["webhook_token"])


def _target_channel(call: ApiCall, webhook: Webhook) -> Channel:
    """The webhook's channel, or with `thread_id` a thread whose parent is that channel."""
    thread_id = call.query_id("thread_id")
    if thread_id is None:
        return call.world.channels[webhook.channel_id]
    thread = call.world.channels.get(thread_id)
    if thread is None or not thread.is_thread or thread.parent_id != webhook.channel_id:
        raise UNKNOWN_CHANNEL()
    return thread


def _webhook_message(call: ApiCall, webhook: Webhook) -> Message:
    channel = _target_channel(call, webhook)
    message = require_message(call.world, channel.id, call.id_param("message_id"))
    if message.webhook_id != webhook.id:
        raise UNKNOWN_MESSAGE()
    return message


async def create_webhook(call: ApiCall) -> web.Response:
    channel = _webhook_channel(call, call.id_param("channel_id"))
    call.reject(webhook_name_problems(call.body.get("name")))
    if len(call.world.webhooks_in(channel.id)) >= WEBHOOKS_PER_CHANNEL:
        raise MAX_WEBHOOKS()
    if sum(w.guild_id == channel.guild_id for w in call.world.webhooks.values()) >= WEBHOOKS_PER_GUILD:
        raise MAX_GUILD_WEBHOOKS()
    webhook = actions.create_webhook(call.ctx, channel, str(call.body["name"]), call.body.get("avatar"))
    return json_response(webhook_payload(call.world, webhook))


async def channel_webhooks(call: ApiCall) -> web.Response:
    channel = _webhook_channel(call, call.id_param("channel_id"))
    return json_response([webhook_payload(call.world, w) for w in call.world.webhooks_in(channel.id)])


async def guild_webhooks(call: ApiCall) -> web.Response:
    guild = require_guild(call.world, call.id_param("guild_id"))
    if not guild_permissions(call.world, guild.id, call.world.bot_id) & MANAGE_WEBHOOKS:
        raise MISSING_PERMISSIONS()
    hooks = [w for w in call.world.webhooks.values() if w.guild_id == guild.id]
    return json_response([webhook_payload(call.world, w) for w in hooks])


async def get_webhook(call: ApiCall) -> web.Response:
    return json_response(webhook_payload(call.world, _managed_webhook(call)))


async def modify_webhook(call: ApiCall) -> web.Response:
    """Rename, re-avatar or (bot token only) move a webhook to another channel of its guild."""
    token_route = "webhook_token" in call.params
    webhook = _token_webhook(call) if token_route else _managed_webhook(call)
    call.reject(webhook_name_problems(call.body.get("name")))
    changes: dict[str, object] = {}
    if call.body.get("name") is not None:
        changes["name"] = str(call.body["name"])
    if call.body.get("channel_id") is not None and not token_route:
        target = _webhook_channel(call, int(call.body["channel_id"]))
        if target.guild_id != webhook.guild_id:
            raise UNKNOWN_CHANNEL()
        changes["channel_id"] = target.id
    updated = actions.update_webhook(call.ctx, webhook, **changes)
    return json_response(webhook_payload(call.world, updated, with_user=not token_route))


async def delete_webhook(call: ApiCall) -> web.Response:
    webhook = _token_webhook(call) if "webhook_token" in call.params else _managed_webhook(call)
    actions.delete_webhooks(call.ctx, [webhook])
    return no_content()


async def get_webhook_with_token(call: ApiCall) -> web.Response:
    return json_response(webhook_payload(call.world, _token_webhook(call), with_user=False))


async def execute_webhook(call: ApiCall) -> web.Response:
    """Post as the webhook (username/avatar overrides applied); `wait` returns the message."""
    webhook = _token_webhook(call)
    channel = _target_channel(call, webhook)
    check_sendable(call, execute_problems(call.body))
    author = User(
        id=webhook.id,
        username=str(call.body.get("username") or webhook.name),
        bot=True,
        avatar=webhook.avatar,
    )
    attachments = build_attachments(call.ctx, channel.id, call.files, call.body)
    message = actions.post_message(call.ctx, channel, author, call.body, webhook=webhook, attachments=attachments)
    if call.query.get("wait", "false").lower() in _TRUE:
        return json_response(message_payload(call.world, message))
    return no_content()


async def get_webhook_message(call: ApiCall) -> web.Response:
    return json_response(message_payload(call.world, _webhook_message(call, _token_webhook(call))))


async def edit_webhook_message(call: ApiCall) -> web.Response:
    message = _webhook_message(call, _token_webhook(call))
    call.reject(message_problems(call.body))
    attachments = build_attachments(call.ctx, message.channel_id, call.files, call.body)
    return json_response(message_payload(call.world, actions.edit_message(call.ctx, message, call.body, attachments)))


async def delete_webhook_message(call: ApiCall) -> web.Response:
    actions.delete_message(call.ctx, _webhook_message(call, _token_webhook(call)))
    return no_content()


_WITH_TOKEN = "/webhooks/{webhook_id}/{webhook_token}"
ROUTES: Routes = {
    ("POST", "/channels/{channel_id}/webhooks"): create_webhook,
    ("GET", "/channels/{channel_id}/webhooks"): channel_webhooks,
    ("GET", "/guilds/{guild_id}/webhooks"): guild_webhooks,
    ("GET", "/webhooks/{webhook_id}"): get_webhook,
    ("PATCH", "/webhooks/{webhook_id}"): modify_webhook,
    ("DELETE", "/webhooks/{webhook_id}"): delete_webhook,
    ("GET", _WITH_TOKEN): get_webhook_with_token,
    ("PATCH", _WITH_TOKEN): modify_webhook,
    ("DELETE", _WITH_TOKEN): delete_webhook,
    ("POST", _WITH_TOKEN): execute_webhook,
    ("GET", _WITH_TOKEN + "/messages/{message_id}"): get_webhook_message,
    ("PATCH", _WITH_TOKEN + "/messages/{message_id}"): edit_webhook_message,
    ("DELETE", _WITH_TOKEN + "/messages/{message_id}"): delete_webhook_message,
}
