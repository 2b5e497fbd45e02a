"""The dumps read: which were ingested or rejected, and which rejections a digest has told."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from digest.errors import StoreError
from digest.models import Dump, Rejected
from digest.state.dialect import Part

TYPE_CHECKING = False
if TYPE_CHECKING:
    from digest.state.dialect import Tx

# A rejected dump no delivered digest names yet: none does, or the one that did failed for good.
UNTOLD = (
    "status = 'rejected' AND (digest_id IS NULL"
    " OR digest_id IN (SELECT id FROM digests WHERE status = 'failed'))"
)


class DumpsRead(Part):
    """Which dumps were ingested or rejected, and which rejections a digest has told."""

    def known_dumps(self, hashes: Iterable[str]) -> set[str]:
        """Which of these content hashes were ingested (or rejected) before."""
        return {r[0] for r in self.rows_in("SELECT sha256 FROM dumps WHERE sha256 IN (?*)", hashes)}

    def ingested_dumps(self, hashes: Iterable[str]) -> set[str]:
        """Which of these content hashes were ingested (read and recorded, not rejected)."""
        sql = "SELECT sha256 FROM dumps WHERE sha256 IN (?*) AND status = 'ingested'"
        return {r[0] for r in self.rows_in(sql, hashes)}

    def rejected_dumps(self, limit: int = 20) -> list[Rejected]:
        """Dumps that could not be read, newest first."""
        sql = "SELECT name, reason FROM dumps WHERE status = 'rejected' ORDER BY id DESC LIMIT ?"
        return [Rejected(r[0], r[1]) for r in self.rows(sql, (limit,))]

    def untold_rejections(self) -> list[tuple[Rejected, str]]:
        """Rejected dumps no delivered digest has named yet, with their keys, oldest first."""
        rows = self.rows(f"SELECT name, reason, sha256 FROM dumps WHERE {UNTOLD} ORDER BY id")
        return [(Rejected(r[0], r[1]), r[2]) for r in rows]

    def _ingested_count(self) -> int:
        return int(self.rows("SELECT count(*) FROM dumps WHERE status = 'ingested'")[0][0])


def log_dumps(
    tx: Tx, dumps: Sequence[Dump], rejected: Sequence[tuple[Rejected, str]], when: str, seen: bool
) -> None:
    """Record a run's dumps and rejected files. Each dump is claimed by its content hash:
    when a run that offers its papers finds one recorded meanwhile by another process, it
    fails and nothing of it is recorded, so that no paper is offered twice (a backlog
    recorded again, as seen, adds only what is new)."""
    claimed: set[str] = set()
    for d in dumps:
        claimed.update(
            r[0]
            for r in tx.execute(
                "INSERT INTO dumps (sha256, name, listing_date, paper_count, status, ingested_at)"
                " VALUES (?, ?, ?, ?, 'ingested', ?) ON CONFLICT (sha256) DO NOTHING"
                " RETURNING sha256",
                (d.sha256, d.name, d.listing_date, len(d.papers), when),
            ).fetchall()
        )
    if not seen and (taken := [d.name for d in dumps if d.sha256 not in claimed]):
        raise StoreError(
            f"{taken[0]} was recorded by another digest run meanwhile; nothing of this run was"
            " recorded (the next run goes on from there)"
        )
    tx.executemany(
        "INSERT INTO dumps (sha256, name, paper_count, status, reason, ingested_at)"
        " VALUES (?, ?, 0, 'rejected', ?, ?) ON CONFLICT (sha256) DO NOTHING",
        [(sha, r.file, r.reason, when) for r, sha in rejected],
    )


def tell(tx: Tx, keys: Sequence[str], digest_id: int) -> None:
    """A digest names these rejected dumps: they are told once it is delivered (unless a
    digest that names them is still on its way)."""
    tx.executemany(
        f"UPDATE dumps SET digest_id = ? WHERE sha256 = ? AND {UNTOLD}",
        [(digest_id, sha) for sha in keys],
    )
