"""Counting answers for the crash benchmarks: every message tagged, every bot message searched for its tag.

A user's lines sent while their turn is answered are merged into one turn, answered once (actors/state/user.py).
The answer identifies the messages it answers three ways: the work row of each is closed with the answer's
Discord message id (`work.reply_id`), the `answered` line of the events log lists their ids, and the AI
emulator quotes every line of the turn it was asked about, so the answer's text carries each line's tag. The
tally reads the text: a merged answer counts once for each message it merged. A message whose tag is in no
answer is lost; one whose tag is in two answers was answered twice (alone and merged, say): duplicated.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from typing import Any

from testkit.stack import Stack


class Talk:
    """Users sending tagged messages at random intervals until told to stop; remembers what was sent."""

    def __init__(self, stack: Stack, users: list[str], rooms: list[int], every: tuple[float, float],
                 text: str = "@echo {tag}", first_tag: int = 0) -> None:
        self.stack, self.users, self.rooms, self.every, self.text = stack, users, rooms, every, text
        self.first_tag = first_tag  # a second talk in the same channels numbers its tags after the first's
        self.sent: dict[str, int] = {}
        self.failed_posts = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> Talk:
        for n, user in enumerate(self.users):
            thread = threading.Thread(target=self._talk, args=(n, user), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def _talk(self, n: int, user: str) -> None:
        rng = random.Random(n)
        k = 0
        while not self._stop.wait(rng.uniform(*self.every)):
            tag = f"tag{self.first_tag + n * 100_000 + k}"
            try:
                self.sent[tag] = self.stack.sandbox.post(rng.choice(self.rooms), user, self.text.format(tag=tag))
            except Exception:  # the emulator is ours and stays up; count rather than die
                self.failed_posts += 1
            k += 1

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def finish(self, since: int, limit_s: float = 120.0) -> dict[str, Any]:
        """Stop talking, wait until every message is answered (or nothing more comes), and count them."""
        self.stop()
        return summary(self.sent, wait_for_quiet(self.stack, self.rooms, self.sent, since, limit_s))


def tally(stack: Stack, rooms: list[int], sent: dict[str, int], since: int) -> Counter[str]:
    """How many bot messages carry each tag."""
    counts: Counter[str] = Counter()
    for room in rooms:
        for message in stack.sandbox.replies(room, since):
            for word in set(message["content"].replace(":", " ").split()):
                if word in sent:
                    counts[word] += 1
    return counts


def wait_for_quiet(stack: Stack, rooms: list[int], sent: dict[str, int], since: int, limit_s: float) -> Counter[str]:
    """Wait until every message is answered, or nothing new was answered for a while (then count)."""
    deadline, last_change, last = time.monotonic() + limit_s, time.monotonic(), -1
    while True:
        counts = tally(stack, rooms, sent, since)
        answered = sum(1 for tag in sent if counts[tag] > 0)
        if answered != last:
            last, last_change = answered, time.monotonic()
        if answered == len(sent) or time.monotonic() > deadline or time.monotonic() - last_change > 45:
            return counts
        time.sleep(1.0)


def turns(stack: Stack, rooms: list[int], sent: dict[str, int], since: int) -> Counter[int]:
    """How many answers quote 1, 2, ... of the sent messages (more than one: a merged turn)."""
    sizes: Counter[int] = Counter()
    for room in rooms:
        for message in stack.sandbox.replies(room, since):
            tags = {word for word in message["content"].replace(":", " ").split() if word in sent}
            if tags:
                sizes[len(tags)] += 1
    return sizes


def summary(sent: dict[str, int], counts: Counter[str], sizes: Counter[int] | None = None) -> dict[str, Any]:
    figures = {
        "sent": len(sent),
        "answered_once": sum(1 for tag in sent if counts[tag] == 1),
        "lost": sum(1 for tag in sent if counts[tag] == 0),
        "duplicated": sum(1 for tag in sent if counts[tag] > 1),
    }
    if sizes is not None:
        figures["answers"] = sum(sizes.values())
        figures["merged_answers"] = sum(n for size, n in sizes.items() if size > 1)
    return figures
