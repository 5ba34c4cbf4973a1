"""Security through the real bot: a user's key is never written anywhere in clear, a key posted in a server is
deleted and never stored, answers never ping, every permission check refuses, and the actor system's sockets
listen on loopback only."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import sqlite3
from pathlib import Path

import httpx

from store import SqliteStore
from testkit.process import wait_for

KEY = "sk-planted-SECRET-123456"
CHANNEL_KEY = "sk-channel-SECRET-654321"
LONG_KEY = "sk-toolong-SECRET-777777"
SPOILER_KEY = "sk-spoiler-SECRET-888888"


def every_channel(sb) -> list[int]:
    state = sb.http.get("/_sandbox/state").json()
    return [int(c["id"]) for g in state["guilds"] for c in g["channels"]] + [int(d["id"]) for d in state["dm_channels"]]


def every_message(sb, leave_out: set[int] = frozenset()) -> str:
    """Every message in every channel and DM as JSON (contents, usernames, attachments' text)."""
    return json.dumps([m for c in every_channel(sb) for m in sb.messages(c) if int(m["id"]) not in leave_out],
                      ensure_ascii=False)


STORE_FILES = "tzurot.sqlite3"  # the store and its -wal / -shm


def files_holding(root: Path, secret: str, skip: str | None = None) -> list[str]:
    """Every file under `root` (binary-safe: SQLite, its WAL, logs, key files) that holds `secret`, in UTF-8
    or UTF-16 (SQLite can store text either way); files whose name starts with `skip` are left out."""
    needles = [secret.encode(), secret.encode("utf-16-le"), secret.encode("utf-16-be")]
    hits = []
    for path in root.rglob("*"):
        if path.is_file() and not (skip and path.name.startswith(skip)):
            data = path.read_bytes()
            if any(n in data for n in needles):
                hits.append(str(path.relative_to(root)))
    return hits


def store_rows_holding(root: Path, secret: str) -> list[str]:
    """`table` of every live row of the store that holds `secret` in any column (the rows the bot can read)."""
    db = sqlite3.connect(root / STORE_FILES)
    try:
        tables = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return [t for t in tables for row in db.execute(f"SELECT * FROM {t}")
                if secret.encode() in b"".join(c if isinstance(c, bytes) else str(c).encode() for c in row)]
    finally:
        db.close()


# ---- a user's key -------------------------------------------------------------------------------------


def test_a_planted_key_appears_nowhere_the_bot_writes_or_says(make_stack) -> None:
    stack = make_stack()
    sb = stack.sandbox
    general, dm = sb.channel("general"), sb.dm("alice")

    planted = sb.command(dm, "alice", f"!tz auth key {KEY}", "Your key is saved")
    t = sb.command(dm, "alice", "!tz auth status", "your own key")
    t = sb.post(general, "alice", "!tz add lilith")  # in #general: a bot may post 5 per 5 s in one channel
    sb.said(general, t, "Added")
    for channel in (dm, general):
        t = sb.command(channel, "alice", "!tz status", "")
    t = sb.command(dm, "alice", "!tz export", "")
    assert wait_for(lambda: [m for m in sb.replies(dm, t) if m["attachments"]], what="the export file")

    # An AI failure on that key: the AI emulator echoes the key in its 401 body, as OpenAI does.
    stack.ai.add_fault(key=KEY, fail=401)
    t = sb.command(dm, "alice", "@lilith are you there?", "refused the key")
    assert stack.ai.stats()["by_outcome"].get("401", 0) >= 1, stack.ai.stats()

    status = json.dumps(stack.status())
    metrics = httpx.get(f"http://127.0.0.1:{stack.http_port}/metrics", timeout=10).text
    assert "# TYPE" in metrics

    # While it runs: the actor system's sockets listen on loopback only.
    listening = listening_sockets(stack.bot.live_pids())
    assert len({pid for pid, _ in listening}) >= 3, f"expected the admin's and actors' sockets: {listening}"
    exposed = [(pid, addr) for pid, addr in listening if not addr.startswith(("127.", "::1", "::ffff:127."))]
    assert exposed == [], f"sockets not on loopback: {exposed}"

    stack.bot.stop()  # everything flushed to disk
    everything = {
        "the bot's output": stack.bot.output(),
        "Discord messages": every_message(sb, leave_out={planted}),  # the user's own DM is theirs to delete
        "/status": status,
        "/metrics": metrics,
    }
    for where, text in everything.items():
        assert KEY not in text and "SECRET-123456" not in text, f"the key is in {where}"
    assert files_holding(stack.bot.data_dir, "SECRET-123456", skip=STORE_FILES) == []  # logs, key file, gate...
    actor_rows = store_rows_holding(stack.bot.data_dir, "SECRET-123456")
    assert actor_rows == [], "the key is in the actors' stored state in clear"
    store = SqliteStore(stack.bot.data_dir / STORE_FILES)
    sealed = store.load("user", str(sb.user("alice"))).state["sealed_key"]
    store.close()
    assert sealed and KEY not in sealed  # stored, encrypted
    # (the raw store file, including the edge's `work` table: see the next test)


def test_a_key_posted_in_a_server_channel_is_deleted_and_never_stored(make_stack) -> None:
    stack = make_stack()
    sb = stack.sandbox
    general, dm = sb.channel("general"), sb.dm("bob")
    posts = {
        CHANNEL_KEY: sb.post(general, "bob", f"!tz auth key {CHANNEL_KEY}"),
        SPOILER_KEY: sb.post(general, "bob", f"!tz auth ||{SPOILER_KEY}||"),  # `key` forgotten, as a spoiler
        LONG_KEY: sb.post(general, "bob", f"!tz auth key {LONG_KEY} " + "and more " * 500),  # over 4,000
    }
    sb.said(general, min(posts.values()), "Never post a key in a server channel", n=len(posts))
    for key, trigger in posts.items():
        wait_for(lambda t=trigger: all(int(m["id"]) != t for m in sb.messages(general)), what=f"{key} deleted")
    sb.command(dm, "bob", "!tz auth status", "no personal key set")

    stack.bot.stop()
    for key in posts:
        assert key not in stack.bot.output() and key not in every_message(sb)
        assert files_holding(stack.bot.data_dir, key, skip=STORE_FILES) == [], f"{key} was written down"
        assert store_rows_holding(stack.bot.data_dir, key) == [], f"{key} was stored"


def test_the_store_file_never_holds_a_key_in_clear(make_stack) -> None:
    stack = make_stack()
    sb = stack.sandbox
    dm, general = sb.dm("alice"), sb.channel("general")
    sb.command(dm, "alice", f"!tz auth key {KEY}", "Your key is saved")
    sb.command(general, "bob", f"!tz auth key {CHANNEL_KEY}", "Never post a key in a server channel")
    stack.bot.stop()
    for key in (KEY, CHANNEL_KEY):
        assert store_rows_holding(stack.bot.data_dir, key) == []
        assert files_holding(stack.bot.data_dir, key) == []


# ---- answers never ping -------------------------------------------------------------------------------


def test_answers_and_notices_never_ping_anyone(make_stack) -> None:
    stack = make_stack()
    sb = stack.sandbox
    general = sb.channel("general")
    world = stack.discord.emulator.world
    role = stack.discord.call(lambda: next(r.id for r in world.roles.values() if r.name != "@everyone"))
    carol = sb.user("carol")
    pings = f"@everyone @here <@&{role}> <@{carol}> <@!{carol}>"

    t = sb.command(general, "alice", "!tz add lilith", "Added")
    t = sb.post(general, "alice", f"!tz config lilith prompt {pings} is who I greet")  # in every answer's text
    sb.said(general, t)
    trigger = sb.post(general, "alice", f"@lilith say hi to {pings}")
    answer = sb.said(general, trigger, "heard")[0]
    assert all(p in answer["content"] for p in ("@everyone", f"<@&{role}>", f"<@{carol}>"))
    notices = ["!tz info lilith", f"!tz info {pings}", f"!tz frobnicate {pings}", f"!tz blacklist check {pings}"]
    helpc = sb.channel("help")  # notices there: a bot may post only 5 messages per 5 s in one channel
    for t in [sb.post(helpc, "alice", text) for text in notices]:
        wait_for(lambda t=t: [m for m in sb.replies(helpc, t) if m["reply_to"] == str(t)], what="a notice")

    # The emulator does see pings: the user's own message (no allowed_mentions) pinged carol and the role.
    users_message = next(m for m in sb.messages(general) if int(m["id"]) == trigger)
    assert str(carol) in users_message["mentions"]
    assert role in stack.discord.call(lambda: world.message(general, trigger).mentions.roles)
    bot_messages = [m for c in (general, helpc) for m in sb.messages(c) if m["author"]["bot"]]
    assert len(bot_messages) >= 2 + len(notices)
    pinged = [(m["content"][:60], m["mentions"], m["mention_everyone"]) for m in bot_messages
              if m["mentions"] or m["mention_everyone"]]
    assert pinged == []
    roles = stack.discord.call(lambda: [(m.content[:60], m.mentions.roles) for c in (general, helpc)
                                        for m in world.messages(c) if m.author.bot and m.mentions.roles])
    assert roles == []


# ---- permissions --------------------------------------------------------------------------------------


def test_every_permission_check_refuses_through_the_real_bot(make_stack) -> None:
    """bob is a plain member of the default world (no Manage Messages, not an admin, not the guild owner)."""
    stack = make_stack(env={"TZUROT_USER_COMMAND_BURST": "20"})  # eleven at once: about rights, not limits
    sb = stack.sandbox
    general, lounge, helpc, ideas = (sb.channel(n) for n in ("general", "lounge", "help", "ideas"))
    dm, carol = sb.dm("bob"), sb.user("carol")
    t = sb.command(general, "alice", "!tz add lilith", "Added")

    refusals = [  # spread over channels (Discord lets a bot post 5 messages per 5 s in one), posted at once
        (helpc, "!tz config lilith vision on", "Only the owner of `lilith` can config it"),
        (helpc, "!tz remove lilith", "Only the owner of `lilith` can remove it"),
        (dm, "!tz alias lilith bobs girl", "Only the owner of `lilith` can alias it"),
        (general, "!tz activate lilith", "You need the Manage Messages permission here to activate"),
        (general, "!tz deactivate", "You need the Manage Messages permission here to deactivate"),
        (lounge, f"!tz blacklist add {carol} annoying", "can manage the blacklist"),
        (lounge, f"!tz blacklist remove {carol}", "can manage the blacklist"),
        (dm, f"!tz blacklist add {carol}", "can manage the blacklist"),
        (ideas, "!tz purgbot", "use it there"),
        (lounge, "!tz purgbot all", "use it there"),
        (ideas, "!tz auth key sk-bob-SECRET-000000", "Never post a key in a server channel"),
    ]
    posted = [(channel, sb.post(channel, "bob", text), text, refusal) for channel, text, refusal in refusals]
    for channel, t, text, refusal in posted:
        # The answer replies to the command (or, when the command was deleted, is the key warning).
        wait_for(lambda c=channel, t=t, r=refusal: [m for m in sb.replies(c, t) if r in m["content"]
                                                    and m["reply_to"] in (str(t), None)], what=f"refusal of {text}")

    # Nothing changed: lilith is alice's, unaliased, not activated; carol is not blacklisted.
    t = sb.post(general, "alice", "!tz info lilith")
    info = sb.said(general, t)[0]["content"]
    assert "bobs girl" not in info and str(sb.user("alice")) in info
    t = sb.post(general, "carol", "plain chatter nobody is addressed in")
    sb.command(general, "carol", "@lilith carol is not ignored", "carol is not ignored")
    assert not [m for m in sb.replies(general, t) if "plain chatter" in m["content"]]  # not activated
    t = sb.post(general, "alice", "!tz alias lilith her majesty")  # the owner may
    sb.said(general, t, "now means")


# ---- sockets ------------------------------------------------------------------------------------------


def _addr(hex_addr: str, v6: bool) -> str:
    host, port = hex_addr.split(":")
    raw = bytes.fromhex(host)
    if not v6:
        return ".".join(str(b) for b in reversed(raw)) + f":{int(port, 16)}"
    words = [raw[i : i + 4][::-1] for i in range(0, 16, 4)]  # each 32-bit word is little-endian
    ip = ipaddress.IPv6Address(b"".join(words))
    shown = f"::ffff:{ip.ipv4_mapped}" if ip.ipv4_mapped else str(ip)
    return f"{shown}:{int(port, 16)}"


def listening_sockets(pids: set[int]) -> list[tuple[int, str]]:
    """(pid, address) of every TCP socket in LISTEN state that one of `pids` holds."""
    inodes: dict[str, int] = {}
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                except OSError:
                    continue
                m = re.fullmatch(r"socket:\[(\d+)\]", target)
                if m:
                    inodes[m.group(1)] = pid
        except OSError:
            continue
    out = []
    for table, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                out.append((inodes[fields[9]], _addr(fields[1], v6)))
    return out
