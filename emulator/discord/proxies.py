"""Proxy bots such as PluralKit: a human's message is replaced by a webhook post that speaks for them.

Like PluralKit, a proxy deletes the original (MESSAGE_DELETE), then posts through a webhook that its own
application owns in that channel (a thread's parent for threads, made on first need, WEBHOOKS_UPDATE),
so the new MESSAGE_CREATE carries `webhook_id` and the proxy's `application_id`. Attachments of the
original are re-uploaded. Tests drive this through `DiscordEmulator.proxy_message`; there is no route.
"""

from __future__ import annotations

from . import actions
from .attachments import copy_attachments
from .context import Context
from .models import Application, Channel, Message, User, Webhook
from .rules import execute_problems

PROXY_WEBHOOK_SUFFIX = " Proxy Webhook"
# PluralKit lets members ping users and roles, never @everyone/@here.
_PROXY_MENTIONS = {"parse": ["users", "roles"]}


def proxy_application(ctx: Context, application_id: int | None) -> Application:
    """The named proxy application, or the only one the world has."""
    apps = ctx.world.applications
    if application_id is not None:
        if application_id not in apps:
            raise ValueError(f"no proxy application {application_id}; add it with world.add_proxy_app()")
        return apps[application_id]
    if len(apps) != 1:
        raise ValueError(f"give application_id: the world has {len(apps)} proxy applications (add_proxy_app())")
    return next(iter(apps.values()))


def proxy_webhook(ctx: Context, app: Application, channel: Channel) -> Webhook:
    """The application's webhook in the channel (the parent, for a thread), created when missing."""
    world = ctx.world
    home = world.channels[channel.parent_id] if channel.is_thread and channel.parent_id is not None else channel
    owned = [w for w in world.webhooks_in(home.id) if w.application_id == app.id]
    if owned:
        return owned[0]
    return actions.create_webhook(ctx, home, app.name + PROXY_WEBHOOK_SUFFIX, creator_id=app.bot_id)


def _original(ctx: Context, channel_id: int, message_id: int) -> tuple[Channel, Message]:
    channel = ctx.world.channels.get(channel_id)
    if channel is None:
        raise ValueError(f"unknown channel {channel_id}")
    if channel.guild_id is None:
        raise ValueError(f"channel {channel_id} is a DM: proxy bots only work in guild channels and threads")
    message = ctx.world.message(channel_id, message_id)
    if message is None:
        raise ValueError(f"message {message_id} is not in channel {channel_id}")
    if message.webhook_id is not None or message.author.bot:
        raise ValueError(f"message {message_id} is by a bot or webhook; proxies only replace humans' messages")
    return channel, message


def proxy_message(
    ctx: Context,
    channel_id: int,
    original_message_id: int,
    display_name: str,
    content: str,
    *,
    avatar_url: str | None = None,
    application_id: int | None = None,
) -> Message:
    """Replace a human's message by a proxied one; returns the new message. ValueError if it cannot be done."""
    app = proxy_application(ctx, application_id)
    channel, original = _original(ctx, channel_id, original_message_id)
    body: dict[str, object] = {"content": content, "username": display_name, "allowed_mentions": _PROXY_MENTIONS}
    if avatar_url is not None:
        body["avatar_url"] = avatar_url
    problems = execute_problems(body)
    if problems:
        raise ValueError("; ".join(p.describe("proxy") for p in problems))
    attachments = copy_attachments(ctx, channel.id, original.attachments)
    if not content and not attachments:
        raise ValueError("a proxied message needs content or attachments")
    actions.delete_message(ctx, original)
    webhook = proxy_webhook(ctx, app, channel)
    author = User(id=webhook.id, username=display_name, bot=True, avatar=webhook.avatar)
    return actions.post_message(ctx, channel, author, body, webhook=webhook, attachments=attachments)
