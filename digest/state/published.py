"""The public digest's place in the outbox, and each reader's delivered digests for their feed.

With a readers file every reader's digest is their own; the archive's is the digest of the
state's public reader (the one of DIGEST_TO without a readers file), made for no one. It is
stored already delivered, in the transaction that moves that reader on: never pending, so
no worker ever takes it for a reader's mail, and `digest archive` finds it as it finds the
one-reader archive's digests.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from digest.models import Outgoing
from digest.state.dialect import Part, text
from digest.state.outbox import add_digest


class Published(Part):
    """The public reader's digests, and the digests delivered to each reader."""

    def publish(
        self, item: Outgoing | None, after: int, upto: int, note: str, at: datetime
    ) -> int | None:
        """Move the public reader from position `after` to `upto` and, with `item`, keep it
        as their digest of those positions, delivered at `at` (`note` says where), in one
        transaction. Returns its id; None without `item`, or when the public reader is no
        longer at `after` (another run moved them)."""
        with self.transaction() as tx:
            row = tx.execute(
                "UPDATE readers SET upto = ? WHERE key = '' AND upto = ? RETURNING id",
                (upto, after),
            ).fetchone()
            if row is None or item is None:
                return None
            kept = dataclasses.replace(item, reader=row[0], after=after, upto=upto)
            digest_id = add_digest(tx, kept)
            assert digest_id is not None  # no period: never left out
            tx.execute(
                "UPDATE digests SET status = 'sent', sent_at = ?, delivery_note = ? WHERE id = ?",
                (text(at), note, digest_id),
            )
        return digest_id

    def made_past(self, reader: int, position: int) -> list[int]:
        """The ids of a reader's digests that go past `position`, oldest first."""
        sql = "SELECT id FROM digests WHERE reader_id = ? AND upto_seq > ? ORDER BY id"
        return [int(r[0]) for r in self.rows(sql, (reader, position))]

    def delivered_to(self, reader: int, limit: int) -> list[int]:
        """The ids of the last `limit` digests delivered to a reader, newest first."""
        sql = (
            "SELECT id FROM digests WHERE reader_id = ? AND status = 'sent'"
            " ORDER BY id DESC LIMIT ?"
        )
        return [int(r[0]) for r in self.rows(sql, (reader, limit))]
