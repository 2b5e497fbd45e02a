"""The state's roles together, as one store: each role written once (dumps.py, catalogue.py,
readers.py, outbox.py, chats.py, and the service's own values here), over the connection a backend
gives (dialect.py). `record` is the one write that spans them, in one transaction.

A paper is recorded with the digest that shows it while that digest is still pending: the
outbox owns it from then on, so it is never offered twice, and it counts as seen only once
its digest has been delivered (`mark_sent`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from digest.models import Dump, Outgoing, Rejected
from digest.state.base import now
from digest.state.catalogue import Catalogue, add_papers, end, learn
from digest.state.chats import Chats
from digest.state.dialect import Part
from digest.state.dumps import DumpsRead, log_dumps, tell
from digest.state.outbox import Outbox, add_digest
from digest.state.published import Published
from digest.state.readers import Readers

TYPE_CHECKING = False
if TYPE_CHECKING:
    from digest.identity.decide import Identified


class ServiceState(Part):
    """A few named values `digest serve` keeps across restarts and `digest status` shows."""

    def service_state(self) -> dict[str, str]:
        """What `digest serve` recorded about itself: last and next runs, pid, schedule."""
        return {r[0]: r[1] for r in self.rows("SELECT key, value FROM service_state")}

    def set_service_state(self, **values: str | None) -> None:
        """Record values about `digest serve` in one transaction; None removes one."""
        when = now()
        with self.transaction() as tx:
            for key, value in values.items():
                if value is None:
                    tx.execute("DELETE FROM service_state WHERE key = ?", (key,))
                else:
                    tx.execute(
                        "INSERT INTO service_state VALUES (?, ?, ?) ON CONFLICT (key)"
                        " DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                        (key, value, when),
                    )


class Roles(DumpsRead, Catalogue, Readers, Chats, Outbox, Published, ServiceState):
    """Every role of the state, on the connection of the backend class put before it."""

    def counts(self) -> dict[str, int]:
        """Papers seen, papers pending, dumps ingested."""
        seen, pending = self._paper_counts()
        return {"papers_seen": seen, "papers_pending": pending, "dumps": self._ingested_count()}

    def record(
        self,
        dumps: Sequence[Dump],
        rejected: Sequence[tuple[Rejected, str]],
        papers: Sequence[Identified],
        outgoing: Outgoing | None = None,
        *,
        seen: bool = False,
        known: Sequence[tuple[int, Sequence[str]]] = (),
        revised: Sequence[tuple[int, Identified]] = (),
    ) -> int | None:
        """Record, in one transaction, the dumps of a run, the rejected files its digest
        names (with their keys), its new papers with their identity keys and grams, and the
        digest that shows them (as pending). Returns the digest's id. With `seen`, the papers
        count as seen at once (a backlog, or a run with nothing to deliver). `known` adds
        keys to stored papers (by id) that this run's listings taught; `revised` keeps their
        revised abstracts."""
        when = now()
        with self.transaction() as tx:
            log_dumps(tx, dumps, rejected, when, seen)
            learn(tx, known, revised)
            after = end(tx)
            add_papers(tx, self.dialect.in_turn, papers, seen, when)
            if outgoing is None:
                return None
            # The one reader of DIGEST_TO, shown these papers by this digest.
            upto = after if seen else after + len(papers)
            sql = "UPDATE readers SET upto = ? WHERE key = '' RETURNING id"
            reader = tx.execute(sql, (upto,)).fetchone()[0]
            item = dataclasses.replace(outgoing, reader=reader, after=after, upto=upto)
            digest_id = add_digest(tx, item)
            assert digest_id is not None  # no period: never left out
            tell(tx, [sha for _, sha in rejected], digest_id)
        return digest_id
