"""The outbox: rendered digests, pending, sent or failed, exactly as delivered; the claims of
the workers that deliver them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from digest.errors import StoreError
from digest.models import Outgoing
from digest.state.base import LONGEST_BACKOFF, now
from digest.state.catalogue import count
from digest.state.dialect import Part, text
from digest.state.packing import Dictionary, alone, dictionary, pack, raw, unraw
from digest.state.rows import (
    DESCRIBED,
    OUTCOME,
    contents,
    described,
    envelope_text,
    letter_row,
    outbox,
    parts_text,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from digest.models import Base
    from digest.state.dialect import Row, Tx


def due(alias: str = "") -> str:
    """The pending rows due at a time, of the outbox or of any queue tried as it is (a
    reader's chats), `alias` naming the table in a join: the time, then that time plus the
    longest backoff (a retry set further ahead means the clock was turned back since: due
    now). Its values: `due_at`."""
    at = f"{alias}." if alias else ""
    return (
        f"{at}status = 'pending' AND ({at}next_attempt_at IS NULL OR {at}next_attempt_at <= ?"
        f" OR {at}next_attempt_at > ?)"
    )


DUE = due()


def due_at(due: datetime) -> tuple[str, str]:
    """The values of `due()` for the time `due`."""
    return text(due), text(due + LONGEST_BACKOFF)


def attempted(tx: Tx, table: str, row_id: int, retry_at: datetime) -> int:
    """Record, before a delivery from a queue (`table`: digests, chats), that it is tried:
    one more attempt, whose outcome is unknown until it is recorded, and none again before
    `retry_at` unless it is. How many attempts in a row before it ended with no outcome."""
    row = tx.execute(
        f"UPDATE {table} SET attempts = attempts + 1, unrecorded = unrecorded + 1,"
        " next_attempt_at = ? WHERE id = ? RETURNING unrecorded - 1",
        (text(retry_at), row_id),
    ).fetchone()
    return int(row[0]) if row else 0


class Outbox(Part):
    """Rendered digests, pending, sent or failed, exactly as delivered.

    A worker claims a digest before it delivers it; how a claim is held is the backend's
    (`_try_claim`, `_let_go`): it ends when the store claims another or closes, or its
    process dies, so a worker killed mid-delivery lets go at once."""

    def _try_claim(self, digest_id: int) -> bool:
        """Claim this digest unless another worker holds it."""
        raise NotImplementedError

    def _let_go(self, digest_id: int | None = None) -> None:
        """Let go of this digest's claim (None: of every claim this store holds)."""
        raise NotImplementedError

    def outgoing(
        self, *, status: str, due: datetime | None = None, bare: bool = False
    ) -> list[Outgoing]:
        """Digests with this status, oldest first; with `due`, only those due for a retry;
        `bare`, without their renderings and message."""
        sql = f"SELECT {DESCRIBED if bare else '*'} FROM digests WHERE status = ?"
        args: list[object] = [status]
        if due is not None:
            sql, args = sql + f" AND {DUE}", [*args, *due_at(due)]
        return self._outbox(self.rows(sql + " ORDER BY id", args), bare)

    def _due(self, due: datetime, digest_id: int | None = None) -> list[int]:
        """The pending digests due at `due`, oldest first, by id (or this one, if it is)."""
        sql, args = f"SELECT id FROM digests WHERE {DUE}", list[object](due_at(due))
        if digest_id is not None:
            sql, args = sql + " AND id = ?", [*args, digest_id]
        return [r[0] for r in self.rows(sql + " ORDER BY id LIMIT 100", args)]

    def _outbox(self, rows: list[Row], bare: bool = False) -> list[Outgoing]:
        """The digests of these rows, each shared rendering read once; `bare`, described."""
        if bare:
            return [described(row) for row in rows]
        return outbox(
            rows,
            lambda ids: self.rows_in("SELECT * FROM letters WHERE id IN (?*)", ids),
            self._base,
        )

    def _base(self, key: str) -> Dictionary:
        """A run's base rendering, by its key; read once while it is in use."""

        def read() -> bytes:
            found = self.rows("SELECT packed FROM letters WHERE key = ?", (key,))
            if not found:
                raise StoreError(f"the state lacks the base rendering {key} of a digest")
            return unraw(found[0][0])

        return dictionary(key, read)

    def get(self, digest_id: int) -> Outgoing | None:
        """One digest of the outbox by id."""
        if not 0 < digest_id < 2**63:  # no row has it, and the database cannot even look
            return None
        return next(
            iter(self._outbox(self.rows("SELECT * FROM digests WHERE id = ?", (digest_id,)))), None
        )

    def recent(self, limit: int = 10, *, bare: bool = False) -> list[Outgoing]:
        """The most recent digests of any status, newest first; `bare`, described."""
        sql = f"SELECT {DESCRIBED if bare else '*'} FROM digests ORDER BY id DESC LIMIT ?"
        return self._outbox(self.rows(sql, (limit,)), bare)

    def claim(self, digest_id: int) -> bool:
        """Take a pending digest for delivery unless another worker holds it: held until this
        store claims another or closes, or its process dies. A worker delivers one digest
        at a time, so asking for the next means it is done with the last."""
        self._let_go()
        return self._hold(digest_id, None)

    def claim_due(self, due: datetime) -> Outgoing | None:
        """Take the oldest pending digest due at `due` that no worker holds, held as `claim`
        holds it: those another worker holds are skipped, not waited for."""
        self._let_go()
        for digest_id in self._due(due):
            if self._hold(digest_id, due):
                return self.get(digest_id)
        return None

    def _hold(self, digest_id: int, due: datetime | None) -> bool:
        """Lock this digest's claim and check that it is still pending (and due): its holder
        may have delivered it and let go since it was read."""
        if not self._try_claim(digest_id):
            return False
        if due is not None:
            pending = bool(self._due(due, digest_id))
        else:
            sql = "SELECT 1 FROM digests WHERE id = ? AND status = 'pending'"
            pending = bool(self.rows(sql, (digest_id,)))
        if not pending:
            self._let_go(digest_id)
        return pending

    def mark_sent(
        self, digest_id: int, note: str | None = None, at: datetime | None = None
    ) -> None:
        """The digest was delivered (`at`, by default now): it is sent and its papers are
        seen. `note` says how."""
        with self.transaction() as tx:
            tx.execute(
                "UPDATE digests SET status = 'sent', sent_at = ?, last_error = NULL,"
                f" lease_until = NULL, {OUTCOME}, delivery_note = ? WHERE id = ?",
                (text(at) if at else now(), note, digest_id),
            )
            sql = (
                "UPDATE papers SET seen = 1 WHERE seen = 0 AND seq > (SELECT after_seq FROM"
                " digests WHERE id = ?) AND seq <= (SELECT upto_seq FROM digests WHERE id = ?)"
            )
            shown = tx.execute(sql, (digest_id, digest_id)).rowcount
            count(tx, 0, -shown)
            count(tx, 1, shown)

    def attempt(self, digest_id: int, retry_at: datetime) -> int:
        """Record, before a delivery, that it is tried: one more attempt, whose outcome is
        unknown until it is recorded, and none again before `retry_at` unless it is. Returns
        how many attempts in a row before this one ended with no outcome recorded."""
        with self.transaction() as tx:
            return attempted(tx, "digests", digest_id, retry_at)

    def _set(self, sql: str, args: Sequence[object]) -> None:
        with self.transaction() as tx:
            tx.execute(sql, args)

    def mark_retry(self, digest_id: int, error: str, retry_at: datetime) -> None:
        """Delivery failed for now: keep the digest pending, to be retried from `retry_at`."""
        self._set(
            f"UPDATE digests SET {OUTCOME}, last_error = ?, next_attempt_at = ?,"
            " lease_until = NULL WHERE id = ?",
            (error, text(retry_at), digest_id),
        )

    def mark_failed(self, digest_id: int, error: str) -> None:
        """Delivery was refused for good: the digest stays visible and can be resent."""
        self._set(
            f"UPDATE digests SET status = 'failed', {OUTCOME}, last_error = ?,"
            " lease_until = NULL WHERE id = ?",
            (error, digest_id),
        )

    def requeue(self, digest_id: int) -> None:
        """Put a failed (or sent) digest back in the outbox to be delivered again."""
        self._set(
            "UPDATE digests SET status = 'pending', next_attempt_at = NULL, lease_until = NULL,"
            " unrecorded = 0 WHERE id = ?",
            (digest_id,),
        )

    def prune(self, before: datetime) -> int:
        """Pack the parts of digests sent before `before` into one compressed value (`pack`):
        `digest resend` still delivers each exactly as it was. Returns how many were packed."""
        cutoff, packed = text(before), 0
        for table, old in (
            (
                "digests",
                "SELECT id FROM digests WHERE status = 'sent' AND packed IS NULL"
                " AND letter_id IS NULL AND sent_at < ?",
            ),
            # A shared rendering, once every digest made from it was sent before `before`.
            (
                "letters",
                "SELECT id FROM letters l WHERE packed IS NULL AND NOT EXISTS (SELECT 1 FROM"
                " digests d WHERE d.letter_id = l.id AND (d.status <> 'sent' OR d.sent_at >= ?))",
            ),
        ):
            ids = [r[0] for r in self.rows(old, (cutoff,))]
            read = f"SELECT * FROM {table} WHERE id = ?{self.dialect.for_update}"
            write = f"UPDATE {table} SET parts = NULL, eml = NULL, packed = ? WHERE id = ?"
            for start in range(0, len(ids), 20):  # short transactions, a few at a time
                with self.transaction() as tx:
                    for row_id in ids[start : start + 20]:
                        row = tx.execute(read, (row_id,)).fetchone()
                        tx.execute(write, (pack(*contents(row)), row_id))
            packed += len(ids)
        return packed


def add_digest(tx: Tx, outgoing: Outgoing, period: str | None = None) -> int | None:
    """Store a digest as pending; None when its reader's `period` is made already. Made
    from a shared rendering, the rendering is stored once (for every reader it is for), and
    beside it what is the reader's own; otherwise all of it."""
    parts, eml, letter, own = None, None, None, None
    if outgoing.shared is None:
        parts, eml = parts_text(outgoing.parts), outgoing.eml
    else:  # the rendering is written (and turned into JSON) by its first reader only
        shared = outgoing.shared
        found = tx.execute("SELECT id FROM letters WHERE key = ?", (shared.marks[1],)).fetchone()
        if found is None:
            base = None if shared.base is None else _stored_base(tx, shared.base)
            found = tx.execute(
                "INSERT INTO letters (key, marks, packed, base) VALUES (?, ?, ?, ?) RETURNING id",
                (*letter_row(shared, base), shared.base and shared.base.key),
            ).fetchone()
        letter, own = found[0], envelope_text(shared)
    row = tx.execute(
        "INSERT INTO digests (created_at, status, message_id, subject, paper_count, parts,"
        " eml, reader_id, after_seq, upto_seq, period, letter_id, envelope) VALUES (?,"
        " 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (reader_id, period)"
        " WHERE period IS NOT NULL DO NOTHING RETURNING id",
        (
            outgoing.created.isoformat(),
            outgoing.message_id,
            outgoing.subject,
            outgoing.paper_count,
            parts,
            eml,
            outgoing.reader,
            outgoing.after,
            outgoing.upto,
            period,
            letter,
            own,
        ),
    ).fetchone()
    return None if row is None else int(row[0])


def _stored_base(tx: Tx, base: Base) -> Dictionary:
    """The run's base rendering, stored once (LZMA, as a letter no digest is made from)."""
    made = dictionary(base.key, lambda: raw(base.parts, base.eml))
    if tx.execute("SELECT 1 FROM letters WHERE key = ?", (base.key,)).fetchone() is None:
        tx.execute(
            "INSERT INTO letters (key, marks, packed) VALUES (?, '[]', ?)",
            (base.key, alone(made.base, 1)),
        )
    return made
