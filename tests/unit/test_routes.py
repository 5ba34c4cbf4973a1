"""Routes: where the bridge and the supervisors send a Deliver, from Root's Directory, while shards come and go."""

from __future__ import annotations

from supervision.protocol import Directory
from supervision.sharding import Routes, shard_key, shard_of

KEYS = [str(n) for n in range(1, 21)]


def directory(users: int = 4, down: frozenset[str] = frozenset()) -> Directory:
    """Root's view: every user shard (a down one has no address or pid), one channel shard and a singleton."""
    shards = [shard_key("user", i) for i in range(users)] + [shard_key("channel", 0)]
    children = tuple(
        (key, None, None) if key in down else (key, f"address of {key}", 1000 + n) for n, key in enumerate(shards)
    )
    return Directory(children + (("registry", "address of registry", 99),), groups=(("user", users), ("channel", 1)))


def routes_for(d: Directory) -> Routes:
    routes = Routes()
    routes.update(d)
    return routes


def test_every_key_goes_to_the_shard_its_hash_names() -> None:
    routes = routes_for(directory())
    for key in KEYS:
        assert routes.address("user", key) == f"address of user/{shard_of(key, 4)}"
    assert routes.address("channel", "7") == "address of channel/0"
    assert routes.address("registry", "registry") == "address of registry"


def test_with_one_shard_down_the_other_keys_keep_their_shard_and_its_keys_have_no_address() -> None:
    routes = routes_for(directory(down=frozenset({"user/2"})))
    on_the_down_shard = [key for key in KEYS if shard_of(key, 4) == 2]
    assert on_the_down_shard  # the test means something: some of the 20 keys belong to user/2

    for key in KEYS:
        expected = None if key in on_the_down_shard else f"address of user/{shard_of(key, 4)}"
        assert routes.address("user", key) == expected, key


def test_a_group_with_every_shard_down_has_no_address_for_any_key() -> None:
    routes = routes_for(directory(users=2, down=frozenset({"user/0", "user/1"})))
    assert [routes.address("user", key) for key in KEYS] == [None] * len(KEYS)
    assert routes.address("channel", "7") == "address of channel/0"


def test_a_shard_coming_back_takes_its_own_keys_again() -> None:
    routes = routes_for(directory(down=frozenset({"user/1"})))
    routes.update(directory())
    for key in KEYS:
        assert routes.address("user", key) == f"address of user/{shard_of(key, 4)}"


def test_nothing_is_known_before_the_first_directory_or_for_an_unknown_kind() -> None:
    assert Routes().address("user", "1") is None
    assert routes_for(directory()).address("guild", "1") is None
