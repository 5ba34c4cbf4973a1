"""Direct peers (supervision/peers.py): when a user actor and a channel actor may skip the shards, and when not.

Two tables talk to each other here the way two actors' shells would: each send returns (address or None, origin),
and the receiver hears the origin. A None address means "relayed through the shards", which may be slow.
"""

from __future__ import annotations

from supervision.peers import Origin, Peers

USER = ("user", "1", "addr-user")
CHANNEL = ("channel", "9", "addr-channel")


def test_an_actor_that_never_heard_from_a_peer_relays_and_numbers_the_send() -> None:
    peers = Peers(8)
    address, origin = peers.send("channel", "9", USER)
    assert address is None
    assert origin == Origin("user", "1", "addr-user", seq=1, ack=0, acked_from=None)


def test_after_the_peer_acknowledged_every_relayed_send_the_next_send_goes_straight_to_it() -> None:
    user, channel = Peers(8), Peers(8)
    _, speak = user.send("channel", "9", USER)  # relayed: the channel's address is unknown
    channel.heard(speak, "addr-channel")  # the channel learns the user's address and that it got seq 1
    address, heard = channel.send("user", "1", CHANNEL)
    assert address == "addr-user"  # the channel never relayed to the user: nothing of its own can be overtaken
    user.heard(heard, "addr-user")
    assert heard.ack == 1 and heard.acked_from == "addr-user"
    assert user.send("channel", "9", USER)[0] == "addr-channel"


def test_no_direct_send_while_a_relayed_one_may_still_be_on_its_way() -> None:
    user, channel = Peers(8), Peers(8)
    _, first = user.send("channel", "9", USER)
    channel.heard(first, "addr-channel")
    _, second = user.send("channel", "9", USER)  # seq 2, relayed, not yet arrived
    _, heard = channel.send("user", "1", CHANNEL)  # acknowledges seq 1 only
    user.heard(heard, "addr-user")
    assert user.send("channel", "9", USER)[0] is None  # a direct send could overtake seq 2: relay again
    channel.heard(second, "addr-channel")
    channel.heard(user.send("channel", "9", USER)[1], "addr-channel")  # seq 3, also relayed
    user.heard(channel.send("user", "1", CHANNEL)[1], "addr-user")  # acknowledges seq 3
    assert user.send("channel", "9", USER)[0] == "addr-channel"


def test_an_acknowledgement_for_an_earlier_instance_does_not_count() -> None:
    user = Peers(8)
    user.send("channel", "9", USER)
    user.send("channel", "9", USER)
    # The channel acknowledges seq 5 of the user instance that lived at another address before a restart.
    user.heard(Origin("channel", "9", "addr-channel", ack=5, acked_from="addr-old-user"), "addr-user")
    assert user.send("channel", "9", USER)[0] is None


def test_a_gone_address_is_forgotten_and_sends_are_relayed_until_the_new_instance_speaks() -> None:
    user = Peers(8)
    user.heard(Origin("channel", "9", "addr-channel"), "addr-user")
    assert user.send("channel", "9", USER)[0] == "addr-channel"
    assert user.gone("channel", "9", "addr-channel")
    address, origin = user.send("channel", "9", USER)
    assert address is None and origin.seq == 1
    user.heard(Origin("channel", "9", "addr-new", seq=0, ack=1, acked_from="addr-user"), "addr-user")
    assert user.send("channel", "9", USER)[0] == "addr-new"


def test_news_of_an_old_address_leaves_a_newer_one_alone() -> None:
    user = Peers(8)
    user.heard(Origin("channel", "9", "addr-new"), "addr-user")
    assert not user.gone("channel", "9", "addr-old")
    assert user.send("channel", "9", USER)[0] == "addr-new"


def test_a_new_instance_heard_from_replaces_the_old_address_and_its_counts() -> None:
    user = Peers(8)
    user.heard(Origin("channel", "9", "addr-old", seq=7), "addr-user")
    user.heard(Origin("channel", "9", "addr-new"), "addr-user")
    assert user.send("channel", "9", USER)[1].ack == 0  # seq 7 was the old instance's
    assert user.send("channel", "9", USER)[0] == "addr-new"


def test_at_most_cap_peers_are_kept_least_recently_used_first_out() -> None:
    channel = Peers(2)
    for n in ("1", "2", "3"):
        channel.heard(Origin("user", n, f"addr-{n}"), "addr-channel")
    assert len(channel) == 2
    assert channel.send("user", "1", CHANNEL)[0] is None  # forgotten: relayed
    assert [key for _, key, _ in channel.addresses()] == ["3"]  # "2" made way for "1"'s new entry


def test_cap_zero_always_relays_and_learns_nothing() -> None:
    user = Peers(0)
    user.heard(Origin("channel", "9", "addr-channel"), "addr-user")
    assert user.send("channel", "9", USER) == (None, Origin("user", "1", "addr-user"))
    assert user.addresses() == []
