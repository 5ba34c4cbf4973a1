"""A channel's outbox: one queue per user, served in turns, so one long answer cannot hold a channel.

Each chunk has an id made of the triggering message id and its index: a chunk that was already sent (or is
already queued) is never queued again, which makes a redelivered or repeated `Speak` harmless. The first chunk of
a merged turn's answer carries the ids of every message it answers: its send closes the work of each.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import asdict, dataclass, field, replace
from typing import Any

USER_QUEUE_CAP = 50  # chunks waiting for one user
TOTAL_CAP = 500  # chunks waiting in one channel
DONE_CAP = 1000  # chunk ids remembered as sent
REPLY_MAP_CAP = 1000  # our messages remembered, for replies to them


@dataclass
class Chunk:
    id: str  # "<trigger message id>:<index>"
    user_id: int
    name: str
    display_name: str
    avatar_url: str | None
    text: str
    trigger_id: int
    attempts: int = 0
    replaced_webhook: bool = False
    as_bot: bool = False  # the bot's own words (command answers, hints): plain message, no webhook
    file_name: str = ""
    file_text: str = ""
    created_at: float = 0.0  # the triggering message's time
    answers: list[int] = field(default_factory=list)  # a merged turn's messages (on its first chunk); []: trigger_id
    # A slash command's answer: [application id, interaction token, ephemeral]; sent to the interaction.
    interaction: list[Any] | None = field(default=None, repr=False)

    @property
    def answered(self) -> list[int]:
        """The messages whose work this chunk's send completes (when it is the first of its answer)."""
        return list(self.answers) or [self.trigger_id]


@dataclass
class Outbox:
    queues: OrderedDict[int, deque[Chunk]] = field(default_factory=OrderedDict)  # user id -> chunks; next first
    done: OrderedDict[str, int] = field(default_factory=OrderedDict)  # chunk id -> Discord message id
    last_user: int | None = None  # served most recently

    def __len__(self) -> int:
        return sum(len(q) for q in self.queues.values())

    def add(self, chunk: Chunk) -> str | None:
        """Queue a chunk; returns why it was refused (full), or None. Known chunks are skipped silently."""
        if chunk.id in self.done or any(c.id == chunk.id for q in self.queues.values() for c in q):
            return None
        queue = self.queues.get(chunk.user_id)
        if queue is not None and len(queue) >= USER_QUEUE_CAP:
            return "user queue full"
        if len(self) >= TOTAL_CAP:
            return "channel outbox full"
        queue = self.queues.setdefault(chunk.user_id, deque())
        # A user's answers go out in the order of the messages they answer, whatever order they reached us in
        # (Thespian can deliver two messages between the same actors out of order when a send is retried): a new
        # answer goes before the first later answer that has not begun, never into the middle of one.
        at = next((i for i, c in enumerate(queue) if c.trigger_id > chunk.trigger_id and _starts_answer(c)), None)
        if at is None or not _starts_answer(chunk):
            queue.append(chunk)
        else:
            queue.insert(at, chunk)
        return None

    def peek(self) -> Chunk | None:
        """The chunk whose turn it is: the head of the queue of the user who waited longest.

        The user served last goes after everyone else, even one who arrived after that send began.
        """
        fallback = None
        for user_id, queue in self.queues.items():
            if queue:
                if user_id != self.last_user:
                    return queue[0]
                fallback = fallback or queue[0]
        return fallback

    def split_head(self, chunk_id: str, parts: list[str]) -> None:
        """Replace the head chunk by several smaller ones, in place (it must go out in pieces)."""
        for queue in self.queues.values():
            if queue and queue[0].id == chunk_id and len(parts) > 1:
                head = queue.popleft()
                pieces = [replace(head, id=chunk_id if i == 0 else f"{chunk_id}.{i}", text=text)
                          for i, text in enumerate(parts)]
                queue.extendleft(reversed(pieces))
                return

    def find(self, chunk_id: str) -> Chunk | None:
        """The chunk with this id if it is at the head of its user's queue (only heads are ever sent)."""
        for queue in self.queues.values():
            if queue and queue[0].id == chunk_id:
                return queue[0]
        return None

    def finish(self, chunk_id: str, message_id: int | None) -> Chunk | None:
        """Drop the chunk at the head (sent, or given up) and give the next user the turn."""
        for user_id, queue in self.queues.items():
            if queue and queue[0].id == chunk_id:
                chunk = queue.popleft()
                del self.queues[user_id]
                self.last_user = user_id
                if queue:
                    self.queues[user_id] = queue  # to the back of the line
                if message_id is not None:
                    self.done[chunk_id] = message_id
                    while len(self.done) > DONE_CAP:
                        self.done.popitem(last=False)
                return chunk
        return None

    def snapshot(self) -> dict[str, Any]:
        return {
            "queues": [[uid, [asdict(c) for c in q]] for uid, q in self.queues.items() if q],
            "done": [[cid, mid] for cid, mid in self.done.items()],
        }

    @classmethod
    def restore(cls, data: dict[str, Any] | None) -> Outbox:
        box = cls()
        if data:
            for uid, chunks in data.get("queues", []):
                box.queues[int(uid)] = deque(Chunk(**c) for c in chunks)
            box.done = OrderedDict((str(c), int(m)) for c, m in data.get("done", []))
        return box


class ReplyMap(OrderedDict[int, str]):
    """Our messages in a channel -> the personality that spoke each (a reply to one is for it), the newest
    REPLY_MAP_CAP. Filled by the sender as chunks go out, and by the edge for messages it saw us send."""

    def remember(self, message_id: int, personality: str) -> bool:
        """True when this is new (the state changed)."""
        if self.get(message_id) == personality:
            return False
        self[message_id] = personality
        while len(self) > REPLY_MAP_CAP:
            self.popitem(last=False)
        return True


def _starts_answer(chunk: Chunk) -> bool:
    """The first part of an answer or notice (ids `<trigger>:0`, `n<trigger>:0`), not a continuation."""
    return chunk.id.endswith(":0")
