"""Message splitting, legal webhook usernames and the cross-process request budget."""

from __future__ import annotations

import os
import time

import pytest

from actors.state.discord_text import LIMIT, legal_username, split_message
from discord_rest.gate import GlobalGate


def test_short_text_is_one_message_and_blank_is_none() -> None:
    assert split_message("hello") == ["hello"]
    assert split_message("   \n ") == []
    assert split_message("a" * LIMIT) == ["a" * LIMIT]


def test_4500_characters_become_three_messages_on_paragraphs() -> None:
    para = ("This is a sentence. " * 44).strip()  # 879 characters
    text = "\n\n".join([para] * 5)  # 4,403 characters
    chunks = split_message(text)
    assert len(chunks) == 3
    assert all(len(c) <= LIMIT for c in chunks)
    assert all(c.endswith(".") for c in chunks)  # cut between paragraphs, never mid-sentence
    assert "\n\n".join(chunks) == text


def test_falls_back_to_lines_then_sentences_then_words_then_hard() -> None:
    lines = "\n".join(["word " * 30] * 30)
    assert all(not c.startswith(" ") and len(c) <= LIMIT for c in split_message(lines))
    sentences = "Short one. " * 300
    assert all(c.endswith(".") for c in split_message(sentences))
    words = "word " * 1000
    assert all(c.endswith("word") for c in split_message(words))
    assert [len(c) for c in split_message("x" * 4500)] == [2000, 2000, 500]


def test_exactly_2000_and_2001_characters() -> None:
    assert len(split_message("y" * 2000)) == 1
    assert [len(c) for c in split_message("y" * 2001)] == [2000, 1]


def test_no_text_is_lost_with_emoji_and_right_to_left() -> None:
    text = ("مرحبا 👋🏽 שלום \u200b" * 300).strip()
    chunks = split_message(text)
    assert all(len(c) <= LIMIT for c in chunks)
    assert "".join(chunks).replace(" ", "") == text.replace(" ", "")


@pytest.mark.parametrize(
    ("name", "bad"),
    [("Clyde", "clyde"), ("my discord bot", "discord"), ("DISCORD", "discord")],
)
def test_reserved_words_are_defused(name: str, bad: str) -> None:
    assert bad not in legal_username(name).lower()


def test_usernames_are_legal() -> None:
    assert legal_username("everyone").lower() != "everyone"
    assert legal_username("here").lower() != "here"
    assert len(legal_username("n" * 200)) == 80
    cleaned = legal_username("a@b#c:d ```x```")
    assert not set("@#:") & set(cleaned) and "```" not in cleaned
    assert legal_username("   ") == "Personality"
    assert legal_username("Ada Lovelace") == "Ada Lovelace"


def test_gate_grants_the_burst_then_asks_to_wait(tmp_path) -> None:
    gate = GlobalGate(tmp_path / "gate", rate=10, burst=3)
    now = 1000.0
    assert [gate.acquire(now) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert gate.acquire(now) == pytest.approx(0.1)
    assert gate.acquire(now + 0.1) == 0.0


def test_global_pause_stops_everyone_until_it_ends(tmp_path) -> None:
    gate = GlobalGate(tmp_path / "gate", rate=10, burst=3)
    other_process_view = GlobalGate(tmp_path / "gate", rate=10, burst=3)
    now = time.time()
    gate.pause_until(now + 2.0)
    assert other_process_view.acquire(now) == pytest.approx(2.0, abs=0.01)
    assert other_process_view.acquire(now + 2.5) == 0.0


def test_budget_is_shared_across_processes(tmp_path) -> None:
    path = tmp_path / "gate"
    rate, burst, seconds, workers = 50.0, 5.0, 1.0, 4
    start = time.time() + 0.05
    pids = []
    for w in range(workers):
        pid = os.fork()
        if pid == 0:
            gate, granted = GlobalGate(path, rate, burst), 0
            while time.time() < start:
                pass
            while time.time() < start + seconds:
                if gate.acquire() == 0.0:
                    granted += 1
            with open(tmp_path / f"w{w}", "w") as fh:
                fh.write(str(granted))
            os._exit(0)
        pids.append(pid)
    for pid in pids:
        os.waitpid(pid, 0)
    total = sum(int((tmp_path / f"w{w}").read_text()) for w in range(workers))
    assert total <= rate * seconds + burst + 1  # never more than the budget, whatever the process count
    assert total >= rate * seconds * 0.5  # and the budget is actually usable
