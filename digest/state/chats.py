"""Each reader's chat messages (digest.channels.chats): one a delivered digest and chat URL,
pending until its receiver took it, then sent or failed; claimed by the worker sending it, as
a digest of the outbox is (`Outbox.claim`), so that of several services one sends it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from digest.state.base import now
from digest.state.dialect import Part, text
from digest.state.outbox import attempted, due, due_at

CHATS = 1  # the queue of the chats' claims (0: the outbox's digests)

_COLUMNS = "c.id, c.digest_id, r.key, c.target, c.shown, c.title, c.body, c.attempts"
_JOINED = "chats c JOIN digests d ON d.id = c.digest_id JOIN readers r ON r.id = d.reader_id"
_DUE = due("c")  # the pending chats due at a time, as the outbox's digests


@dataclass(frozen=True, slots=True)
class Chat:
    """One chat message of a reader's delivered digest, for one of their chat URLs."""

    id: int
    digest_id: int
    reader_key: str  # the reader's address in its one form, as the readers file gives it
    target: str  # which of the reader's URLs: its SHA-256 (the URL itself is not kept)
    shown: str  # the URL as it may be shown
    title: str
    body: str
    attempts: int = 0


class Chats(Part):
    """The chat messages of delivered digests, pending, sent or failed."""

    def _try_claim(self, item: int, queue: int = 0) -> bool:
        """Claim this item of a queue (0: digests; CHATS) unless another worker holds it."""
        raise NotImplementedError

    def _let_go(self, item: int | None = None, queue: int = 0) -> None:
        """Let go of this item's claim (None: of every claim this store holds)."""
        raise NotImplementedError

    def add_chats(
        self, digest_id: int, title: str, body: str, targets: Sequence[tuple[str, str]]
    ) -> list[int]:
        """Record a delivered digest's chat message as pending for each of these targets
        (the URL's SHA-256, and how it is shown), in one transaction; one the digest has
        already is left as it is. Returns the ids of those recorded now."""
        when, added = now(), []
        with self.transaction() as tx:
            for target, shown in targets:
                row = tx.execute(
                    "INSERT INTO chats (digest_id, target, shown, title, body, status,"
                    " created_at) VALUES (?, ?, ?, ?, ?, 'pending', ?)"
                    " ON CONFLICT (digest_id, target) DO NOTHING RETURNING id",
                    (digest_id, target, shown, title, body, when),
                ).fetchone()
                if row is not None:
                    added.append(int(row[0]))
        return added

    def chats_due(self, due: datetime | None = None) -> list[int]:
        """The pending chats due at `due` (None: every pending one), oldest first, by id."""
        pending, args = _pending(due)
        sql = f"SELECT c.id FROM chats c WHERE {pending} ORDER BY c.id LIMIT 100"
        return [r[0] for r in self.rows(sql, args)]

    def claim_chat(self, chat_id: int, due: datetime | None = None) -> Chat | None:
        """Take a pending chat (due at `due`, when given) for sending unless another worker
        holds it, held as `Outbox.claim` holds a digest; None when it is not to be sent
        (another holds it, or it was sent, failed or tried since it was read)."""
        self._let_go()
        if not self._try_claim(chat_id, CHATS):
            return None
        pending, args = _pending(due)
        sql = f"SELECT {_COLUMNS} FROM {_JOINED} WHERE c.id = ? AND {pending}"
        rows = self.rows(sql, [chat_id, *args])
        if not rows:
            self._let_go(chat_id, CHATS)
            return None
        return Chat(*rows[0])

    def let_go_of_chats(self) -> None:
        """Let go of the claim this store holds (a worker done sending for now), so that
        another may send a chat that stays pending, once it is due."""
        self._let_go()

    def chat_attempt(self, chat_id: int, retry_at: datetime) -> int:
        """Record, before a chat is sent, that it is tried (as `Outbox.attempt` does): none
        again before `retry_at` unless its outcome is recorded. Returns how many attempts in
        a row before this one ended with no outcome recorded."""
        with self.transaction() as tx:
            return attempted(tx, "chats", chat_id, retry_at)

    def chat_sent(self, chat_id: int) -> None:
        """The receiver took the chat: it is sent, and its message is not kept."""
        self._chat_set(
            "status = 'sent', sent_at = ?, last_error = NULL, title = NULL, body = NULL",
            (now(),),
            chat_id,
        )

    def chat_retry(self, chat_id: int, error: str, retry_at: datetime) -> None:
        """The chat failed for now: it stays pending, to be tried again from `retry_at`."""
        self._chat_set("last_error = ?, next_attempt_at = ?", (error, text(retry_at)), chat_id)

    def chat_failed(self, chat_id: int, error: str) -> None:
        """The chat was refused for good (or cannot be sent): it is never tried again."""
        self._chat_set(
            "status = 'failed', last_error = ?, title = NULL, body = NULL", (error,), chat_id
        )

    def chat_counts(self) -> dict[str, int]:
        """How many chats are pending (to be tried again) and failed for good."""
        (row,) = self.rows(
            "SELECT count(*) FILTER (WHERE status = 'pending'),"
            " count(*) FILTER (WHERE status = 'failed') FROM chats"
        )
        return {"pending": int(row[0]), "failed": int(row[1])}

    def _chat_set(self, changes: str, args: Sequence[object], chat_id: int) -> None:
        """Record a chat's outcome: `changes`, and that no attempt is left without one."""
        with self.transaction() as tx:
            tx.execute(f"UPDATE chats SET {changes}, unrecorded = 0 WHERE id = ?", (*args, chat_id))


def _pending(at: datetime | None) -> tuple[str, list[object]]:
    """Which chats are pending (and due at `at`, when given): a condition and its values."""
    if at is None:
        return "c.status = 'pending'", []
    return _DUE, list(due_at(at))
