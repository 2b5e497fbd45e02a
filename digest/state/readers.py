"""The readers: how far through the catalogue each one's digests go, their tokens, their own
preferences and their likes."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import date

from digest.models import Outgoing, Paper, ReaderState
from digest.redact import keep_secret
from digest.state.base import now
from digest.state.catalogue import END, count
from digest.state.catalogue import end as end_of
from digest.state.dialect import Part
from digest.state.dumps import tell
from digest.state.outbox import add_digest
from digest.state.rows import paper_of, reader_state

TYPE_CHECKING = False
if TYPE_CHECKING:
    from digest.state.dialect import Tx

# Papers take positions in the order they are first offered; a reader is how far through
# them their digests go. What is new to a reader is the positions after theirs.
PAPER = "data, title, abstract, first_dump, listing_date"  # what `paper_of` takes


class Readers(Part):
    """The readers: how far through the catalogue each one's digests go."""

    def end(self) -> int:
        """The position of the last paper offered so far."""
        return int(self.rows(END)[0][0])

    def join(self, readers: Mapping[str, date | None]) -> dict[str, ReaderState]:
        """The readers with these addresses (by their key: any spelling is one reader), each
        added first if new: from the papers offered after now, or from those listed on or
        after their `since` day."""
        from digest.addresses import address_key

        self._one_spelling()
        readers = {address_key(k): since for k, since in readers.items()}
        found = self._readers(list(readers))
        if missing := [k for k in readers if k not in found or found[k].token is None]:
            from digest.envelope import token

            secret = self.secret()
            with self.transaction() as tx:
                last, when = end_of(tx), now()
                rows = [(k, _start(tx, readers[k], last), when) for k in missing]
                tx.executemany(
                    "INSERT INTO readers (key, upto, added_at) VALUES (?, ?, ?)"
                    " ON CONFLICT (key) DO NOTHING",
                    rows,
                )
                tx.executemany(
                    "UPDATE readers SET token = ? WHERE key = ? AND token IS NULL",
                    [(token(secret, key), key) for key in missing],
                )
            found.update(self._readers(missing))
        return found

    def _one_spelling(self) -> None:
        """Readers kept under another spelling of their address than the readers file's
        (digest.readers.address_key) become the one reader of that address, once for all
        (a mark in the service's state says it is done): their digests, likes and
        preferences theirs, the rows of the other spellings gone."""
        done = "SELECT 1 FROM service_state WHERE key = 'reader_keys'"
        if self.readonly or self.rows(done):  # read only: the next run does it
            return
        import json

        from digest.addresses import respelled

        with self.transaction() as tx:
            rows = tx.execute(f"SELECT * FROM readers ORDER BY id{self.dialect.for_update}")
            for one, others in respelled(reader_state(row) for row in rows.fetchall()):
                for sql in (sql for other in others for sql in taken_in(one.id, other)):
                    tx.execute(sql)
                tx.execute(
                    "UPDATE readers SET key = ?, upto = ?, token = ?, prefs = ? WHERE id = ?",
                    (one.key, one.upto, one.token, json.dumps(dict(one.prefs)), one.id),
                )
            tx.execute(
                "INSERT INTO service_state VALUES ('reader_keys', '1', ?)"
                " ON CONFLICT (key) DO NOTHING",
                (now(),),
            )

    def _readers(self, keys: Sequence[str]) -> dict[str, ReaderState]:
        rows = self.rows_in("SELECT * FROM readers WHERE key IN (?*)", keys)
        return {row["key"]: reader_state(row) for row in rows}

    def all_readers(self) -> list[ReaderState]:
        """Every reader the state knows, in the order they were added."""
        self._one_spelling()
        return [reader_state(row) for row in self.rows("SELECT * FROM readers ORDER BY id")]

    def reader_counts(self) -> dict[str, int]:
        """Readers, and how many paused or unsubscribed on their own (one query)."""
        flag = self.dialect.flag
        (row,) = self.rows(
            "SELECT count(*), count(*) FILTER (WHERE u IS NOT TRUE AND p IS TRUE),"
            f" count(*) FILTER (WHERE u IS TRUE) FROM (SELECT {flag.format(name='paused')} AS p,"
            f" {flag.format(name='unsubscribed')} AS u FROM readers WHERE key <> '') AS r"
        )
        return {"readers": int(row[0]), "paused": int(row[1]), "unsubscribed": int(row[2])}

    def like(self, reader: int, papers: Sequence[int], value: int) -> None:
        """Record that a reader liked (1) or disliked (-1) these papers; 0 forgets it."""
        with self.transaction() as tx:
            if value == 0:
                tx.executemany(
                    "DELETE FROM likes WHERE reader_id = ? AND paper_id = ?",
                    [(reader, p) for p in papers],
                )
                return
            tx.executemany(
                "INSERT INTO likes VALUES (?, ?, ?, ?) ON CONFLICT (reader_id, paper_id)"
                " DO UPDATE SET value = excluded.value, at = excluded.at",
                [(reader, p, value, now()) for p in papers],
            )

    def likes(self, reader: int) -> list[tuple[int, Paper, int]]:
        """The papers a reader liked or disliked, with their ids, oldest first."""
        columns = ", ".join(f"p.{c}" for c in PAPER.split(", "))
        rows = self.rows(
            f"SELECT p.id, {columns}, l.value FROM likes l JOIN papers p ON p.id = l.paper_id"
            " WHERE l.reader_id = ? ORDER BY l.at, p.id",
            (reader,),
        )
        return [(row[0], paper_of(*row[1:6]), row[6]) for row in rows]

    def reader_by_token(self, given: str) -> ReaderState | None:
        """The reader whose token this is, if any."""
        rows = self.rows("SELECT * FROM readers WHERE token = ?", (given,))
        return reader_state(rows[0]) if rows else None

    def set_prefs(self, reader: int, prefs: Mapping[str, object]) -> None:
        """Record what a reader changed themselves (their whole preferences)."""
        import json

        with self.transaction() as tx:
            tx.execute(
                "UPDATE readers SET prefs = ? WHERE id = ?", (json.dumps(dict(prefs)), reader)
            )

    def offered(self, after: int, upto: int) -> list[tuple[int, Paper]]:
        """The papers at positions after `after` up to `upto`, in order, with their positions."""
        sql = f"SELECT seq, {PAPER} FROM papers WHERE seq > ? AND seq <= ? ORDER BY seq"
        return [(row[0], paper_of(*row[1:6])) for row in self.rows(sql, (after, upto))]

    def enqueue(
        self, items: Sequence[Outgoing], told: Sequence[str] = (), period: str | None = None
    ) -> list[Outgoing]:
        """Put these readers' digests in the outbox, in one transaction, each moving its
        reader's position from its `after` to its `upto`; a digest whose reader moved on
        meanwhile (another run made it), or that repeats the reader's `period`, is left
        out. The rejected dumps of `told` (by key) are named by these digests. Returns the
        digests stored, with their ids."""
        stored: list[Outgoing] = []
        with self.transaction() as tx:
            for item in items:
                moved = tx.execute(
                    "UPDATE readers SET upto = ? WHERE id = ? AND upto = ? RETURNING id",
                    (item.upto, item.reader, item.after),
                ).fetchone()
                if moved is None:
                    continue
                digest_id = add_digest(tx, item, period)
                if digest_id is None:  # this reader's period is made already
                    sql = "UPDATE readers SET upto = ? WHERE id = ?"
                    tx.execute(sql, (item.after, item.reader))
                    continue
                stored.append(dataclasses.replace(item, id=digest_id))
            if stored and told:
                tell(tx, told, stored[0].id)
        return stored

    def advance(self, moves: Sequence[tuple[int, int, int]]) -> None:
        """Move readers on with no digest (nothing for them, all excluded): each (reader,
        after, upto), applied only where the reader is still at `after`."""
        with self.transaction() as tx:
            for reader, after, upto in moves:
                sql = "UPDATE readers SET upto = ? WHERE id = ? AND upto = ?"
                if tx.execute(sql, (upto, reader, after)).rowcount:
                    # done with by this reader, as if shown: no longer awaiting anyone
                    sql = "UPDATE papers SET seen = 1 WHERE seen = 0 AND seq > ? AND seq <= ?"
                    done = tx.execute(sql, (after, upto)).rowcount
                    count(tx, 0, -done)
                    count(tx, 1, done)

    def reader_outbox(self) -> dict[int, dict[str, int | str | None]]:
        """For each reader with digests: how many are pending and failed, and when the
        last was delivered."""
        rows = self.rows(
            "SELECT reader_id, count(*) FILTER (WHERE status = 'pending') AS pending,"
            " count(*) FILTER (WHERE status = 'failed') AS failed, max(sent_at) AS last_sent,"
            " count(*) AS digests FROM digests WHERE reader_id IS NOT NULL GROUP BY reader_id"
        )
        return {row["reader_id"]: dict(row) for row in rows}

    def secret(self) -> bytes:
        """The state's own secret for readers' tokens, made on first use; never shown."""
        import secrets

        with self.transaction() as tx:
            tx.execute(
                "INSERT INTO service_state VALUES ('token_secret', ?, ?)"
                " ON CONFLICT (key) DO NOTHING",
                (secrets.token_hex(32), now()),
            )
            sql = "SELECT value FROM service_state WHERE key = 'token_secret'"
            value = str(tx.execute(sql).fetchone()[0])
        keep_secret(value)  # never shown, whatever would quote it
        return bytes.fromhex(value)


def _start(tx: Tx, since: date | None, last: int) -> int:
    """The position a reader starts after who wants the papers listed on or after `since`
    (none: after the last paper offered so far)."""
    if since is None:
        return last
    first = tx.execute(
        "SELECT min(seq) FROM papers WHERE seq IS NOT NULL"
        " AND coalesce(listed, substr(first_seen, 1, 10)) >= ?",
        (since.isoformat(),),
    ).fetchone()[0]
    return last if first is None else int(first) - 1


def taken_in(one: int, other: int) -> list[str]:
    """The statements by which reader `one` takes in reader `other`'s digests and likes, and
    `other` is gone: one mailbox kept as two readers (digest.readers.respelled). The same on
    both backends; the ids are numbers, written in."""
    one, other = int(one), int(other)
    return [
        # A scheduled period both were served for stays two digests, not a clash.
        f"UPDATE digests SET period = NULL WHERE reader_id = {other}"
        f" AND period IN (SELECT period FROM digests WHERE reader_id = {one})",
        f"UPDATE digests SET reader_id = {one} WHERE reader_id = {other}",
        f"INSERT INTO likes SELECT {one}, paper_id, value, at FROM likes"
        f" WHERE reader_id = {other} ON CONFLICT DO NOTHING",
        f"DELETE FROM likes WHERE reader_id = {other}",
        f"DELETE FROM readers WHERE id = {other}",
    ]
