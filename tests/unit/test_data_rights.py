"""Data rights as a user lives them: `data export` hands over everything held (never the key), `data delete`
erases it everywhere after a confirmation. The store's side is tested in tests/unit/test_memories_store.py and
end to end, looking in the store afterwards, in tests/e2e/test_data_rights.py."""

from __future__ import annotations

import json

from actors.messages import ForgetUser, Notify
from actors.state.channel import ChannelState
from actors.state.data_rights import CONFIRM_S
from actors.state.user import UserState
from store.sqlite import decode, encode
from tests.unit.test_user_flow import ALICE, CAROL, CLEAR_KEY, DM, ELSEWHERE, SERVER, World


def lived() -> World:
    """Alice owns bob and kept, set a key, a persona and memories, and talked in two channels."""
    w = World()
    w.personality("bob")
    w.personality("kept")
    w.send(ALICE, f"!tz auth key {CLEAR_KEY}", DM)
    w.send(ALICE, "!tz persona set I'm Sam, a nurse.", DM)
    w.send(ALICE, "@bob my cat is called Biscuit")
    w.send(ALICE, "@bob hello from elsewhere", ELSEWHERE)
    w.send(CAROL, "@bob carol was here")
    return w


def last_notice(w: World) -> Notify:
    return w.notices(ALICE)[-1]


def test_data_export_is_sent_in_a_dm_as_json_with_everything_but_the_key() -> None:
    w = lived()
    w.send(ALICE, "!tz data export")
    assert "run `!tz data export` in a DM" in last_notice(w).text
    w.send(ALICE, "!tz data export", DM)
    [sent] = [n for n in w.notices(ALICE) if n.file_name == "my-data.json"]
    assert sent.channel_id == DM.channel_id
    data = json.loads(sent.file_text)
    assert data["settings"]["own_api_key_set"] is True
    assert CLEAR_KEY not in sent.file_text and "sealed-token" not in sent.file_text  # never the key, sealed or not
    assert data["personas"] == {"*": "I'm Sam, a nurse."}
    assert {c["personality"] for c in data["conversations"]} == {"bob"}
    assert any("Biscuit" in m["text"] for m in data["memories"])
    assert "carol" not in sent.file_text  # only hers
    assert [p["name"] for p in data["personalities"]] == ["bob", "kept"]  # from the catalogue, as `import` reads


def test_data_delete_asks_first_and_then_erases_everything_everywhere() -> None:
    w = lived()
    w.send(ALICE, "!tz data delete confirm keep")
    assert last_notice(w).text.startswith("Nothing to confirm")
    w.send(ALICE, "!tz data delete")
    assert "cannot be undone" in last_notice(w).text
    w.now += CONFIRM_S + 1
    w.send(ALICE, "!tz data delete confirm delete")
    assert last_notice(w).text.startswith("Nothing to confirm")  # too late: asked again
    w.send(ALICE, "!tz data delete")
    w.send(ALICE, "!tz data delete confirm keep")
    assert last_notice(w).text.startswith("Erased:") and "owned by nobody" in last_notice(w).text

    user = UserState.restore(str(ALICE), decode(encode(w.user(ALICE).snapshot())))  # as saved
    assert user.profile.sealed_key is None and user.profile.personas == {} and user.histories == {}
    assert w.memories.list(ALICE) == [] and w.memories.list(CAROL) != []  # carol's memories stay
    told = {b.channel_id for b in w.channels if isinstance(b, ForgetUser) and b.user_id == ALICE}
    assert {SERVER.channel_id, ELSEWHERE.channel_id, DM.channel_id} <= told
    kept = w.registry.find("kept")
    assert kept is not None and kept["owner_id"] == 0 and kept["public"] is True


def test_data_delete_confirm_delete_removes_the_personalities_owned() -> None:
    w = lived()
    w.send(ALICE, "!tz data delete")
    w.send(ALICE, "!tz data delete confirm delete")
    assert w.registry.find("bob") is None and w.registry.find("kept") is None
    assert w.routes.get(("alias", "bob")) is None


def test_a_channel_forgets_a_users_words_when_told() -> None:
    from tests.unit.test_channel_window import ALICE as A
    from tests.unit.test_channel_window import BOB as B
    from tests.unit.test_channel_window import CID, NOW, answer, said

    state = ChannelState.restore(str(CID), None)
    state.handle(said(1, A, "@lilith my secret"), NOW)
    state.handle(answer(1, A.id, "your secret is safe"), NOW)
    state.handle(said(2, B, "@lilith hi"), NOW)
    assert state.handle(ForgetUser(CID, A.id), NOW)[0].__class__.__name__ == "Save"
    assert "secret" not in str(decode(encode(state.snapshot()))["window"])  # (an answer still being sent is sent)
    assert state.handle(ForgetUser(CID, A.id), NOW) == []  # nothing left: nothing saved


def test_memories_a_failed_data_delete_left_behind_are_still_looked_for() -> None:
    w = lived()
    inner = w.services["memory"]
    w.services["memory"] = lambda call: RuntimeError("down") if call.method == "forget_user" else inner(call)
    w.send(ALICE, "!tz data delete")
    w.send(ALICE, "!tz data delete confirm keep")
    assert "couldn't erase your memories" in last_notice(w).text
    assert w.memories.list(ALICE) != []  # still there
    w.services["memory"] = inner
    w.send(ALICE, "@bob what is my cat called?")  # bob was kept, public; her conversation with it is gone
    assert any("Biscuit" in m["content"] for m in w.request()["messages"] if m["role"] == "system")
