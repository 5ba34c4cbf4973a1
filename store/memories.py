"""Long-term memory: what a user and a personality said to each other, found again by full-text search.

A user's actor writes each answered exchange here and, before asking the model, looks for the few most
relevant to the new message (its "memory" service). No extra service is needed: SQLite's FTS5 ranks by BM25,
PostgreSQL by its own full-text search (`ts_rank_cd` over a generated `tsvector`, GIN-indexed). Both use no
stemming or stop words, so they find the same rows. Bounded: MEMORY_CAP rows per user and personality (the
oldest go first); a memory from a DM is only ever found again in DMs. Erasing overwrites (PostgreSQL) and
rebuilds the SQLite index, so forgotten words do not linger in its segments.
"""

from __future__ import annotations

import re
from typing import Any

MEMORY_CAP = 500  # memories per user and personality
QUERY_TERMS = 24  # words of the message searched for
_WORD = re.compile(r"\w+")
# Words that say nothing about what to find (English): a question is mostly made of them, and one rare in the
# store would otherwise outrank the words that matter.
_STOP = frozenset("""a about again all also am an and any are as at be been but by can could did do does for from
had has have he her him his how i if in into is it its just me my no not now of on or our she so than that the
their them then there they this to too up us was we were what when where which who why will with would you your
tell told know remember said say""".split())


def terms(text: str) -> list[str]:
    """The words to search for: lower-cased, two characters or more, not a stop word, each once, at most
    QUERY_TERMS."""
    words = (w for w in _WORD.findall(text.lower()) if len(w) > 1 and w not in _STOP)
    return list(dict.fromkeys(words))[:QUERY_TERMS]


class Memories:
    """The memory rows of one store (`store/base.py`: SQLite or PostgreSQL)."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.pg = store.backend == "postgresql"

    def add(self, user_id: int, personality: str, channel_id: int, private: bool, text: str, now: float,
            vector: bytes | None = None) -> int:
        """Remember `text` (with its embedding, when there is one); the oldest beyond MEMORY_CAP for this user
        and personality is forgotten. Its id."""
        s = self.store
        with s._transaction():
            if self.pg:
                row = s.execute("INSERT INTO memories(user_id, personality, channel_id, private, text, created, vector)"
                                " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                                (user_id, personality, channel_id, private, text, now, vector)).fetchone()
                mid = int(row[0])
            else:
                cur = s.execute("INSERT INTO memories(user_id, personality, channel_id, private, text, created, vector)"
                                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                                (user_id, personality, channel_id, int(private), text, now, vector))
                mid = int(cur.lastrowid)
                s.execute("INSERT INTO memories_fts(rowid, text) VALUES (?, ?)", (mid, text))
            old = s.execute("SELECT id FROM memories WHERE user_id=? AND personality=? ORDER BY id DESC"
                            " LIMIT 1 OFFSET ?", (user_id, personality, MEMORY_CAP)).fetchone()
            if old is not None:
                self._erase("user_id=? AND personality=? AND id<=?", (user_id, personality, int(old[0])))
        return mid

    def search(self, user_id: int, personality: str, query: str, private: bool,
               limit: int) -> list[tuple[int, str, float]]:
        """The memories most relevant to `query`, best first: (id, text, created). DM memories only when
        `private` (the question is asked in a DM)."""
        words = terms(query)
        if not words or limit <= 0:
            return []
        if self.pg:
            sql = ("SELECT id, text, created FROM memories, to_tsquery('simple', ?) q WHERE user_id=? AND"
                   " personality=? AND (NOT private OR ?) AND tsv @@ q ORDER BY ts_rank_cd(tsv, q) DESC, id DESC"
                   " LIMIT ?")
            args: tuple[Any, ...] = (" | ".join(words), user_id, personality, private, limit)
        else:
            sql = ("SELECT m.id, m.text, m.created FROM memories_fts JOIN memories m ON m.id = memories_fts.rowid"
                   " WHERE memories_fts MATCH ? AND m.user_id=? AND m.personality=? AND (m.private=0 OR ?)"
                   " ORDER BY bm25(memories_fts), m.id DESC LIMIT ?")
            args = (" OR ".join(f'"{w}"' for w in words), user_id, personality, int(private), limit)
        return [(int(i), str(t), float(c)) for i, t, c in self.store.execute(sql, args).fetchall()]

    def vectors(self, user_id: int, personality: str, private: bool) -> list[tuple[int, str, float, bytes]]:
        """Every memory of this user and personality that has an embedding: (id, text, created, vector)."""
        private_sql = "(NOT private OR ?)" if self.pg else "(private=0 OR ?)"
        rows = self.store.execute("SELECT id, text, created, vector FROM memories WHERE user_id=? AND personality=?"
                                  f" AND {private_sql} AND vector IS NOT NULL",
                                  (user_id, personality, private if self.pg else int(private))).fetchall()
        return [(int(i), str(t), float(c), bytes(v)) for i, t, c, v in rows]

    def list(self, user_id: int, limit: int = 1_000_000) -> list[dict[str, Any]]:
        """A user's memories, newest first (what `memory list` and `data export` show)."""
        rows = self.store.execute("SELECT id, personality, channel_id, private, text, created FROM memories"
                                  " WHERE user_id=? ORDER BY id DESC LIMIT ?", (user_id, limit)).fetchall()
        return [{"id": int(i), "personality": p, "channel_id": int(c), "private": bool(v), "text": t,
                 "created": float(at)} for i, p, c, v, t, at in rows]

    def forget(self, user_id: int, memory_id: int | None = None) -> int:
        """Erase one memory of this user (`memory_id`), or all of them; how many were erased."""
        if memory_id is None:
            return self._erase("user_id=?", (user_id,), compact=True)
        return self._erase("user_id=? AND id=?", (user_id, memory_id))

    def rows(self) -> list[tuple[Any, ...]]:
        """Every memory as (user_id, personality, channel_id, private, text, created, vector), oldest first: what
        `bot.py migrate` copies (ids are the target's own; the embedding, when there is one, comes along)."""
        rows = self.store.execute("SELECT user_id, personality, channel_id, private, text, created, vector"
                                  " FROM memories ORDER BY id").fetchall()
        return [(int(u), str(p), int(c), bool(v), str(t), float(at), None if vec is None else bytes(vec))
                for u, p, c, v, t, at, vec in rows]

    def put_row(self, row: tuple[Any, ...]) -> bool:
        """Copy one memory unless the same one (user, personality, time, text) is there already."""
        user_id, personality, channel_id, private, text, created, vector = row
        if self.store.execute("SELECT 1 FROM memories WHERE user_id=? AND personality=? AND created=? AND text=?",
                              (user_id, personality, created, text)).fetchone():
            return False
        self.add(user_id, personality, channel_id, private, text, created, vector)
        return True

    def forget_user(self, user_id: int) -> int:
        """`data delete`: every memory of this user, their messages kept in the work table once answered (with
        their text), and any copy of their row set aside as unreadable. How many memories were erased."""
        gone = self.forget(user_id)
        s = self.store
        with s._transaction():
            if self.pg:
                s.execute("UPDATE work SET incoming='' WHERE user_id=? AND state != 'open'", (user_id,))
                s.execute("UPDATE quarantine SET data='' WHERE kind='user' AND key=?", (str(user_id),))
            s.execute("DELETE FROM work WHERE user_id=? AND state != 'open'", (user_id,))
            s.execute("DELETE FROM quarantine WHERE kind='user' AND key=?", (str(user_id),))
        return gone

    def _erase(self, where: str, args: tuple[Any, ...], compact: bool = False) -> int:
        s = self.store
        with s._transaction():
            if self.pg:  # the nearest thing PostgreSQL has to secure_delete (see README: Deleting on PostgreSQL)
                s.execute(f"UPDATE memories SET text='' WHERE {where}", args)
            else:
                for mid, text in s.execute(f"SELECT id, text FROM memories WHERE {where}", args).fetchall():
                    s.execute("INSERT INTO memories_fts(memories_fts, rowid, text) VALUES ('delete', ?, ?)",
                              (mid, text))
            gone = int(s.execute(f"DELETE FROM memories WHERE {where}", args).rowcount)
            if compact and gone and not self.pg:
                s.execute("INSERT INTO memories_fts(memories_fts) VALUES ('optimize')")
        return gone


class MemoryList:
    """The same interface over a list, for a store kept in memory (tests of one actor, the tests' world): ranked
    by how many of the query's words a memory holds, newest first among equals."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.next_id = 1

    def add(self, user_id: int, personality: str, channel_id: int, private: bool, text: str, now: float,
            vector: bytes | None = None) -> int:
        mid, self.next_id = self.next_id, self.next_id + 1
        self.rows.append({"id": mid, "user_id": user_id, "personality": personality, "channel_id": channel_id,
                          "private": bool(private), "text": text, "created": now, "vector": vector})
        mine = [r for r in self.rows if r["user_id"] == user_id and r["personality"] == personality]
        for old in mine[: max(0, len(mine) - MEMORY_CAP)]:
            self.rows.remove(old)
        return mid

    def search(self, user_id: int, personality: str, query: str, private: bool,
               limit: int) -> list[tuple[int, str, float]]:
        words = set(terms(query))
        scored = [(len(words & set(terms(r["text"]))), r) for r in self.rows if r["user_id"] == user_id
                  and r["personality"] == personality and (private or not r["private"])]
        best = sorted((s for s in scored if s[0]), key=lambda s: (-s[0], -s[1]["id"]))[:max(0, limit)]
        return [(r["id"], r["text"], r["created"]) for _, r in best]

    def vectors(self, user_id: int, personality: str, private: bool) -> list[tuple[int, str, float, bytes]]:
        return [(r["id"], r["text"], r["created"], r["vector"]) for r in self.rows if r["user_id"] == user_id
                and r["personality"] == personality and (private or not r["private"]) and r["vector"]]

    def list(self, user_id: int, limit: int = 1_000_000) -> list[dict[str, Any]]:
        rows = [{k: v for k, v in r.items() if k not in ("user_id", "vector")} for r in reversed(self.rows)
                if r["user_id"] == user_id]
        return rows[:limit]

    def forget_user(self, user_id: int) -> int:
        return self.forget(user_id)

    def forget(self, user_id: int, memory_id: int | None = None) -> int:
        gone = [r for r in self.rows if r["user_id"] == user_id and memory_id in (None, r["id"])]
        for row in gone:
            self.rows.remove(row)
        return len(gone)


def memories_for(store: Any) -> Memories | MemoryList:
    """The memory rows of `store`: its tables, or (a store kept in memory) a list of its own."""
    if hasattr(store, "execute"):
        return Memories(store)
    if not hasattr(store, "memories"):
        store.memories = MemoryList()
    return store.memories
