"""The parts of the user's and the channel's state, each alone: made from their small records, without the
state that holds them (`UserState` composes `Voice`, `UserCommands` and `Answering`; `ChannelState` holds a
`WebhookSender`). What the whole states do is tested through them in test_user_flow.py and test_channel_pool.py.
"""

from __future__ import annotations

from collections import OrderedDict

from actors.effects import Call, Log, Save, Tell, Timer, WorkDone
from actors.messages import Author, CommandFor, Heard, Incoming, Notify, Place, Speak, TypingFor
from actors.results import Ok
from actors.state.addressing import Target
from actors.state.answering import Answering, Step
from actors.state.commands import Command
from actors.state.limits import UserLimits
from actors.state.memory import Remembered
from actors.state.outbox import REPLY_MAP_CAP, Chunk, ReplyMap
from actors.state.sending import ChannelOptions, WebhookSender
from actors.state.user_commands import Profile, UserCommands
from actors.state.voice import UserOptions, Voice

NOW = 1_700_000_000.0
ALICE, OWNER = 1001, 1009
SERVER = Place(500, "text", guild_id=900, name="general", guild_name="Guild")
ADULT = Place(501, "text", guild_id=900, nsfw=True)
DM = Place(600, "dm")
BOB = {"name": "bob", "display_name": "Bob", "prompt": "You are Bob.", "model": ""}


def heard(text: str, place: Place = SERVER, mid: int = 7) -> Heard:
    return Heard(Incoming(mid, place, Author(ALICE, "alice"), text, created_at=NOW), None, None)


def voice(owner: int = 0) -> Voice:
    return Voice(ALICE, UserOptions(model="op-model", bot_owner=owner))


# ---- Voice ---------------------------------------------------------------------------------------------------
def test_the_voice_says_things_in_the_channel_of_the_message_and_logs_with_its_ids() -> None:
    h, cid = heard("hi"), SERVER.channel_id
    assert voice().notify(h, "hello") == Tell("channel", cid, Notify(cid, ALICE, "hello", 7))
    assert voice().log(h, "info", "x", "d") == Log("info", "x", "d", ALICE, cid, 7)
    forwarded = voice(owner=ALICE).forward(h, Command("list"), "registry", "registry")
    assert isinstance(forwarded.body, CommandFor) and forwarded.body.origin.bot_owner is True


# ---- UserCommands --------------------------------------------------------------------------------------------
def test_commands_change_only_the_profile_and_histories_they_are_given() -> None:
    profile, histories = Profile(sealed_key="sealed"), OrderedDict({f"{SERVER.channel_id}:bob": [{"role": "user"}]})
    commands = UserCommands(voice(), profile, histories)
    assert commands.command(Command("verify"), heard("!tz verify", ADULT), NOW)[0] == Save()
    assert profile.verified is True
    assert commands.command(Command("auth", ("clear",)), heard("!tz auth clear", DM), NOW)[0] == Save()
    assert profile.sealed_key is None
    commands.command(Command("autorespond", ("on",)), heard("!tz autorespond on"), NOW)
    assert profile.autorespond is True
    said = commands.reset_found(heard("!tz reset bob"), {"name": "bob", "display_name": "Bob"})
    assert said[0] == Save() and histories == {}


def test_a_status_command_reads_the_clock_it_is_given() -> None:
    [tell] = UserCommands(voice(), Profile()).command(Command("status"), heard("!tz status"), NOW)
    assert "Checked 22:13:20 UTC" in tell.body.attachment_text


# ---- Answering -----------------------------------------------------------------------------------------------
def answering(profile: Profile | None = None) -> Answering:
    return Answering(voice(), profile or Profile(), UserLimits(), ids=iter(["ref00001", "ref00002"]).__next__)


def test_answering_with_the_operators_key_first_asks_whether_it_is_available() -> None:
    part = answering()
    lines = [heard("@bob hi")]
    step = part.begin(lines, Target("bob", "mention", "bob"), BOB, NOW)
    assert step.finished == () and step.waiting is not None and step.waiting[:2] == (7, "available")
    assert isinstance(step.effects[0].body, TypingFor) and step.effects[1].method == "available"
    down = part.done(step.waiting, ("available", 7), False, lines, NOW)  # the breaker is open
    assert down.finished == (7,) and down.waiting is None
    [speak] = [e.body for e in down.effects if isinstance(e, Tell) and isinstance(e.body, Speak)]
    assert "(reference: `ref00001`)" in speak.text  # the id source it was given


def test_answering_with_the_users_own_key_calls_at_once_and_remembers_the_answer() -> None:
    class Said:
        text, latency_ms = "Hello!", 5.0

    part = answering(Profile(sealed_key="sealed", remembered=Remembered(known=False)))  # memories it never saw
    lines = [heard("@bob hi")]
    step = part.begin(lines, Target("bob", "mention", "bob"), BOB, NOW)
    assert step.waiting is not None and step.waiting[:2] == (7, "recall")  # first, what it remembers
    assert [e.method for e in step.effects if isinstance(e, Call)] == ["search"]
    step = part.done(step.waiting, ("recall", 7), [], lines, NOW)
    assert step.waiting is not None and step.waiting[:2] == (7, "ai")
    assert [e.method for e in step.effects if isinstance(e, Call)] == ["complete"]
    done = part.done(step.waiting, ("ai", 7), Said(), lines, NOW)
    assert done.finished == (7,) and part.conversations == {SERVER.channel_id: ("bob", NOW)}
    assert part.histories[f"{SERVER.channel_id}:bob"][-1] == {"role": "assistant", "content": "Hello!"}
    assert part.answers[7].text == "Hello!"


def test_a_late_result_for_another_message_changes_nothing() -> None:
    waiting = (8, "ai", None)
    assert answering().done(waiting, ("ai", 7), object(), [], NOW) == Step([], waiting)


def test_the_age_gate_ends_the_messages_turn() -> None:
    step = answering().begin([heard("@bob hi", DM)], Target("bob", "mention"), {**BOB, "nsfw": True}, NOW)
    assert step.finished == (7,) and step.effects[0] == Save() and isinstance(step.effects[2], Tell)


# ---- WebhookSender -------------------------------------------------------------------------------------------
def test_the_sender_lists_webhooks_sends_and_fills_the_reply_map_it_shares() -> None:
    sent = ReplyMap()
    sender = WebhookSender(SERVER.channel_id, ChannelOptions(bot_name="Tzurot"), sent, SERVER)
    sender.outbox.add(Chunk("7:0", ALICE, "bob", "Bob", None, "Hello!", 7))
    [listing] = sender.pump(NOW)
    assert listing.method == "list_webhooks" and sender.busy
    hooks = Ok(200, [{"id": "11", "name": "Tzurot", "token": "t"}])
    effects = sender.result(("list",), hooks, NOW)
    send = effects[-1]
    assert isinstance(send, Call) and send.method == "execute_webhook" and sender.sending == "7:0"
    effects = sender.result(send.tag, Ok(200, {"id": "99"}), NOW)
    assert WorkDone(7, 99) in effects and sent == {99: "bob"} and len(sender.outbox) == 0
    assert sender.result(("typing",), Ok(204, None), NOW) == []


def test_a_sender_that_died_mid_send_looks_before_sending_again() -> None:
    sender = WebhookSender(SERVER.channel_id, place=SERVER, sending="7:0")
    sender.outbox.add(Chunk("7:0", ALICE, "bob", "Bob", None, "Hello!", 7))
    [look] = sender.resume(NOW)
    assert look.method == "channel_messages" and look.tag == ("verify", "7:0")
    assert all(not isinstance(e, Timer) for e in sender.result(look.tag, Ok(200, []), NOW))


def test_the_reply_map_keeps_the_newest() -> None:
    sent = ReplyMap()
    assert sent.remember(1, "bob") and not sent.remember(1, "bob")
    for mid in range(2, REPLY_MAP_CAP + 2):
        sent.remember(mid, "bob")
    assert len(sent) == REPLY_MAP_CAP and 1 not in sent
