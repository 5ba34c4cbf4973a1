"""PluralKit/Tupperbox proxies, decided by the channel without I/O: answered once, as the real author.

PluralKit deletes a human's message and reposts its text (minus the proxy tags) through a webhook a moment
later. Until a proxy has spoken in a channel, human messages go to their user at once (a late proxy of one is
then recognised and dropped); afterwards they wait PROXY_GRACE_S on a timer, in case a proxy replaces them.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace
from typing import Any

import pytest

from actors.effects import Log, Save, Tell, Timer, Wake, WorkDone
from actors.messages import ActivatePersonality, Author, Heard, Incoming, Place, RecordSent
from actors.state.channel import HELD_CAP, PROXY_GRACE_S, PROXY_WINDOW_S, ChannelState
from actors.state.proxies import proxy_match, similar
from store.sqlite import decode, encode

NOW = 1_700_000_000.0
CID = 1_100_000_000_000_000_001
PLACE = Place(CID, "text", 9, name="general", guild_name="Sandbox")
CAROL = Author(1_100_000_000_000_000_003, "carol", "Carol")
ALICE = Author(1_100_000_000_000_000_002, "alice", "Alice")
HOOK = Author(1_100_000_000_000_000_777, "Carol's Alter", "Carol's Alter", bot=True)  # the proxy webhook

_ids = iter(range(1_100_000_000_000_100_000, 1_100_000_000_001_000_000))


def human(text: str, at: float = NOW, author: Author = CAROL, **fields: Any) -> Incoming:
    return Incoming(next(_ids), PLACE, author, text, created_at=at, **fields)


def proxy(text: str, at: float = NOW + 1, author: Author = HOOK, **fields: Any) -> Incoming:
    return Incoming(next(_ids), PLACE, author, text, created_at=at, proxy=True, **fields)


def fresh() -> ChannelState:
    return ChannelState.restore(str(CID), None)


def proxies_seen() -> ChannelState:
    """A channel where a proxy spoke (unmatched) a moment ago: from now on human messages are held."""
    state = fresh()
    state.handle(proxy("some earlier proxied chatter", at=NOW - 60), NOW - 60)
    return state


def heard(effects: list[Any]) -> list[Heard]:
    """Every hand-on to a user actor, checking each goes to the actor of the author it carries (without the
    channel's context that travels with it: tests/unit/test_channel_window.py looks at that)."""
    tells = [e for e in effects if isinstance(e, Tell)]
    assert all(t.kind == "user" and isinstance(t.body, Heard) for t in tells), tells
    assert all(t.key == t.body.incoming.author.id for t in tells), tells
    return [replace(t.body, context=()) for t in tells]


def restarted(state: ChannelState) -> ChannelState:
    return ChannelState.restore(str(CID), decode(encode(state.snapshot())))


# ---- no proxy ever spoke here ----------------------------------------------------------------------


def test_a_human_message_where_no_proxy_ever_spoke_goes_to_its_user_at_once() -> None:
    state = fresh()
    msg = human("hello")
    assert state.handle(msg, NOW) == [Tell("user", CAROL.id, Heard(msg, None, None))]
    assert not state.held


def test_in_an_activated_channel_the_user_hears_which_personality_is_active() -> None:
    state = fresh()
    state.handle(ActivatePersonality(CID, "lilith", ALICE.id), NOW)
    msg = human("hello")
    assert heard(state.handle(msg, NOW)) == [Heard(msg, "lilith", None)]


def test_the_first_proxy_of_a_message_already_handed_on_is_not_handed_on_again() -> None:
    state = fresh()
    original = human("c: hello there")
    assert heard(state.handle(original, NOW)) == [Heard(original, None, None)]
    late = proxy("hello there", at=NOW + 1)
    effects = state.handle(late, NOW + 1)
    assert heard(effects) == []  # answered once: as the original
    assert Save() in effects  # from now on proxies are known to be used here
    assert WorkDone(late.message_id) in effects  # closed: the edge must not keep handing it on
    assert state.proxy_seen_at == NOW + 1


# ---- a proxy has spoken here: human messages wait --------------------------------------------------


def test_after_a_proxy_spoke_a_human_message_is_held_on_a_timer() -> None:
    state = proxies_seen()
    msg = human("hello")
    assert state.handle(msg, NOW) == [Save(), Timer(PROXY_GRACE_S, ("release", msg.message_id))]
    assert list(state.held) == [msg.message_id]
    assert PROXY_GRACE_S == 2.5


def test_a_held_message_no_proxy_replaced_goes_to_its_user_on_the_wake_once() -> None:
    state = proxies_seen()
    msg = human("just me, no system")
    state.handle(msg, NOW)
    assert state.handle(Wake(("release", msg.message_id)), NOW + PROXY_GRACE_S) == [
        Save(),
        Tell("user", CAROL.id, Heard(msg, None, None)),
    ]
    assert not state.held
    assert state.handle(Wake(("release", msg.message_id)), NOW + PROXY_GRACE_S) == []  # a doubled timer


def test_commands_are_never_held() -> None:
    state = proxies_seen()
    for text in ("!tz list", "/tz help"):
        msg = human(text)
        assert heard(state.handle(msg, NOW)) == [Heard(msg, None, None)]
    assert not state.held


@pytest.mark.parametrize(
    ("original", "proxied"),
    [("hello everyone", "hello everyone"), ("a: hello", "hello"), ("[hello there]", "hello there")],
)
def test_a_proxy_of_a_held_message_goes_to_the_real_authors_user_once(original: str, proxied: str) -> None:
    state = proxies_seen()
    state.handle(ActivatePersonality(CID, "lilith", ALICE.id), NOW)
    held = human(original, at=NOW)
    state.handle(held, NOW)
    replacement = proxy(proxied, at=NOW + 1.5)
    effects = state.handle(replacement, NOW + 1.5)

    [hand_on] = heard(effects)  # exactly one Heard, to carol's actor
    assert hand_on.activated == "lilith"
    got = hand_on.incoming
    assert (got.author.id, got.author.username, got.author.bot) == (CAROL.id, "carol", False)  # the REAL author
    assert got.author.display_name == "Carol's Alter"  # speaking as her alter
    assert got.message_id == replacement.message_id and got.content == proxied and not got.proxy
    assert WorkDone(held.message_id) in effects  # the deleted original is closed, never handed on again
    assert not state.held
    # Its timer still fires: the original is gone, nothing more is handed on.
    assert state.handle(Wake(("release", held.message_id)), NOW + PROXY_GRACE_S) == []


def test_a_proxy_finds_its_own_original_among_several_held() -> None:
    state = proxies_seen()
    alices = human("what a day", author=ALICE)
    carols = human("c: the system says hi", at=NOW + 0.1)
    state.handle(alices, NOW)
    state.handle(carols, NOW + 0.1)
    [hand_on] = heard(state.handle(proxy("the system says hi", at=NOW + 1), NOW + 1))
    assert hand_on.incoming.author.id == CAROL.id
    assert list(state.held) == [alices.message_id]  # alice's still waits, and then goes to alice
    assert heard(state.handle(Wake(("release", alices.message_id)), NOW + 2.5)) == [Heard(alices, None, None)]


def test_a_proxy_of_a_reply_is_still_a_reply_to_the_personality() -> None:
    state = proxies_seen()
    state.handle(ActivatePersonality(CID, "bob", ALICE.id), NOW)
    state.handle(RecordSent(CID, 555, "lilith"), NOW)  # one of Lilith's messages
    state.handle(human("c: and you?", reply_to=555, reply_content="I am well", reply_author="Lilith"), NOW)
    [hand_on] = heard(state.handle(proxy("and you?"), NOW + 1))  # no reply_to: what Discord gives a webhook post
    assert hand_on.incoming.author.id == CAROL.id
    assert hand_on.replied_personality == "lilith" and hand_on.incoming.reply_to == 555


def test_a_proxy_too_long_after_the_original_does_not_match_and_the_original_goes_on_its_own() -> None:
    state = proxies_seen()
    original = human("c: hello")
    state.handle(original, NOW)
    late = proxy("hello", at=NOW + PROXY_WINDOW_S + 1)
    effects = state.handle(late, NOW + PROXY_WINDOW_S + 1)
    assert heard(effects) == []
    assert [e.event for e in effects if isinstance(e, Log)] == ["proxy_unmatched"]
    assert heard(state.handle(Wake(("release", original.message_id)), NOW + 7)) == [Heard(original, None, None)]


def test_a_late_proxy_of_a_released_message_is_not_answered_again() -> None:
    state = proxies_seen()
    original = human("c: slow system today")
    state.handle(original, NOW)
    assert len(heard(state.handle(Wake(("release", original.message_id)), NOW + PROXY_GRACE_S))) == 1
    late = proxy("slow system today", at=NOW + 4)  # after the grace, still within the window
    effects = state.handle(late, NOW + 4)
    assert heard(effects) == [] and WorkDone(late.message_id) in effects


def test_an_unmatched_proxy_is_dropped_with_a_log() -> None:
    state = fresh()
    stray = proxy("nobody said this")
    effects = state.handle(stray, NOW)
    assert heard(effects) == []
    assert Log("info", "proxy_unmatched", f"message {stray.message_id}") in effects
    assert WorkDone(stray.message_id) in effects
    assert state.proxy_seen_at == NOW  # still: proxies are used here


def test_a_bots_message_is_never_taken_for_a_proxys_original() -> None:
    state = proxies_seen()
    bot = human("hello from a bot", author=Author(31337, "otherbot", bot=True))
    state.handle(bot, NOW)
    assert proxy_match(proxy("hello from a bot"), state.held, state.recent, NOW + 1) is None


# ---- restarts and bounds -------------------------------------------------------------------------


def test_held_messages_survive_a_restart_and_are_released_after_it() -> None:
    state = proxies_seen()
    first, second = human("one", at=NOW), human("c: two", at=NOW + 0.5)
    state.handle(first, NOW)
    state.handle(second, NOW + 0.5)

    again = restarted(state)
    assert list(again.held) == [first.message_id, second.message_id]
    assert again.held[first.message_id] == first and again.proxy_seen_at == state.proxy_seen_at
    timers = [e for e in again.on_start(NOW + 1) if isinstance(e, Timer)]
    assert timers == [Timer(PROXY_GRACE_S, ("release", m.message_id)) for m in (first, second)]
    assert heard(again.handle(Wake(("release", first.message_id)), NOW + 3.5)) == [Heard(first, None, None)]
    # A proxy arriving after the restart still replaces the other, and it is answered as carol.
    [hand_on] = heard(again.handle(proxy("two", at=NOW + 2), NOW + 3.6))
    assert hand_on.incoming.author.id == CAROL.id and hand_on.incoming.content == "two"
    assert again.handle(Wake(("release", second.message_id)), NOW + 3.7) == []


def test_after_a_restart_the_channel_still_knows_proxies_are_used_here() -> None:
    again = restarted(proxies_seen())
    msg = human("hello")
    assert again.handle(msg, NOW) == [Save(), Timer(PROXY_GRACE_S, ("release", msg.message_id))]


def test_the_held_set_is_bounded_the_oldest_goes_on_at_once() -> None:
    state = proxies_seen()
    messages = [human(f"message {n}", at=NOW + n / 100) for n in range(HELD_CAP + 1)]
    for msg in messages[:HELD_CAP]:
        assert heard(state.handle(msg, msg.created_at)) == []
    effects = state.handle(messages[-1], messages[-1].created_at)
    assert heard(effects) == [Heard(messages[0], None, None)]
    assert len(state.held) == HELD_CAP and messages[0].message_id not in state.held
    assert state.handle(Wake(("release", messages[0].message_id)), NOW + 3) == []  # handed on once only


# ---- the matching rules --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("original", "proxied", "same"),
    [
        ("hello", "hello", True),
        ("a: hello", "hello", True),  # a prefix tag stripped
        ("hello -a", "hello", True),  # a suffix tag stripped
        ("  Hello There ", "hello there", True),  # case and whitespace
        ("hello there friend", "hello there friends", True),  # near enough
        ("hello", "goodbye", False),
        ("a long message from the system", "long", False),  # a fragment is not a replacement
        ("", "hello", False),
        ("hello", "", False),
    ],
)
def test_similar(original: str, proxied: str, same: bool) -> None:
    assert similar(original, proxied) is same


def test_proxy_match_prefers_a_held_message_then_the_newest_recent_one() -> None:
    held_one = human("hello")
    recent_old, recent_new = human("hello", at=NOW - 1), human("hello", at=NOW - 0.5)
    p = proxy("hello", at=NOW + 1)
    assert proxy_match(p, OrderedDict([(held_one.message_id, held_one)]), [recent_old, recent_new], NOW + 1) is held_one
    assert proxy_match(p, OrderedDict(), [recent_old, recent_new], NOW + 1) is recent_new


def test_proxy_match_only_within_the_window() -> None:
    original = human("hello", at=NOW)
    held = OrderedDict([(original.message_id, original)])
    assert proxy_match(proxy("hello", at=NOW + PROXY_WINDOW_S), held, [], NOW) is original
    assert proxy_match(proxy("hello", at=NOW + PROXY_WINDOW_S + 0.01), held, [], NOW) is None
