"""Recognising a PluralKit/Tupperbox proxy message as the replacement of a real user's message; a message as stored.

PluralKit deletes the user's message and reposts its text (without the proxy tags) through a webhook, within
a second or two. The original bot matched the two by content similarity (>= 0.8) within 5 seconds; so do we.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import asdict
from difflib import SequenceMatcher
from typing import Any

from actors.messages import Author, Heard, Incoming, Interaction, Place

SIMILAR = 0.8
WINDOW_S = 5.0


def similar(original: str, proxied: str) -> bool:
    a, b = original.strip().lower(), proxied.strip().lower()
    if not a or not b:
        return False
    if b in a and len(b) >= 0.5 * len(a):  # the proxy tags were stripped off
        return True
    return SequenceMatcher(None, a, b).ratio() >= SIMILAR


def proxy_match(
    proxy: Incoming, held: OrderedDict[int, Incoming], recent: Iterable[Incoming], now: float
) -> Incoming | None:
    """The human message this proxy replaces: one still held, else one already handed on."""
    for candidates in (reversed(held.values()), reversed(list(recent))):
        for original in candidates:
            fresh = abs((proxy.created_at or now) - (original.created_at or now)) <= WINDOW_S
            if fresh and not original.author.bot and similar(original.content, proxy.content):
                return original
    return None


def incoming_to(msg: Incoming) -> dict[str, Any]:
    data = asdict(msg)
    data["perms"] = sorted(msg.perms)  # msgpack has no sets
    return data


def incoming_from(data: dict[str, Any]) -> Incoming:
    inc = dict(data)
    inc["place"] = Place(**inc["place"])
    inc["author"] = Author(**inc["author"])
    for key in ("mentioned", "attachments", "audio", "reply_images", "linked", "notes"):
        inc[key] = tuple(inc.get(key, ()))
    inc["files"] = tuple((str(name), str(text)) for name, text in inc.get("files", ()))
    inc["perms"] = frozenset(inc.get("perms", ()))
    if inc.get("interaction") is not None:
        inc["interaction"] = Interaction(**inc["interaction"])
    return Incoming(**inc)


def heard_to(heard: Heard) -> dict[str, Any]:
    return {
        "incoming": incoming_to(heard.incoming),
        "activated": heard.activated,
        "replied_personality": heard.replied_personality,
    }


def heard_from(data: dict[str, Any]) -> Heard:
    return Heard(incoming_from(data["incoming"]), data.get("activated"), data.get("replied_personality"))
