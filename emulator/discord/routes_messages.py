"""REST routes for channels, their messages, typing, and DM channels."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from . import actions
from .attachments import build_attachments
from .context import ApiCall, Routes
from .errors import (
    DM_CHANNEL_ACTION,
    EMPTY_MESSAGE,
    OTHERS_MESSAGE,
    invalid_form_body,
    json_response,
    no_content,
)
from .lookups import require_channel, require_message, require_permission, require_user
from .models import Channel
from .payloads import channel_payload, message_payload
from .permissions import (
    ATTACH_FILES,
    MANAGE_MESSAGES,
    READ_MESSAGE_HISTORY,
    SEND_MESSAGES,
    SEND_MESSAGES_IN_THREADS,
    VIEW_CHANNEL,
)
from .rules import is_empty_message, message_problems
from .schema import Problem

_DEFAULT_HISTORY_LIMIT = 50


def _channel(call: ApiCall, needed: int = VIEW_CHANNEL) -> Channel:
    channel = require_channel(call.world, call.id_param("channel_id"))
    require_permission(call.world, channel, needed)
    return channel


def send_permission(channel: Channel, with_files: bool) -> int:
    """What posting needs: view and send (in threads, send-in-threads), plus attach for files."""
    needed = VIEW_CHANNEL | (SEND_MESSAGES_IN_THREADS if channel.is_thread else SEND_MESSAGES)
    return needed | (ATTACH_FILES if with_files else 0)


def check_sendable(call: ApiCall, problems: list[Problem]) -> None:
    """Discord's rules for a new message: field limits (50035), then something to show (50006)."""
    call.reject(problems)
    if is_empty_message(call.body, len(call.files)):
        raise EMPTY_MESSAGE()


def _reply_target(call: ApiCall, channel: Channel) -> int | None:
    """The replied-to message id; an unknown one fails unless fail_if_not_exists is false."""
    reference = call.body.get("message_reference")
    if not isinstance(reference, Mapping) or reference.get("message_id") is None:
        return None
    message_id = int(reference["message_id"])
    if call.world.message(channel.id, message_id) is not None:
        return message_id
    if reference.get("fail_if_not_exists") is False:
        return None
    problem = Problem(("message_reference",), "REPLIES_UNKNOWN_MESSAGE", "Unknown message")
    raise invalid_form_body([problem])


async def get_channel(call: ApiCall) -> web.Response:
    return json_response(channel_payload(call.world, _channel(call)))


async def list_messages(call: ApiCall) -> web.Response:
    channel = _channel(call, VIEW_CHANNEL | READ_MESSAGE_HISTORY)
    limit = int(call.query.get("limit", _DEFAULT_HISTORY_LIMIT))
    around = call.query_id("around")
    if around is not None:
        newer = call.world.history(channel.id, after=around - 1, limit=limit - limit // 2)
        older = call.world.history(channel.id, before=around, limit=limit // 2)
        found = newer + older
    else:
        found = call.world.history(
            channel.id, before=call.query_id("before"), after=call.query_id("after"), limit=limit
        )
    return json_response([message_payload(call.world, m) for m in found])


async def create_message(call: ApiCall) -> web.Response:
    channel = require_channel(call.world, call.id_param("channel_id"))
    require_permission(call.world, channel, send_permission(channel, bool(call.files)))
    check_sendable(call, message_problems(call.body))
    reply_to = _reply_target(call, channel)
    attachments = build_attachments(call.ctx, channel.id, call.files, call.body)
    message = actions.post_message(
        call.ctx, channel, call.world.bot, call.body, attachments=attachments, reply_to=reply_to
    )
    return json_response(message_payload(call.world, message))


async def get_message(call: ApiCall) -> web.Response:
    channel = _channel(call, VIEW_CHANNEL | READ_MESSAGE_HISTORY)
    message = require_message(call.world, channel.id, call.id_param("message_id"))
    return json_response(message_payload(call.world, message))


async def edit_message(call: ApiCall) -> web.Response:
    channel = _channel(call)
    message = require_message(call.world, channel.id, call.id_param("message_id"))
    if message.author.id != call.world.bot_id or message.webhook_id is not None:
        raise OTHERS_MESSAGE()
    call.reject(message_problems(call.body))
    attachments = build_attachments(call.ctx, channel.id, call.files, call.body)
    return json_response(message_payload(call.world, actions.edit_message(call.ctx, message, call.body, attachments)))


async def delete_message(call: ApiCall) -> web.Response:
    """The bot's own messages anywhere; others' (users', webhooks') with Manage Messages, never in DMs."""
    channel = _channel(call)
    message = require_message(call.world, channel.id, call.id_param("message_id"))
    if message.author.id != call.world.bot_id:
        if channel.is_dm:
            raise DM_CHANNEL_ACTION()  # in DMs only the author may delete, whatever the bot's rights
        require_permission(call.world, channel, MANAGE_MESSAGES)
    actions.delete_message(call.ctx, message)
    return no_content()


async def trigger_typing(call: ApiCall) -> web.Response:
    channel = _channel(call, VIEW_CHANNEL)
    actions.start_typing(call.ctx, channel, call.world.bot_id)
    return no_content()


async def create_dm(call: ApiCall) -> web.Response:
    recipient: Any = call.body.get("recipient_id")
    if recipient is None:
        raise invalid_form_body([Problem(("recipient_id",), "BASE_TYPE_REQUIRED", "This field is required")])
    user = require_user(call.world, int(recipient))
    return json_response(channel_payload(call.world, call.world.add_dm(user.id)))


ROUTES: Routes = {
    ("GET", "/channels/{channel_id}"): get_channel,
    ("GET", "/channels/{channel_id}/messages"): list_messages,
    ("POST", "/channels/{channel_id}/messages"): create_message,
    ("GET", "/channels/{channel_id}/messages/{message_id}"): get_message,
    ("PATCH", "/channels/{channel_id}/messages/{message_id}"): edit_message,
    ("DELETE", "/channels/{channel_id}/messages/{message_id}"): delete_message,
    ("POST", "/channels/{channel_id}/typing"): trigger_typing,
    ("POST", "/users/@me/channels"): create_dm,
}
