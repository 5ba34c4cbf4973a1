"""Every edge process learns every routing fact (store/route_feed.py): two edge-side readers on one PostgreSQL.

What an edge relies on: the facts written before it started are all there when it starts; a fact any process
writes later (an alias added, a channel activated, a webhook gone) reaches every edge within moments; after
losing its connection an edge has everything again, including what changed meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

import config
from actors.messages import RouteFact
from config import Settings
from edge.routing import RoutingTable
from store import open_store
from store.route_feed import RouteFeed, watch_routes
from testkit import pgbouncer
from testkit.process import wait_for


@contextmanager
def edge(settings: Settings) -> Iterator[tuple[RoutingTable, RouteFeed]]:
    """An edge's routing table following the database, its feed stopped afterwards."""
    table = RoutingTable()
    feed = watch_routes(settings, lambda kind, key, value: table.apply(RouteFact(kind, key, value)))
    assert feed is not None
    try:
        yield table, feed
    finally:
        feed.stop()


def test_two_edges_start_complete_and_follow_every_change(postgres_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=postgres_url)
    writer = open_store(settings)  # an actor process, elsewhere
    writer.put_route("alias", "ada", "Ada")
    writer.put_route("activated", 111, "Ada")
    with edge(settings) as (a, _), edge(settings) as (b, _):
        for table in (a, b):  # complete at start
            assert table.aliases == {"ada": "Ada"} and table.activated == {111: "Ada"}
        writer.put_route("alias", "grace hopper", "Grace")
        writer.put_route("webhook", 222, True)
        writer.put_route("activated", 111, None)
        for table in (a, b):
            wait_for(lambda t=table: t.aliases.get("grace hopper") == "Grace" and 222 in t.webhooks
                     and not t.activated, 5, what="both edges to learn the new facts")
            assert table.max_words == 2  # an alias of two words is matched as such


def test_after_losing_its_connection_an_edge_has_everything_again(postgres_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=postgres_url)
    writer = open_store(settings)
    with edge(settings) as (table, feed):
        feed.retry_s = 0.2
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                          " WHERE application_name = 'tzurot route feed'")
        writer.put_route("alias", "missed", "Missed")  # while the feed may be down
        wait_for(lambda: feed.loads >= 2 and table.aliases.get("missed") == "Missed", 10,
                 what="the feed to reconnect and reload")


def test_a_fact_too_big_for_a_notification_is_read_from_its_row(postgres_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=postgres_url)
    writer = open_store(settings)
    with edge(settings) as (table, _):
        name = "N" * 9000
        writer.put_route("alias", "big", name)
        wait_for(lambda: table.aliases.get("big") == name, 5, what="the big fact to arrive")


def test_sqlite_needs_no_feed(tmp_path: Path) -> None:
    assert watch_routes(Settings(data_dir=tmp_path), lambda *fact: None) is None



def test_behind_pgbouncer_the_feed_listens_on_postgresql_itself(postgres_url: str, tmp_path: Path) -> None:
    if reason := pgbouncer.missing_reason():
        pytest.skip(reason)
    with pgbouncer.pgbouncer(postgres_url, pool_size=2) as bouncer:
        settings = Settings(data_dir=tmp_path, database_url=bouncer.url_for(postgres_url),
                            database_listen_url=postgres_url)
        writer = open_store(settings)
        writer.put_route("alias", "ada", "Ada")
        with edge(settings) as (table, _):
            assert table.aliases == {"ada": "Ada"}
            writer.put_route("webhook", 333, True)
            wait_for(lambda: 333 in table.webhooks, 5, what="the fact written through PgBouncer to arrive")


def test_a_listen_url_without_a_database_url_is_refused() -> None:
    with pytest.raises(config.ConfigError, match="TZUROT_DATABASE_LISTEN_URL"):
        config.load({"TZUROT_DATABASE_LISTEN_URL": "postgresql://u@127.0.0.1/db"})
    with pytest.raises(config.ConfigError, match="TZUROT_DATABASE_LISTEN_URL"):
        config.load({"TZUROT_DATABASE_URL": "postgresql://u@127.0.0.1/db", "TZUROT_DATABASE_LISTEN_URL": "http://x"})


def test_stopping_the_tree_stops_the_feed_first_and_the_actor_system_even_if_the_feed_fails() -> None:
    from edge.launch import Tree

    stopped: list[str] = []

    class Feed:
        def stop(self) -> None:
            stopped.append("feed")
            raise OSError("connection already gone")

    class Bridge:
        def stop(self) -> None:
            stopped.append("bridge")

    tree = Tree(Bridge(), None, None, None, Feed())  # type: ignore[arg-type]
    try:
        tree.stop()
    except OSError:
        pass
    assert stopped == ["feed", "bridge"]
