"""ChannelState's sending side, driven event by event the way its shell drives it.

`Driver` is the channel's actor in the tests' world (testkit/world.py): effects are performed in order by the
shell's own dispatch, every `Call` is answered at once with `Done(call.tag, result)`, `Resume(Pump)` waits behind
whatever is already in the mailbox, `Timer`s wait until the test fires them, and the last `Save()`d snapshot is
kept (through the store's encoding) so a restart starts from exactly what was written. `FakeDiscord` answers
calls like a small healthy Discord (webhooks per channel, the 15-webhook limit, 2000-character messages, unknown
webhooks) unless a test scripted other answers for a method; it records every call in order and every message
users would see."""

from __future__ import annotations

import itertools
from collections import defaultdict, deque
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest

from actors.effects import Call, Effect, Push, Timer, WorkDone
from actors.messages import (
    Author,
    Heard,
    Incoming,
    LookupReply,
    Persona,
    Place,
    ReplyTarget,
    RouteFact,
    Speak,
    TypingFor,
    WebhooksChanged,
)
from actors.results import Fail, Ok, Wait
from actors.state.channel import OUTBOX_BACKLOG, TYPING_REFRESH_S, ChannelState
from actors.state.discord_text import LIMIT, legal_username
from actors.state.outbox import DONE_CAP, REPLY_MAP_CAP, TOTAL_CAP, USER_QUEUE_CAP
from actors.state.sending import MAX_WEBHOOKS, SEND_ATTEMPTS
from testkit.world import PureWorld

NOW = 1_700_000_000.0
GUILD = 1_000_000_000_000_000_001
CID = 1_100_000_000_000_000_001  # a guild text channel
PARENT = 1_100_000_000_000_000_002  # a text channel that has a thread
THREAD = 1_100_000_000_000_000_003
DM = 1_100_000_000_000_000_004
ALICE, BOB_USER, CAROL = 2_000_000_000_000_000_001, 2_000_000_000_000_000_002, 2_000_000_000_000_000_003
BOT_NAME = "Tzurot"
BOB = Persona("bob", "Bob", "https://cdn.example/bob.png")
NOTICE_MARK = "Manage Webhooks"

Answer = Any  # a result (Ok, Fail, Wait) or a function Call -> result


# ---- a fake Discord ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Posted:
    """A message users see."""

    channel_id: int
    content: str
    message_id: int
    webhook_id: int | None = None
    username: str | None = None
    avatar_url: str | None = None
    thread_id: int | None = None
    reference: dict[str, Any] | None = None


class FakeDiscord:
    def __init__(self, webhooks: dict[int, list[dict[str, Any]]] | None = None) -> None:
        self.webhooks: dict[int, list[dict[str, Any]]] = {c: list(h) for c, h in (webhooks or {}).items()}
        self.calls: list[Call] = []
        self.posted: list[Posted] = []
        self.script: dict[str, deque[Answer]] = defaultdict(deque)
        self._ids = itertools.count(1_300_000_000_000_000_000)

    # -- scripting
    def then(self, method: str, *answers: Answer) -> FakeDiscord:
        """The next calls of `method` get these answers, in order; after them, the healthy default."""
        self.script[method].extend(answers)
        return self

    def __call__(self, call: Call) -> Any:
        assert call.service == "discord", call
        self.calls.append(call)
        if self.script[call.method]:
            answer = self.script[call.method].popleft()
            return answer(call) if callable(answer) else answer
        return getattr(self, "_" + call.method)(*call.args)

    # -- a healthy Discord
    def _list_webhooks(self, channel_id: int) -> Any:
        return Ok(200, [dict(w) for w in self.webhooks.get(channel_id, [])])

    def _create_webhook(self, channel_id: int, name: str) -> Any:
        hooks = self.webhooks.setdefault(channel_id, [])
        if len(hooks) >= MAX_WEBHOOKS:
            return Fail(400, 30007, "Maximum number of webhooks reached (15)")
        n = next(self._ids)
        hook = {"id": str(n), "type": 1, "channel_id": str(channel_id), "name": name, "token": f"token-{n}"}
        hooks.append(hook)
        return Ok(200, dict(hook))

    def _execute_webhook(self, hook_id: int, token: str, payload: dict[str, Any], thread_id: int | None) -> Any:
        hook = self.hook(hook_id)
        if hook is None or hook["token"] != token:
            return Fail(404, 10015, "Unknown Webhook")
        channel = thread_id if thread_id is not None else int(hook["channel_id"])
        return self._post(channel, payload, webhook_id=hook_id, thread_id=thread_id)

    def _create_message(self, channel_id: int, payload: dict[str, Any]) -> Any:
        return self._post(channel_id, payload)

    def _typing(self, channel_id: int) -> Any:
        return Ok(204, None)

    def _channel_messages(self, channel_id: int, after: int | None, limit: int) -> Any:
        """What a restarted channel reads to see whether its last send got through."""
        found = [p for p in self.posted if p.channel_id == channel_id and (after is None or p.message_id > after)]
        return Ok(200, [{"id": str(p.message_id), "content": p.content, "author": {"bot": True},
                         "webhook_id": str(p.webhook_id) if p.webhook_id else None} for p in found[:limit]])

    def _post(self, channel_id: int, payload: dict[str, Any], **extra: Any) -> Any:
        content = payload.get("content") or ""
        if not content or len(content) > LIMIT:
            return Fail(400, 50035, "Invalid Form Body: content must be 2000 or fewer in length")
        mid = next(self._ids)
        self.posted.append(Posted(channel_id, content, mid, username=payload.get("username"),
                                  avatar_url=payload.get("avatar_url"),
                                  reference=payload.get("message_reference"), **extra))
        return Ok(200, {"id": str(mid), "channel_id": str(channel_id), "content": content})

    # -- the world, and what happened
    def hook(self, hook_id: int) -> dict[str, Any] | None:
        return next((w for hooks in self.webhooks.values() for w in hooks if int(w["id"]) == hook_id), None)

    def delete_webhook(self, hook_id: int) -> None:
        for hooks in self.webhooks.values():
            hooks[:] = [w for w in hooks if int(w["id"]) != hook_id]

    def gone(self, call: Call) -> Any:
        """An answer: the webhook this execute names was deleted just before it arrived."""
        self.delete_webhook(call.args[0])
        return self._execute_webhook(*call.args)

    def healthy(self, call: Call) -> Any:
        """An answer: what a healthy Discord says (to script an answer after it)."""
        return getattr(self, "_" + call.method)(*call.args)

    def methods(self) -> list[str]:
        return [c.method for c in self.calls]

    def said(self) -> list[Posted]:
        """What the personalities said (everything posted except the bot's notices)."""
        return [p for p in self.posted if NOTICE_MARK not in p.content]

    def notices(self) -> list[Posted]:
        return [p for p in self.posted if NOTICE_MARK in p.content]

    def executes(self) -> list[Call]:
        return [c for c in self.calls if c.method == "execute_webhook"]


def ours(hook_id: int, name: str = BOT_NAME, token: str | None = None, channel: int = CID) -> dict[str, Any]:
    return {"id": str(hook_id), "type": 1, "channel_id": str(channel), "name": name,
            "token": token if token is not None else f"token-{hook_id}"}


def others(n: int, channel: int = CID) -> list[dict[str, Any]]:
    """Webhooks of other bots and integrations: no token for us, other names."""
    return [{"id": str(1_400_000_000_000_000_000 + i), "type": 1, "channel_id": str(channel),
             "name": f"OtherBot{i}", "token": None} for i in range(n)]


# ---- the shell ----------------------------------------------------------------------------------------


class Driver(PureWorld):
    """One channel actor in the tests' world, with `FakeDiscord` as its Discord: `deliver` hands it messages
    together and runs until nothing is left, `fire` sets off a timer, `restart` starts it again from what it
    last saved."""

    def __init__(self, settings: Any, discord: FakeDiscord, channel_id: int, keep_saves: bool = True) -> None:
        super().__init__({"channel": lambda key, data: ChannelState.restore(key, data, settings)},
                         {"discord": discord}, now=NOW, keep_saves=keep_saves)
        self.discord = discord
        self.key = str(channel_id)

    @property
    def state(self) -> ChannelState:
        return self.actor("channel", self.key)

    def deliver(self, *msgs: Any) -> list[Effect]:
        return self.deliver_to("channel", self.key, *msgs)

    def fire(self, payload: Any = "pump") -> list[Effect]:
        return super().fire(payload)

    def drain(self, limit: int = 100) -> None:
        """Fire pump timers until none is left."""
        for _ in range(limit):
            if not self.timers("pump"):
                return
            self.fire("pump")
        raise AssertionError("still retrying after many timers")

    def start(self) -> list[Effect]:  # type: ignore[override]
        return super().start("channel", self.key)

    def restart(self) -> Driver:  # type: ignore[override]
        """The actor died; a new one starts from what was last written, with the same Discord."""
        super().restart("channel", self.key)
        return self


def channel(place: Place | None = None, discord: FakeDiscord | None = None, pool_size: int = 2,
            notice_s: float = 3600.0, keep_saves: bool = True) -> Driver:
    """A channel actor that has seen one message in `place` (a guild text channel unless told)."""
    place = place or Place(CID, "text", GUILD, name="general", guild_name="Sandbox")
    settings = SimpleNamespace(bot_name=BOT_NAME, webhook_pool_size=pool_size, no_webhook_notice_s=notice_s)
    d = Driver(settings, discord or FakeDiscord(), place.channel_id, keep_saves=keep_saves)
    d.deliver(incoming(place, 900))
    d.trace.clear()
    return d


def incoming(place: Place, message_id: int, reply_to: int | None = None, user: int = ALICE) -> Incoming:
    return Incoming(message_id, place, Author(user, "alice"), "hi", mentions_bot=True, reply_to=reply_to)


_triggers = itertools.count(1_500_000_000_000_000_000)


def speak(text: str, user: int = ALICE, trigger: int | None = None, persona: Persona = BOB,
          channel_id: int = CID) -> Speak:
    return Speak(channel_id, user, persona, text, trigger if trigger is not None else next(_triggers))


def sentences(length: int, tag: str = "S") -> str:
    """Natural text of exactly `length` characters, made of sentences."""
    words = itertools.cycle(["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"])
    out, n = [], 0
    while n < length:
        sentence = " ".join([tag, *(next(words) for _ in range(7))]) + ". "
        out.append(sentence)
        n += len(sentence)
    return "".join(out)[:length].rstrip() + "." if length > 1 else "."


def paragraphs(n: int, tag: str) -> str:
    """`n` paragraphs of 1500 characters: each becomes exactly one chunk, starting with `<tag><index>`."""
    paras = []
    for i in range(n):
        head = f"{tag}{i} "
        paras.append((head + "lorem ipsum dolor " * 100)[:1500].rstrip() + ".")
    return "\n\n".join(paras)


def tags(posts: list[Posted]) -> list[str]:
    """The tag each post starts with (after any `**Name:** ` prefix)."""
    out = []
    for p in posts:
        text = p.content.removeprefix(f"**{BOB.display_name}:** ")
        out.append(text.split(" ", 1)[0])
    return out


# ---- first speech in a guild channel: the webhook pool ----------------------------------------------


def test_first_speech_lists_webhooks_and_reuses_ours_instead_of_creating_one() -> None:
    existing = [*others(2), ours(7001), ours(7002, name="Somebody else's hook"), ours(7003, token="")]
    d = channel(discord=FakeDiscord({CID: existing}))
    d.deliver(speak("Hello there."))
    assert d.discord.methods() == ["list_webhooks", "execute_webhook"]
    assert d.discord.calls[0].args == (CID,)
    hook_id, token, payload, thread = d.discord.calls[1].args
    assert (hook_id, token, thread) == (7001, "token-7001", None)
    assert payload["content"] == "Hello there."
    assert d.pushes() == [RouteFact("webhook", 7001, True)]  # the edge learns which webhook is ours
    assert [p.webhook_id for p in d.discord.posted] == [7001]


def test_a_webhook_is_created_only_when_none_of_ours_exists() -> None:
    d = channel(discord=FakeDiscord({CID: others(3)}))
    d.deliver(speak("First."))
    assert d.discord.methods() == ["list_webhooks", "create_webhook", "execute_webhook"]
    assert d.discord.calls[1].args == (CID, BOT_NAME)
    created = int(d.discord.webhooks[CID][-1]["id"])
    assert d.discord.posted[0].webhook_id == created
    assert RouteFact("webhook", created, True) in d.pushes()
    d.deliver(speak("Second."), speak("Third.", user=BOB_USER))  # known now: neither listed nor created again
    assert d.discord.methods()[3:] == ["execute_webhook", "execute_webhook"]


def test_a_channel_with_15_webhooks_of_other_bots_gets_no_new_one_and_hears_the_bot_with_one_notice() -> None:
    d = channel(discord=FakeDiscord({CID: others(MAX_WEBHOOKS)}))
    d.deliver(speak("Hello from Bob."))
    d.deliver(speak("And again."))
    assert "create_webhook" not in d.discord.methods()
    assert "execute_webhook" not in d.discord.methods()
    assert [p.content for p in d.discord.said()] == ["**Bob:** Hello from Bob.", "**Bob:** And again."]
    assert all(p.webhook_id is None and p.channel_id == CID for p in d.discord.posted)
    assert len(d.discord.notices()) == 1
    assert d.discord.posted[0] == d.discord.notices()[0]  # the notice comes before the first plain answer


def test_14_other_webhooks_leave_room_for_exactly_one_of_ours() -> None:
    d = channel(discord=FakeDiscord({CID: others(MAX_WEBHOOKS - 1)}), pool_size=3)
    d.deliver(speak(paragraphs(4, "A")))
    assert d.discord.methods().count("create_webhook") == 1
    assert len(d.discord.webhooks[CID]) == MAX_WEBHOOKS
    assert tags(d.discord.said()) == ["A0", "A1", "A2", "A3"]
    assert all(p.webhook_id is not None for p in d.discord.said())


def test_a_30007_answer_to_create_is_handled_like_a_full_channel() -> None:
    full = Fail(400, 30007, "Maximum number of webhooks reached (15)")
    d = channel(discord=FakeDiscord({CID: others(4)}).then("create_webhook", full))
    d.deliver(speak("Hello."))
    d.deliver(speak("Hello again."))
    assert d.discord.methods().count("create_webhook") == 1  # not asked again for every message
    assert "execute_webhook" not in d.discord.methods()
    assert [p.content for p in d.discord.said()] == ["**Bob:** Hello.", "**Bob:** Hello again."]
    assert len(d.discord.notices()) == 1


def test_a_30007_while_growing_keeps_using_the_webhook_we_have() -> None:
    full = Fail(400, 30007, "Maximum number of webhooks reached (15)")
    d = channel(discord=FakeDiscord({CID: [ours(7001)]}).then("create_webhook", full), pool_size=3)
    d.deliver(speak(paragraphs(3, "A")))
    assert d.discord.methods().count("create_webhook") == 1
    assert [p.webhook_id for p in d.discord.posted] == [7001, 7001, 7001]
    assert d.discord.notices() == []


# ---- pool growth ------------------------------------------------------------------------------------


def test_one_message_at_a_time_needs_only_one_webhook() -> None:
    d = channel(pool_size=3)
    for n in range(4):
        d.deliver(speak(f"Message {n}."))
    assert d.discord.methods().count("create_webhook") == 1
    assert len({p.webhook_id for p in d.discord.posted}) == 1


@pytest.mark.parametrize("pool_size", [1, 2, 3])
def test_the_pool_grows_while_a_backlog_waits_but_never_past_pool_size(pool_size: int) -> None:
    d = channel(pool_size=pool_size)
    d.deliver(speak(paragraphs(6, "A")), speak(paragraphs(4, "B"), user=BOB_USER))
    d.deliver(speak(paragraphs(5, "C"), user=CAROL))
    assert d.discord.methods().count("create_webhook") == pool_size
    hooks = [p.webhook_id for p in d.discord.posted]
    assert len(set(hooks)) == pool_size
    assert len(hooks) == 15
    if pool_size > 1:  # the pool is used in turn, not one webhook until its bucket is empty
        assert hooks[:pool_size] == sorted(set(hooks), key=hooks.index)
        assert all(a != b for a, b in itertools.pairwise(hooks))


def test_an_existing_webhook_of_ours_counts_toward_the_pool() -> None:
    d = channel(discord=FakeDiscord({CID: [ours(7001)]}), pool_size=2)
    d.deliver(speak(paragraphs(4, "A")))
    assert d.discord.methods().count("create_webhook") == 1
    assert {p.webhook_id for p in d.discord.posted} == {7001, int(d.discord.webhooks[CID][-1]["id"])}


# ---- what an execute carries ------------------------------------------------------------------------


@pytest.mark.parametrize("display", ["Clyde", "discord helper", "a@b#c:d", "x" * 100, "   "])
def test_the_username_sent_is_legal_for_discord(display: str) -> None:
    d = channel()
    d.deliver(speak("Hello.", persona=Persona("bob", display, "https://cdn.example/bob.png")))
    payload = d.discord.executes()[0].args[2]
    assert payload["username"] == legal_username(display)
    assert "clyde" not in payload["username"].lower() and "discord" not in payload["username"].lower()
    assert not set("@#:") & set(payload["username"])
    assert 1 <= len(payload["username"]) <= 80
    assert payload["avatar_url"] == "https://cdn.example/bob.png"


def test_no_avatar_means_no_avatar_url_in_the_payload() -> None:
    d = channel()
    d.deliver(speak("Hello.", persona=Persona("bob", "Bob", None)))
    payload = d.discord.executes()[0].args[2]
    assert "avatar_url" not in payload and payload["username"] == "Bob"


def test_a_thread_speaks_through_its_parents_webhooks_with_thread_id() -> None:
    place = Place(THREAD, "thread", GUILD, parent_id=PARENT, name="ideas")
    d = channel(place, FakeDiscord({PARENT: others(1, PARENT)}))
    d.deliver(speak(paragraphs(2, "T"), channel_id=THREAD))
    assert d.discord.methods() == ["list_webhooks", "create_webhook", "create_webhook", "execute_webhook",
                                   "execute_webhook"]
    assert d.discord.calls[0].args == (PARENT,)
    assert all(c.args == (PARENT, BOT_NAME) for c in d.discord.calls[1:3])
    assert [c.args[3] for c in d.discord.executes()] == [THREAD, THREAD]
    assert all(int(h["channel_id"]) == PARENT for h in d.discord.webhooks[PARENT])
    assert [(p.channel_id, p.thread_id) for p in d.discord.posted] == [(THREAD, THREAD)] * 2


def test_a_dm_is_answered_by_the_bot_with_the_name_prefix_and_a_reference_on_the_first_chunk_only() -> None:
    place = Place(DM, "dm")
    d = channel(place)
    trigger = 1_600_000_000_000_000_000
    d.deliver(speak(sentences(4500, "D"), trigger=trigger, channel_id=DM))
    assert set(d.discord.methods()) == {"create_message"}  # no webhooks, and no notice, in a DM
    calls = d.discord.calls
    assert len(calls) == 3 and all(c.args[0] == DM for c in calls)
    contents = [c.args[1]["content"] for c in calls]
    assert all(text.startswith("**Bob:** ") and len(text) <= LIMIT for text in contents)
    assert calls[0].args[1]["message_reference"] == {"message_id": str(trigger), "fail_if_not_exists": False}
    assert ["message_reference" in c.args[1] for c in calls] == [True, False, False]
    assert len(d.discord.posted) == 3


def test_a_4500_character_answer_is_three_executes_in_order_each_at_most_2000() -> None:
    d = channel()
    text = sentences(4500, "L")
    d.deliver(speak(text))
    contents = [c.args[2]["content"] for c in d.discord.executes()]
    assert len(contents) == 3
    assert all(len(c) <= LIMIT for c in contents)
    assert " ".join(contents).split() == text.split()  # in order, nothing lost but whitespace at the cuts
    assert [p.content for p in d.discord.posted] == contents


# ---- rate limits: Wait ------------------------------------------------------------------------------


@pytest.mark.parametrize("scope", ["user", "global", "gate"])
@pytest.mark.parametrize("method", ["list_webhooks", "create_webhook", "execute_webhook"])
def test_a_wait_becomes_a_timer_of_that_delay_and_nothing_is_called_until_it_fires(method: str, scope: str) -> None:
    d = channel(discord=FakeDiscord().then(method, Wait(2.75, scope)))
    first = speak(paragraphs(2, "A"))
    d.deliver(first)
    assert d.discord.methods()[-1] == method
    assert d.timers() == [Timer(2.75, "pump")]
    calls = len(d.discord.calls)
    # More speech and a webhook change arrive while waiting: still nothing goes to Discord.
    d.deliver(speak("B0 short.", user=BOB_USER), WebhooksChanged(CID), speak("C0 short.", user=CAROL))
    d.deliver(first)  # and a redelivery of the first
    assert len(d.discord.calls) == calls
    assert d.timers() == [Timer(2.75, "pump")]
    d.fire("pump")
    assert d.now == NOW + 2.75
    assert sorted(tags(d.discord.said())) == ["A0", "A1", "B0", "C0"]  # nothing lost, nothing twice
    assert d.timers() == []


def test_a_wait_in_the_middle_of_a_long_answer_resumes_where_it_stopped() -> None:
    d = channel(discord=FakeDiscord().then("execute_webhook", Ok(200, None), Wait(1.5, "user")))
    # The first Ok carries no message: Discord answered without a body, which must not break anything.
    d.deliver(speak(paragraphs(4, "A")))
    assert len(d.discord.posted) == 0 and len(d.discord.executes()) == 2
    assert d.timers() == [Timer(1.5, "pump")]
    d.fire("pump")
    assert tags(d.discord.said()) == ["A1", "A2", "A3"]
    assert [c.args[2]["content"].split()[0] for c in d.discord.executes()] == ["A0", "A1", "A1", "A2", "A3"]


# ---- deleted webhooks -------------------------------------------------------------------------------


def test_a_deleted_webhook_is_dropped_replaced_and_the_chunk_retried_once() -> None:
    discord = FakeDiscord({CID: [ours(7001)]})
    discord.then("execute_webhook", discord.gone)
    d = channel(discord=discord)
    d.deliver(speak("Only once."))
    assert discord.methods() == ["list_webhooks", "execute_webhook", "create_webhook", "execute_webhook"]
    assert RouteFact("webhook", 7001, None) in d.pushes()
    replacement = int(discord.webhooks[CID][0]["id"])
    assert replacement != 7001 and RouteFact("webhook", replacement, True) in d.pushes()
    assert [(p.content, p.webhook_id) for p in discord.posted] == [("Only once.", replacement)]
    assert d.timers() == []


def test_a_second_deleted_webhook_for_the_same_chunk_sends_it_as_the_bot_instead_of_looping() -> None:
    discord = FakeDiscord({CID: [ours(7001)]})
    discord.then("execute_webhook", discord.gone, discord.gone)
    d = channel(discord=discord)
    d.deliver(speak(paragraphs(2, "A")))
    first_chunk = [c for c in discord.executes() if c.args[2]["content"].startswith("A0")]
    assert len(first_chunk) == 2  # the original and exactly one retry
    plain = [p for p in discord.posted if p.webhook_id is None]
    assert [p.content.split()[:2] for p in plain] == [["**Bob:**", "A0"]]
    assert tags(discord.said()) == ["A0", "A1"]  # the next chunk is not affected
    assert discord.said()[1].webhook_id is not None
    assert [log.event for log in d.logs("warning")] == ["webhook_gone_twice"]


# ---- no Manage Webhooks ----------------------------------------------------------------------------

MISSING = Fail(403, 50013, "Missing Permissions")


def script_403(where: str) -> FakeDiscord:
    """The permission stays missing: the channel looks again after each notice interval and is refused again."""
    if where == "list":
        return FakeDiscord().then("list_webhooks", *[MISSING] * 20)
    if where == "create":
        return FakeDiscord().then("create_webhook", *[MISSING] * 20)
    return FakeDiscord({CID: [ours(7001)]}).then("execute_webhook", *[MISSING] * 20)


@pytest.mark.parametrize("where", ["list", "create", "execute"])
def test_without_manage_webhooks_the_bot_speaks_with_one_notice_per_interval(where: str) -> None:
    d = channel(discord=script_403(where), notice_s=600.0)
    start = NOW
    for n in range(10):  # ten answers over nine minutes: one notice
        d.now = start + 60 * n
        d.deliver(speak(f"Answer {n}."))
    assert [p.content for p in d.discord.said()] == [f"**Bob:** Answer {n}." for n in range(10)]
    assert all(p.webhook_id is None for p in d.discord.posted)
    assert len(d.discord.notices()) == 1
    assert d.discord.posted.index(d.discord.notices()[0]) == 0
    d.now = start + 599.0
    d.deliver(speak("Still inside the interval."))
    assert len(d.discord.notices()) == 1
    d.now = start + 600.0
    d.deliver(speak("After the interval."))
    assert len(d.discord.notices()) == 2
    assert d.discord.posted[-2] == d.discord.notices()[1]  # the new notice precedes that answer
    assert d.discord.posted[-1].content == "**Bob:** After the interval."


def test_a_notice_told_to_wait_by_the_bots_budget_is_sent_when_the_wait_is_over() -> None:
    discord = script_403("list").then("create_message", Wait(0.02, "gate"))  # the notice goes first: "not now"
    d = channel(discord=discord)
    d.deliver(speak("Answer."))
    assert [p.content for p in discord.said()] == ["**Bob:** Answer."] and discord.notices() == []
    d.fire(("notice", 1))
    assert len(discord.notices()) == 1 and d.timers() == []

def test_the_notice_interval_survives_a_restart() -> None:
    d = channel(discord=script_403("list"), notice_s=600.0)
    d.deliver(speak("Before."))
    again = d.restart()
    again.now = NOW + 300
    again.deliver(speak("After a restart."))
    assert len(d.discord.notices()) == 1
    assert d.discord.said()[-1].content == "**Bob:** After a restart."


# ---- errors: 5xx and refusals ----------------------------------------------------------------------


@pytest.mark.parametrize("why", ["15 webhooks", "no permission", "webhook deleted twice"])
def test_an_answer_that_ends_up_sent_as_the_bot_still_fits_in_2000_characters(why: str) -> None:
    if why == "15 webhooks":
        discord = FakeDiscord({CID: others(MAX_WEBHOOKS)})
    elif why == "no permission":
        discord = FakeDiscord().then("list_webhooks", MISSING)
    else:
        discord = FakeDiscord({CID: [ours(7001)]})
        discord.then("execute_webhook", discord.gone, discord.gone)
    d = channel(discord=discord)
    text = "word " * 900  # 4500 characters: chunks of 1999 when cut for a webhook
    d.deliver(speak(text))
    plain = [c.args[1]["content"] for c in discord.calls if c.method == "create_message"]
    assert plain
    assert [len(content) for content in plain if len(content) > LIMIT] == []
    assert d.logs("error") == []
    assert " ".join(p.content.removeprefix("**Bob:** ") for p in discord.said()).split() == text.split()


def test_rate_limits_do_not_use_up_a_chunks_attempts() -> None:
    waits = [Wait(0.5, "user")] * (SEND_ATTEMPTS - 1)
    discord = FakeDiscord({CID: [ours(7001)]}).then("execute_webhook", *waits, Fail(500, None, "oops"))
    d = channel(discord=discord)
    d.deliver(speak("Worth the wait."))
    d.drain()
    assert [p.content for p in discord.posted] == ["Worth the wait."]
    assert d.logs("error") == []


@pytest.mark.parametrize(("method", "refusal"), [("list_webhooks", Fail(404, 10003, "Unknown Channel")),
                                                  ("create_webhook", Fail(400, 50035, "Invalid Form Body"))])
def test_a_refused_setup_call_is_not_retried_forever(method: str, refusal: Fail) -> None:
    discord = FakeDiscord().then(method, *[refusal] * 100)
    d = channel(discord=discord)
    d.deliver(speak("Hello."))
    for _ in range(50):
        if not d.timers("pump"):
            break
        d.fire("pump")
    assert d.timers("pump") == []
    assert discord.methods().count(method) <= SEND_ATTEMPTS
    assert d.logs("error")


def test_a_failing_setup_call_backs_off() -> None:
    discord = FakeDiscord().then("list_webhooks", *[Fail(503, None, "unavailable")] * 4)
    d = channel(discord=discord)
    d.deliver(speak("Hello."))
    delays = []
    while d.timers("pump"):
        delays.append(d.timers("pump")[0].delay_s)
        d.fire("pump")
    assert [p.content for p in discord.posted] == ["Hello."]
    assert len(delays) == 4 and delays[-1] > delays[0]


@pytest.mark.parametrize("failure", [Fail(500, None, "Internal Server Error"), Fail(503, 0, "unavailable"),
                                     Fail(0, None, "could not reach Discord: ConnectError")])
def test_server_errors_are_retried_on_a_growing_backoff_then_given_up_with_an_error(failure: Fail) -> None:
    discord = FakeDiscord({CID: [ours(7001)]}).then("execute_webhook", *[failure] * SEND_ATTEMPTS)
    d = channel(discord=discord)
    d.deliver(speak(paragraphs(2, "A")))
    delays = []
    for _ in range(SEND_ATTEMPTS - 1):
        calls = len(discord.calls)
        [timer] = d.timers()
        delays.append(timer.delay_s)
        assert len(discord.calls) == calls  # nothing is sent while the timer runs
        d.fire("pump")
    assert delays == sorted(delays) and delays[0] > 0 and delays[-1] > delays[0]
    assert all(b == 2 * a for a, b in itertools.pairwise(delays))
    a0_calls = [c for c in discord.executes() if c.args[2]["content"].startswith("A0")]
    assert len(a0_calls) == SEND_ATTEMPTS
    assert [(log.event, "A0" in log.detail or ":0" in log.detail) for log in d.logs("error")] == [
        ("send_failed", True)
    ]
    assert tags(discord.said()) == ["A1"]  # given up on A0; the next chunk still goes
    assert d.timers() == []


def test_a_server_error_then_success_sends_the_chunk_exactly_once() -> None:
    discord = FakeDiscord().then("execute_webhook", Fail(502, None, "Bad Gateway"), Fail(500, None, "oops"))
    d = channel(discord=discord)
    d.deliver(speak("Eventually."))
    d.drain()
    assert [p.content for p in discord.posted] == ["Eventually."]
    assert d.logs("error") == []



def test_an_answer_said_again_after_it_was_sent_closes_the_work_of_every_message_it_answers() -> None:
    """The record closing a message's work was lost (a store hiccup, a kill): the user's actor says the answer
    again. It is not sent twice, and this time its messages' work is closed, or it would be handed on again
    and again until the edge gave up with a false 'sorry'."""
    d = channel()
    merged = Speak(CID, ALICE, BOB, "One answer to three lines.", 1_400_000_000_000_000_003, created_at=0.0,
                   answers=(1_400_000_000_000_000_001, 1_400_000_000_000_000_002, 1_400_000_000_000_000_003))
    d.deliver(merged)
    [sent] = d.discord.said()
    since = len(d.trace)
    d.deliver(merged)
    assert d.discord.said() == [sent]  # said once
    closed = [e for e in d.effects_of(f"channel:{CID}", since) if isinstance(e, WorkDone)]
    assert sorted(e.trigger_id for e in closed) == list(merged.answers)
    assert {e.reply_id for e in closed} == {int(sent.message_id)}

@pytest.mark.parametrize("refusal", [Fail(400, 50035, "Invalid Form Body"), Fail(404, 10003, "Unknown Channel"),
                                     Fail(413, 40005, "Request entity too large")])
def test_a_refused_chunk_is_dropped_with_an_error_and_the_next_chunk_still_goes(refusal: Fail) -> None:
    discord = FakeDiscord({CID: [ours(7001)]}).then("execute_webhook", refusal)
    d = channel(discord=discord)
    d.deliver(speak(paragraphs(3, "A")))
    assert tags(discord.said()) == ["A1", "A2"]
    assert len(discord.executes()) == 3  # the refused chunk was not retried
    [error] = d.logs("error")
    assert error.event == "send_refused" and str(refusal.status) in error.detail
    assert d.timers() == []
    assert 7001 in [int(h["id"]) for h in discord.webhooks[CID]]
    assert RouteFact("webhook", 7001, None) not in d.pushes()


# ---- fairness and caps -----------------------------------------------------------------------------


def test_a_short_answer_is_not_held_behind_a_long_one() -> None:
    d = channel()
    d.deliver(speak(paragraphs(6, "A"), user=ALICE), speak("B0 is short.", user=BOB_USER))
    order = tags(d.discord.said())
    assert sorted(order) == sorted(["A0", "A1", "A2", "A3", "A4", "A5", "B0"])
    assert order.index("B0") <= 2  # not seventh
    assert [t for t in order if t.startswith("A")] == ["A0", "A1", "A2", "A3", "A4", "A5"]


def test_users_take_turns_so_the_second_speaker_is_sent_second() -> None:
    d = channel()
    d.deliver(speak(paragraphs(6, "A"), user=ALICE), speak("B0 is short.", user=BOB_USER))
    assert tags(d.discord.said())[:3] == ["A0", "B0", "A1"]


def test_turns_when_the_newcomer_arrives_while_the_first_chunk_is_waiting() -> None:
    d = channel(discord=FakeDiscord({CID: [ours(7001)]}).then("execute_webhook", Wait(0.5, "user")))
    d.deliver(speak(paragraphs(6, "A"), user=ALICE))
    d.deliver(speak("B0 is short.", user=BOB_USER), speak(paragraphs(2, "C"), user=CAROL))
    d.fire("pump")
    assert tags(d.discord.said()) == ["A0", "B0", "C0", "A1", "C1", "A2", "A3", "A4", "A5"]


def test_a_user_over_the_queue_cap_is_refused_with_a_warning_not_silently() -> None:
    d = channel(discord=FakeDiscord().then("list_webhooks", Wait(1.0, "user")))  # nothing drains meanwhile
    d.deliver(speak("x" * (LIMIT * (USER_QUEUE_CAP + 2)), user=ALICE))
    [warning] = d.logs("warning", "outbox_full")
    assert "2 chunk" in warning.detail and "user queue full" in warning.detail
    d.deliver(speak("Bob is not affected.", user=BOB_USER))
    assert len(d.logs("warning", "outbox_full")) == 1
    d.fire("pump")
    assert len(d.discord.said()) == USER_QUEUE_CAP + 1
    assert d.discord.said()[1].content == "Bob is not affected."


def test_a_full_channel_outbox_refuses_with_a_warning_not_silently() -> None:
    d = channel(discord=FakeDiscord().then("list_webhooks", Wait(1.0, "user")), keep_saves=False)
    per_user = USER_QUEUE_CAP
    users = TOTAL_CAP // per_user
    for u in range(users):
        d.deliver(speak("y" * (LIMIT * per_user), user=3_000 + u))
    assert d.logs("warning", "outbox_full") == []
    assert len(d.state.outbox) == TOTAL_CAP
    d.deliver(speak("One more user.", user=ALICE))
    [warning] = d.logs("warning", "outbox_full")
    assert "channel outbox full" in warning.detail
    assert len(d.state.outbox) == TOTAL_CAP


def test_an_outbox_backlog_warns_once_per_crossing_and_again_only_after_draining() -> None:
    discord = FakeDiscord().then("list_webhooks", Wait(1.0, "user"))  # nothing drains meanwhile
    d = channel(discord=discord)
    d.deliver(speak(paragraphs(OUTBOX_BACKLOG - 1, "A"), user=ALICE))
    assert len(d.state.outbox) == OUTBOX_BACKLOG - 1 and d.logs(event="outbox_backlog") == []
    d.deliver(speak(paragraphs(1, "B"), user=BOB_USER))  # the crossing
    [warning] = d.logs(event="outbox_backlog")
    assert warning.level == "warning" and warning.channel == CID and warning.user is None
    assert f"{OUTBOX_BACKLOG} chunks waiting" in warning.detail and "2 user(s)" in warning.detail
    d.deliver(speak(paragraphs(5, "C"), user=CAROL))  # still over: no second warning
    assert len(d.logs(event="outbox_backlog")) == 1

    d.drain()  # Discord answers again: everything goes out, and the watch re-arms
    assert len(d.state.outbox) == 0 and len(d.discord.said()) == OUTBOX_BACKLOG + 5
    assert len(d.logs(event="outbox_backlog")) == 1

    discord.then("execute_webhook", Wait(1.0, "user"))
    d.deliver(speak(paragraphs(OUTBOX_BACKLOG, "D"), user=ALICE))  # a new crossing: a new warning
    assert len(d.logs(event="outbox_backlog")) == 2

    discord.then("execute_webhook", discord.healthy, Wait(1.0, "user"))
    d.fire("pump")  # one chunk goes out: just under the threshold again
    assert len(d.state.outbox) == OUTBOX_BACKLOG - 1 and len(d.logs(event="outbox_backlog")) == 2
    d.deliver(speak(paragraphs(1, "E"), user=BOB_USER))  # back over it: that is a crossing too
    assert len(d.logs(event="outbox_backlog")) == 3


# ---- idempotency and restarts ------------------------------------------------------------------------


def test_the_same_speak_delivered_twice_sends_each_chunk_once() -> None:
    d = channel()
    twice = speak(paragraphs(3, "A"))
    d.deliver(twice, twice)
    d.deliver(twice)
    assert tags(d.discord.said()) == ["A0", "A1", "A2"]
    assert len(d.discord.executes()) == 3


def test_after_a_restart_the_unfinished_outbox_resumes_and_sent_chunks_are_not_sent_again() -> None:
    discord = FakeDiscord({CID: [ours(7001)]})
    discord.then("execute_webhook", discord.healthy, Wait(5.0, "user"))
    d = channel(discord=discord)
    said = speak(paragraphs(3, "A"))
    d.deliver(said)
    assert tags(discord.said()) == ["A0"] and d.timers() == [Timer(5.0, "pump")]
    # The process dies while waiting; the new actor starts from what was written.
    again = d.restart()
    effects = again.start()
    assert effects[0] == Push(RouteFact("webhook", 7001, True))  # the edge relearns our webhook
    assert tags(discord.said()) == ["A0", "A1", "A2"]
    again.deliver(said)  # the Speak is redelivered after the restart: nothing is said twice
    assert tags(discord.said()) == ["A0", "A1", "A2"]
    assert discord.methods().count("list_webhooks") == 2  # listed again after the restart


def test_a_restart_before_anything_was_sent_sends_everything_once() -> None:
    d = channel(discord=FakeDiscord().then("list_webhooks", Wait(3.0, "global")))
    d.deliver(speak(paragraphs(2, "A")), speak("B0 later.", user=BOB_USER))
    assert d.discord.posted == []
    again = d.restart()
    again.start()
    assert sorted(tags(d.discord.said())) == ["A0", "A1", "B0"]
    assert d.discord.methods().count("create_webhook") >= 1


def test_restart_of_an_idle_channel_sends_nothing() -> None:
    d = channel()
    d.deliver(speak("Done before the restart."))
    again = d.restart()
    assert [e for e in again.start() if isinstance(e, Call)] == []
    assert len(d.discord.posted) == 1


# ---- the reply map ----------------------------------------------------------------------------------


def test_each_sent_message_maps_to_the_personality_that_said_it() -> None:
    d = channel()
    d.deliver(speak(paragraphs(2, "A"), persona=BOB), speak("From Ann.", user=BOB_USER,
                                                           persona=Persona("ann", "Ann The Great", None)))
    by_text = {tags([p])[0]: p.message_id for p in d.discord.posted}
    for tag, name in (("A0", "bob"), ("A1", "bob"), ("From", "ann")):
        assert d.deliver(LookupReply(CID, by_text[tag]))[-1].body == ReplyTarget(CID, by_text[tag], name)
    place = Place(CID, "text", GUILD)
    [tell] = d.deliver(incoming(place, 901, reply_to=by_text["From"], user=CAROL))
    assert isinstance(tell.body, Heard) and tell.body.replied_personality == "ann"


def test_the_reply_map_and_the_sent_chunk_ids_are_bounded() -> None:
    d = channel(keep_saves=False)
    extra = 5
    for n in range(REPLY_MAP_CAP + extra):
        d.deliver(speak(f"Message {n}."))
    ids = [p.message_id for p in d.discord.posted]
    assert len(ids) == REPLY_MAP_CAP + extra
    assert len(d.state.sent) == REPLY_MAP_CAP and len(d.state.outbox.done) <= DONE_CAP
    assert d.state.view().remembered_messages == REPLY_MAP_CAP
    for mid in ids[:extra]:
        assert d.deliver(LookupReply(CID, mid))[-1].body.personality is None
    for mid in (ids[extra], ids[-1]):
        assert d.deliver(LookupReply(CID, mid))[-1].body.personality == "bob"


# ---- webhook changes --------------------------------------------------------------------------------


def test_webhooks_changed_makes_the_next_send_list_webhooks_again() -> None:
    d = channel()
    d.deliver(speak("One."))
    d.deliver(speak("Two."))
    assert d.discord.methods() == ["list_webhooks", "create_webhook", "execute_webhook", "execute_webhook"]
    d.deliver(WebhooksChanged(CID))
    assert len(d.discord.calls) == 4  # nothing is called just because of the event
    d.deliver(speak("Three."))
    assert d.discord.methods()[4:] == ["list_webhooks", "execute_webhook"]  # ours is still there: reused


def test_webhooks_changed_after_ours_was_deleted_creates_a_new_one_without_a_failed_send() -> None:
    d = channel()
    d.deliver(speak("One."))
    hook = int(d.discord.webhooks[CID][0]["id"])
    d.discord.delete_webhook(hook)
    d.deliver(WebhooksChanged(CID))
    d.deliver(speak("Two."))
    assert d.discord.methods()[3:] == ["list_webhooks", "create_webhook", "execute_webhook"]
    assert d.discord.posted[-1].webhook_id not in (None, hook)


def test_webhooks_changed_in_a_full_channel_that_now_has_room_goes_back_to_webhooks() -> None:
    d = channel(discord=FakeDiscord({CID: others(MAX_WEBHOOKS)}))
    d.deliver(speak("As the bot."))
    assert d.discord.said()[0].webhook_id is None
    d.discord.webhooks[CID].pop()  # another bot deleted one of its webhooks
    d.deliver(WebhooksChanged(CID))
    d.deliver(speak("Through a webhook again."))
    assert "list_webhooks" in d.discord.methods()[2:]
    assert d.discord.said()[-1].webhook_id is not None


# ---- typing -----------------------------------------------------------------------------------------


def test_typing_for_sends_typing_and_refreshes_until_the_answer_is_spoken() -> None:
    d = channel()
    trigger = 1_600_000_000_000_000_001
    effects = d.deliver(TypingFor(CID, ALICE, trigger, 120.0))
    assert [c.method for c in effects if isinstance(c, Call)] == ["typing"]
    assert d.discord.calls[0].args == (CID,)
    assert d.timers("typing") == [Timer(TYPING_REFRESH_S, "typing")]
    d.fire("typing")
    assert d.discord.methods() == ["typing", "typing"]
    assert d.timers("typing") == [Timer(TYPING_REFRESH_S, "typing")]
    d.deliver(speak("Here is the answer.", trigger=trigger))
    d.fire("typing")
    assert d.discord.methods().count("typing") == 2  # stopped: no typing call and no new timer
    assert d.timers("typing") == []


def test_an_expired_typing_for_stops_on_the_next_wake() -> None:
    d = channel()
    d.deliver(TypingFor(CID, ALICE, 1_600_000_000_000_000_002, 10.0))
    d.fire("typing")  # 8 s: still within the 10 s
    assert d.discord.methods() == ["typing", "typing"]
    d.fire("typing")  # 16 s: expired
    assert d.discord.methods() == ["typing", "typing"]
    assert d.timers("typing") == []


def test_two_triggers_share_one_refresh_timer_and_typing_lasts_until_both_are_answered() -> None:
    d = channel()
    d.deliver(TypingFor(CID, ALICE, 11, 120.0), TypingFor(CID, BOB_USER, 12, 120.0))
    assert d.timers("typing") == [Timer(TYPING_REFRESH_S, "typing")]
    d.deliver(speak("First answer.", trigger=11))
    d.fire("typing")
    assert d.discord.methods().count("typing") == 3
    d.deliver(speak("Second answer.", trigger=12, user=BOB_USER))
    d.fire("typing")
    assert d.discord.methods().count("typing") == 3 and d.timers("typing") == []


def test_typing_is_refreshed_by_one_timer_chain_however_triggers_come_and_go() -> None:
    d = channel()
    for n in range(3):  # answers come quickly, one after another
        d.deliver(TypingFor(CID, ALICE, 100 + n, 120.0))
        d.now += 1.0
        d.deliver(speak(f"Answer {n}.", trigger=100 + n))
        d.now += 1.0
    d.deliver(TypingFor(CID, ALICE, 200, 120.0))
    before = d.discord.methods().count("typing")
    window_end = d.now + TYPING_REFRESH_S
    while [due for due, _, _, t in d.pending if t.payload == "typing" and due < window_end]:
        d.fire("typing")
    assert d.discord.methods().count("typing") - before == 1  # one refresh per period, not one per chain


def test_a_permission_granted_later_brings_webhooks_back_after_the_notice_interval() -> None:
    d = channel(discord=FakeDiscord().then("list_webhooks", MISSING), notice_s=600.0)
    d.deliver(speak("While refused."))
    assert d.discord.said()[-1].content == "**Bob:** While refused."
    d.now = NOW + 600.0  # the admin granted Manage Webhooks meanwhile: the next look finds it
    d.deliver(speak("Once allowed."))
    assert d.discord.said()[-1].content == "Once allowed." and d.discord.said()[-1].webhook_id is not None


def test_answers_that_arrive_out_of_order_go_out_in_the_order_of_the_messages_they_answer() -> None:
    """Thespian can swap two messages between the same actors when a send is retried: while the channel waits
    (here on a rate limit), a later answer that arrived first must not go out before an earlier one."""
    discord = FakeDiscord({CID: [ours(7001)]}).then("execute_webhook", Wait(1.0, "user"))
    d = channel(discord=discord)
    d.deliver(speak("A0 first.", trigger=100))  # waits on the rate limit
    d.deliver(speak("C0 third.", trigger=300), speak("B0 second.", trigger=200))
    d.drain()
    assert tags(discord.said()) == ["A0", "B0", "C0"]


def test_an_earlier_answer_never_cuts_into_one_that_has_begun() -> None:
    discord = FakeDiscord({CID: [ours(7001)]})
    d = channel(discord=discord)
    discord.then("execute_webhook", lambda call: discord._execute_webhook(*call.args), Wait(1.0, "user"))
    d.deliver(speak(paragraphs(3, "L"), trigger=300))  # its first chunk is sent, then a rate limit
    d.deliver(speak("E0 earlier.", trigger=200))
    d.drain()
    assert tags(discord.said()) == ["L0", "L1", "L2", "E0"]
