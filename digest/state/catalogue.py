"""The catalogue: the papers shown (or about to be), filed under their identity keys and their
candidate-index grams, with a count of papers seen and pending kept as they change."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from digest.models import SeenPaper, StoredPaper
from digest.state.dialect import Part, chunks
from digest.state.rows import paper_data, seen_paper

TYPE_CHECKING = False
if TYPE_CHECKING:
    from digest.identity.decide import Identified
    from digest.state.dialect import Tx

# What `seen_paper` takes, of a stored paper `p`.
SEEN = "p.id, p.title, p.first_seen, p.first_dump, {ids}"


class Catalogue(Part):
    """The papers shown (or about to be), filed under their keys and grams."""

    def lookup(self, keys: Iterable[str]) -> dict[str, SeenPaper]:
        """The stored papers recorded under any of these identity keys."""
        sql = (
            f"SELECT k.key, {SEEN.format(ids=self.dialect.arxiv_ids)} FROM paper_keys k"
            " JOIN papers p ON p.id = k.paper_id WHERE k.key IN (?*) ORDER BY k.key"
        )
        return {r[0]: seen_paper(*r[1:6]) for r in self.rows_in(sql, set(keys))}

    def postings(self, grams: Iterable[int], limit: int) -> dict[int, list[int]]:
        """For each gram, the ids of (at most `limit`) papers filed under it, lowest first:
        one query for many grams, each read only as far as its limit."""
        wanted = list(grams)
        found: dict[int, list[int]] = {g: [] for g in wanted}
        if self.dialect.postings:
            pieces = [(self.dialect.postings, [wanted, limit])]
        else:
            one = "SELECT * FROM (SELECT gram, paper_id FROM paper_grams WHERE gram = ?"
            one += " ORDER BY paper_id LIMIT ?) AS g{n}"
            pieces = [
                (
                    " UNION ALL ".join(one.format(n=n) for n in range(len(piece))),
                    [v for g in piece for v in (g, limit)],
                )
                for piece in chunks(wanted, 200)  # SQLite joins at most 500 queries in one
            ]
        for sql, args in pieces:
            for r in self.rows(sql, args):
                found[r[0]].append(r[1])
        return found

    def stored(self, ids: Iterable[int]) -> dict[int, StoredPaper]:
        """The stored papers with these ids, by id."""
        sql = f"SELECT {SEEN.format(ids=self.dialect.arxiv_ids)}, p.abstract FROM papers p"
        rows = self.rows_in(sql + " WHERE p.id IN (?*) ORDER BY p.id", ids)
        return {r[0]: StoredPaper(seen_paper(*r[:5]), r[1], r[5]) for r in rows}

    def titles(self, ids: Iterable[int]) -> dict[int, str]:
        """The titles of the stored papers with these ids, by id."""
        return {
            r[0]: r[1]
            for r in self.rows_in("SELECT id, title FROM papers WHERE id IN (?*) ORDER BY id", ids)
        }

    def all_titles(self) -> Iterator[dict[int, str]]:
        """Every stored paper's title by id, 100,000 at a time (memory stays flat)."""
        after = 0
        sql = "SELECT id, title FROM papers WHERE id > ? ORDER BY id LIMIT 100000"
        while rows := self.rows(sql, (after,)):
            yield {r[0]: r[1] for r in rows}
            after = rows[-1][0]

    def remove(self, papers: Sequence[tuple[int, Sequence[int]]]) -> None:
        """Remove these papers (by id, with their grams), their keys and index entries too."""
        with self.transaction() as tx:
            for paper_id, grams in papers:
                tx.executemany(
                    "DELETE FROM paper_grams WHERE gram = ? AND paper_id = ?",
                    [(gram, paper_id) for gram in grams],
                )
                tx.execute("DELETE FROM paper_keys WHERE paper_id = ?", (paper_id,))
                gone = tx.execute("DELETE FROM papers WHERE id = ? RETURNING seen", (paper_id,))
                for (seen,) in gone.fetchall():
                    count(tx, seen, -1)

    def _paper_counts(self) -> tuple[int, int]:
        """Papers seen and pending, as kept by `add_papers`, `remove` and `mark_sent`."""
        papers = {r[0]: r[1] for r in self.rows("SELECT seen, papers FROM paper_counts")}
        return int(papers.get(1, 0)), int(papers.get(0, 0))


def count(tx: Tx, seen: int, change: int) -> None:
    """Papers that became seen (1) or pending (0), or stopped being."""
    tx.execute("UPDATE paper_counts SET papers = papers + ? WHERE seen = ?", (change, seen))


END = "SELECT value FROM positions WHERE name = 'catalogue'"  # the last paper's position


def end(tx: Tx) -> int:
    """The position of the last paper offered so far."""
    return int(tx.execute(END).fetchone()[0])


def add_papers(
    tx: Tx, in_turn: str | None, papers: Sequence[Identified], seen: bool, when: str
) -> None:
    """The one way papers are written: numbered, offered at the next positions (a backlog,
    seen at once, is offered to nobody), filed under their keys and grams, counted."""
    if not papers:
        return
    if in_turn:
        tx.execute(in_turn)
    first = int(tx.execute("SELECT coalesce(max(id), 0) + 1 FROM papers").fetchone()[0])
    ids = range(first, first + len(papers))
    start = None
    if not seen:
        start = int(
            tx.execute(
                "UPDATE positions SET value = value + ? WHERE name = 'catalogue'"
                " RETURNING value - ?",
                (len(papers), len(papers)),
            ).fetchone()[0]
        )
    tx.executemany(
        "INSERT INTO papers (id, title, abstract, first_dump, listing_date, first_seen, seen,"
        " seq, listed, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                i,
                p.paper.title,
                p.paper.abstract,
                p.paper.source,
                p.paper.listing_date,
                when,
                int(seen),
                None if start is None else start + n + 1,
                p.paper.listed,
                paper_data(p.paper),
            )
            for n, (i, p) in enumerate(zip(ids, papers, strict=True))
        ],
    )
    file_under(tx, [(i, p.keys, p.grams) for i, p in zip(ids, papers, strict=True)])
    count(tx, int(seen), len(papers))


def learn(
    tx: Tx, known: Sequence[tuple[int, Sequence[str]]], revised: Sequence[tuple[int, Identified]]
) -> None:
    """Keys a run's listings taught about stored papers, and their revised abstracts."""
    file_under(tx, [(paper_id, keys, ()) for paper_id, keys in known])
    for paper_id, paper in revised:
        tx.execute("UPDATE papers SET abstract = ? WHERE id = ?", (paper.paper.abstract, paper_id))
        file_under(tx, [(paper_id, paper.keys, paper.grams)])


def file_under(tx: Tx, papers: Sequence[tuple[int, Sequence[str], Sequence[int]]]) -> None:
    """File stored papers (by id) under their identity keys and candidate-index grams. In
    index order, the inserts walk each index once instead of all over it: on a large store
    that halves the time of a backlog."""
    if not papers:
        return  # nothing to file: numpy is not loaded for nothing
    import numpy as np

    keys = sorted((key, paper_id) for paper_id, keys, _ in papers for key in keys)
    tx.insert_new("paper_keys", "key TEXT, paper_id BIGINT", keys)
    counts = [len(grams) for _, _, grams in papers]
    gram = np.fromiter(
        (g for _, _, grams in papers for g in grams), dtype=np.int64, count=sum(counts)
    )
    owner = np.repeat(np.array([paper_id for paper_id, _, _ in papers], dtype=np.int64), counts)
    order = np.lexsort((owner, gram))
    pairs = zip(gram[order].tolist(), owner[order].tolist(), strict=True)
    tx.insert_new("paper_grams", "gram BIGINT, paper_id BIGINT", pairs)
