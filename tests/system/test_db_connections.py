"""PostgreSQL connections that scale with actors: the real tree on multiprocTCPBase, on a fresh database.

An operator counting `pg_stat_activity` sees a connection for an actor process only while it works: an idle
actor's connection goes away while the actor lives on, and comes back when it is used. Behind PgBouncer in
transaction mode with a pool of 2, PostgreSQL sees at most 2 connections however many actors work at once.
"""

from __future__ import annotations

import threading

import psycopg
import pytest

from actors.kinds import Kind
from actors.messages import GetUserSettings, SetAutorespond
from supervision.procs import pid_alive
from testkit import pgbouncer
from testkit.process import wait_for

USERS = (11, 12, 13, 14, 15, 16)


@pytest.fixture(autouse=True)
def store_backend() -> str:
    return "postgresql"  # make_tree gives each tree the test's fresh database


def _sessions(url: str) -> list[str]:
    """application_name of every other session on the database."""
    with psycopg.connect(url, autocommit=True) as admin:
        rows = admin.execute("SELECT application_name FROM pg_stat_activity WHERE datname = current_database()"
                             " AND pid <> pg_backend_pid()").fetchall()
    return [r[0] for r in rows]


@pytest.mark.slow  # over 7 s: make test stays under 8 minutes
def test_idle_actors_release_their_connections_and_take_one_again_on_use(make_tree, postgres_url: str) -> None:
    tree = make_tree({"TZUROT_DATABASE_IDLE_S": "3", "TZUROT_IDLE_PASSIVATE_S": "600"})
    for uid in USERS:
        assert tree.ask(Kind.USER, uid, SetAutorespond(uid, True)).autorespond is True
    pids = {uid: tree.child(str(uid)).pid for uid in USERS}
    named = {uid: f"tzurot pid {pid}" for uid, pid in pids.items()}
    assert set(named.values()) <= set(_sessions(postgres_url))  # one connection per working actor process

    wait_for(lambda: not set(named.values()) & set(_sessions(postgres_url)), 15,
             what="every idle actor's connection to close")
    assert all(pid_alive(pid) for pid in pids.values())  # the actors live on without one

    assert tree.ask(Kind.USER, USERS[0], SetAutorespond(USERS[0], False)).autorespond is False  # a save
    assert tree.child(str(USERS[0])).pid == pids[USERS[0]]
    assert named[USERS[0]] in _sessions(postgres_url)  # the used one connected again; the others did not
    assert not {named[uid] for uid in USERS[1:]} & set(_sessions(postgres_url))
    wait_for(lambda: named[USERS[0]] not in _sessions(postgres_url), 15, what="it to be released again")


def test_through_pgbouncer_the_tree_uses_at_most_the_pool(make_tree, postgres_url: str) -> None:
    if reason := pgbouncer.missing_reason():
        pytest.skip(reason)
    with pgbouncer.pgbouncer(postgres_url, pool_size=2) as bouncer:
        tree = make_tree({"TZUROT_DATABASE_URL": bouncer.url_for(postgres_url)})
        most, done = [0], threading.Event()

        def sample() -> None:
            while not done.is_set():
                most[0] = max(most[0], len(_sessions(postgres_url)))
                done.wait(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            for uid in USERS:
                assert tree.ask(Kind.USER, uid, SetAutorespond(uid, True)).autorespond is True
            for uid in USERS:
                assert tree.ask(Kind.USER, uid, GetUserSettings(uid)).autorespond is True
            live = [tree.child(str(uid)).pid for uid in USERS]
        finally:
            done.set()
            sampler.join(5)
    assert len(set(live)) == len(USERS)  # six actor processes, each with its own client connection
    assert 1 <= most[0] <= 2  # PostgreSQL saw PgBouncer's pool, never more
