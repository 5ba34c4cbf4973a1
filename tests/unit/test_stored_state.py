"""Stored state that is not what the code wrote: any bytes, and decodable rows of the wrong shape.

The contract: `decode` returns a map or raises an Exception; every state class's `restore` returns a state or
raises an Exception; and the shell turns either failure into "start clean, the row quarantined, an ERROR
`quarantined` in the supervisor log", never a failed start (which the supervisor would retry into parking).
"""

from __future__ import annotations

from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors.blacklist_actor import BlacklistActor
from actors.channel_actor import ChannelActor
from actors.messages import ChannelInfo, GetChannelInfo, GetUserSettings, LookupPersonality, SetAutorespond
from actors.registry_actor import RegistryActor
from actors.state.blacklist import BlacklistState
from actors.state.channel import ChannelState
from actors.state.registry import RegistryState
from actors.state.user import UserState
from actors.user_actor import UserActor
from observability import jsonlog
from store import SqlStore
from store.sqlite import decode, encode

FAST = settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
STATES = [(UserState, "42"), (ChannelState, "7"), (RegistryState, "registry"), (BlacklistState, "blacklist")]

# Values msgpack can hold (what `decode` can return), nested a little.
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1), st.floats(), st.text(max_size=8),
    st.binary(max_size=8), st.sampled_from(["", "bob", "1", "nan", "1e999", "-5", "text", "\u200b"]),
)  # fmt: skip
keys_ = st.one_of(st.text(max_size=6), st.integers(-5, 2**64 - 1), st.sampled_from(["place", "channel_id", "kind"]))
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys_, inner, max_size=4), max_leaves=12
)


def garbage_for(state_class: type, key: str) -> st.SearchStrategy[dict[Any, Any]]:
    """A real snapshot with any of its fields (and a few unknown ones) replaced by anything."""
    base = state_class.restore(key, None).snapshot()
    fields = st.sampled_from(sorted(base)) | keys_
    return st.dictionaries(fields, values, max_size=6).map(lambda over: {**base, **over})


# ---- decode ----------------------------------------------------------------------------------------


@FAST
@given(blob=st.one_of(st.binary(max_size=64), values.map(lambda v: msgpack.packb(v, use_bin_type=True)),
                      st.builds(lambda v, cut: encode({"x": v})[:cut], values, st.integers(0, 40))))
def test_decode_returns_a_map_or_raises_an_exception_for_any_bytes(blob: bytes) -> None:
    try:
        value = decode(blob)
    except Exception:  # noqa: BLE001 - any Exception is a clean failure: the store quarantines the row
        return
    assert isinstance(value, dict)


@FAST
@given(state=st.dictionaries(st.text(max_size=8), values, max_size=6))
def test_decode_gives_back_what_encode_wrote(state: dict[str, Any]) -> None:
    assert decode(encode(state)) == state or _has_nan(state)  # no tuples made, so equality is exact


def _has_nan(v: Any) -> bool:
    if isinstance(v, float):
        return v != v
    if isinstance(v, dict):
        return any(_has_nan(x) for x in v.values())
    if isinstance(v, list):
        return any(_has_nan(x) for x in v)
    return False


# ---- restore -----------------------------------------------------------------------------------------


def restore_and_start(state_class: type, key: str, data: dict[str, Any] | None) -> Any:
    """What the shell does at start: restore, check the state can be saved, compute its first effects."""
    state = state_class.restore(key, data, None)
    encode(state.snapshot())
    if hasattr(state, "on_start"):
        state.on_start(1_700_000_000.0)
    return state


@pytest.mark.parametrize(("state_class", "key"), STATES, ids=[c.KIND for c, _ in STATES])
def test_restore_of_any_stored_map_restores_or_raises_an_exception(state_class: type, key: str) -> None:
    @FAST
    @given(data=garbage_for(state_class, key))
    def check(data: dict[Any, Any]) -> None:
        try:
            state = restore_and_start(state_class, key, data)
        except Exception:  # noqa: BLE001 - the shell quarantines the row and starts clean
            return
        # What restored restores the same again once saved (no drift across restarts).
        saved = encode(state.snapshot())
        again = restore_and_start(state_class, key, decode(saved))
        assert encode(again.snapshot()) == saved

    check()


@pytest.mark.parametrize(("state_class", "key"), STATES, ids=[c.KIND for c, _ in STATES])
def test_a_snapshot_restores_to_itself(state_class: type, key: str) -> None:
    empty = state_class.restore(key, None).snapshot()
    assert state_class.restore(key, decode(encode(empty))).snapshot() == empty


# ---- the shell: a bad row never stops an actor from starting ----------------------------------------


@pytest.fixture
def store(sql_store: SqlStore) -> SqlStore:
    """Each test below runs on SQLite and on PostgreSQL."""
    return sql_store


def _ask_something(harness: Any, kind: str) -> Any:
    if kind == "user":
        return harness.ask(GetUserSettings(42))
    if kind == "channel":
        return harness.ask(GetChannelInfo(7))
    if kind == "registry":
        return harness.ask(LookupPersonality("nobody"))
    return harness.ask("what is this?")  # the blacklist answers anything it does not know with a refusal


ACTORS = [(UserActor, "user", "42"), (ChannelActor, "channel", "7"), (RegistryActor, "registry", "registry"),
          (BlacklistActor, "blacklist", "blacklist")]  # fmt: skip
BAD_ROWS = {
    "undecodable": b"\xc1\xc1 not msgpack",
    "not-a-map": msgpack.packb([1, 2, 3]),
    "wrong-types": encode({"aliases": 5, "personalities": 5, "everywhere": 5, "place": 5, "sent": 5}),
    "wrong-nesting": encode({"conversations": {"x": "y"}, "personalities": {"a": 1}, "servers": {"1": 2},
                             "hooks": [[1]], "inbox": [{"incoming": {}}], "seen": ["a"]}),
}  # fmt: skip


@pytest.mark.parametrize("bad", sorted(BAD_ROWS))
@pytest.mark.parametrize(("actor_class", "kind", "key"), ACTORS, ids=[k for _, k, _ in ACTORS])
def test_an_actor_with_a_bad_row_starts_clean_and_the_row_is_quarantined(
    actor_harness, store: SqlStore, actor_class: type, kind: str, key: str, bad: str
) -> None:
    store.put_raw(kind, key, BAD_ROWS[bad])

    harness = actor_harness(actor_class, key=key, store=store)  # raises if the start failed

    answer = _ask_something(harness, kind)
    assert answer is not None and not isinstance(answer, Exception)
    if kind == "channel":
        assert answer == ChannelInfo(7, None, None, 0)  # clean
    quarantined = store.quarantined(kind)
    assert [(k, q) for k, q, _ in quarantined] == [(kind, key)]
    errors = [r for r in jsonlog.read(harness.settings.supervisor_log_path)
              if r["event"] == "quarantined" and r["level"] == "error"]
    assert len(errors) == 1 and errors[0]["key"] == key and quarantined[0][2] in errors[0]["detail"]
    row = store.execute("SELECT data FROM quarantine WHERE kind=? AND key=?", (kind, key)).fetchone()
    assert row == (BAD_ROWS[bad],)  # the bytes are kept for inspection


def test_after_a_quarantine_the_fresh_state_is_saved_and_survives_a_restart(
    actor_harness, store: SqlStore
) -> None:
    store.put_raw("user", "42", BAD_ROWS["wrong-types"])
    first = actor_harness(UserActor, key="42", store=store)
    assert first.ask(SetAutorespond(42, True)).autorespond is True  # a save at version 0: no stale write
    first.stop()

    second = actor_harness(UserActor, key="42", store=store)
    assert second.ask(GetUserSettings(42)).autorespond is True
    assert len(store.quarantined()) == 1  # quarantined once, not again
