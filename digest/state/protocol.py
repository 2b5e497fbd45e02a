"""The StateStore protocol: everything the pipeline, the service, a backlog ingest, fetch and
the CLI ask of the state, whatever keeps it.

A paper is recorded with the digest that shows it while that digest is still pending: the
outbox owns it from then on, so it is never offered twice, and it counts as seen only once
its digest has been delivered (`mark_sent`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import date, datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

from digest.models import Dump, Outgoing, Paper, ReaderState, Rejected, SeenPaper, StoredPaper

TYPE_CHECKING = False
if TYPE_CHECKING:
    from digest.identity.decide import Identified
    from digest.state import StateUrl


@runtime_checkable
class StateStore(Protocol):
    """The state of one installation. Use as a context manager; it closes on leaving."""

    path: Path | StateUrl  # where it lives: lock files and `digest status` name it
    # Whether several `digest serve` may share it (one leads, all deliver); when not, a
    # second one is refused.
    shared: bool

    # -- the connection, locks and checks ----------------------------------------------

    def __enter__(self) -> StateStore: ...
    def __exit__(self, *exc: object) -> None: ...
    def close(self) -> None:
        """Let go of the state."""

    def reopen(self) -> None:
        """A fresh connection, after the old one failed (the state changed under it)."""

    def lock(self) -> AbstractContextManager[None]:
        """Hold the run lock: one run at a time per state, across processes."""

    def lead(self) -> bool:
        """Take the lead of `digest serve` if no one holds it: held until closed, and let go
        when the process dies. False when another holds it."""

    def still_leading(self) -> bool:
        """Whether this store still holds the lead it took: on a shared state the lead ends
        with the connection that holds it (a server restarted, a network dropped it); the
        leader asks before it acts, and stops leading when it no longer does."""

    def serving(self) -> bool:
        """Whether a `digest serve` leads on this state now."""

    def bulk(self, cache_mb: int = 256) -> AbstractContextManager[None]:
        """Tune for a large write (a backlog ingest) while inside."""

    # -- the dumps log -----------------------------------------------------------------

    def known_dumps(self, hashes: Iterable[str]) -> set[str]:
        """Which of these content hashes were ingested (or rejected) before."""

    def ingested_dumps(self, hashes: Iterable[str]) -> set[str]:
        """Which of these content hashes were ingested (read and recorded, not rejected)."""

    def rejected_dumps(self, limit: int = 20) -> list[Rejected]:
        """Dumps that could not be read, newest first."""

    def untold_rejections(self) -> list[tuple[Rejected, str]]:
        """Rejected dumps no delivered digest has named yet, with their keys, oldest first."""

    # -- the catalogue of papers -------------------------------------------------------

    def lookup(self, keys: Iterable[str]) -> dict[str, SeenPaper]:
        """The stored papers recorded under any of these identity keys."""

    def postings(self, grams: Iterable[int], limit: int) -> dict[int, list[int]]:
        """For each candidate-index gram, the ids of (at most `limit`) papers filed under it."""

    def stored(self, ids: Iterable[int]) -> dict[int, StoredPaper]:
        """The stored papers with these ids, by id (ids not stored are left out)."""

    def titles(self, ids: Iterable[int]) -> dict[int, str]:
        """The titles of the stored papers with these ids, by id."""

    def all_titles(self) -> Iterator[dict[int, str]]:
        """Every stored paper's title by id, a large chunk at a time."""

    def remove(self, papers: Sequence[tuple[int, Sequence[int]]]) -> None:
        """Remove these papers (by id, with their grams), their keys and index entries too."""

    def counts(self) -> dict[str, int]:
        """Papers seen, papers pending, dumps ingested."""

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
        """Record a run at once: its dumps, the rejected files, its new papers (filed under
        their keys and grams, offered at the next positions). With `seen` (a backlog), they
        are offered to nobody. `known` adds keys to stored papers, `revised` keeps their
        revised abstracts. With `outgoing`, the one reader of DIGEST_TO (key "") is shown
        the new papers by it, as pending, naming the rejected files; returns its id."""

    # -- the readers -------------------------------------------------------------------
    # Papers take positions in the order they are first offered; a reader is how far
    # through them their digests go. What is new to a reader is the positions after theirs.

    def end(self) -> int:
        """The position of the last paper offered so far."""

    def join(self, readers: Mapping[str, date | None]) -> dict[str, ReaderState]:
        """The readers with these addresses, by their key (digest.readers.address_key: every
        spelling of an address is one reader, whichever the state met first), each added
        first if new: from the papers offered after now, or with `since`, from those listed
        on or after that day."""

    def all_readers(self) -> list[ReaderState]:
        """Every reader the state knows, in the order they were added."""

    def reader_counts(self) -> dict[str, int]:
        """The readers of a readers file the state knows (not the one reader of DIGEST_TO),
        and how many of them paused or unsubscribed on their own (their preferences; an
        unsubscribed reader is not counted as paused too): one query."""

    def like(self, reader: int, papers: Sequence[int], value: int) -> None:
        """Record that a reader liked (1) or disliked (-1) these papers (by id); 0 forgets."""

    def likes(self, reader: int) -> list[tuple[int, Paper, int]]:
        """The papers a reader liked (1) or disliked (-1), with their ids, oldest first."""

    def reader_by_token(self, given: str) -> ReaderState | None:
        """The reader whose token this is (their unsubscribe and preferences links), if any."""

    def set_prefs(self, reader: int, prefs: Mapping[str, object]) -> None:
        """Record what a reader changed themselves (their whole preferences): paused,
        unsubscribed, highlight, exclude, interests, schedule; they win over the file's."""

    def offered(self, after: int, upto: int) -> list[tuple[int, Paper]]:
        """The papers at positions after `after` up to `upto`, in order, with their positions."""

    def enqueue(
        self, items: Sequence[Outgoing], told: Sequence[str] = (), period: str | None = None
    ) -> list[Outgoing]:
        """Put these readers' digests in the outbox in one transaction, each moving its
        reader from its `after` to its `upto`. A digest whose reader moved on meanwhile
        (another run made it), or whose reader has one for `period` already, is left out.
        The rejected dumps of `told` (by key) are named by them. Returns those stored."""

    def advance(self, moves: Sequence[tuple[int, int, int]]) -> None:
        """Move readers on with no digest (nothing for them, or all excluded): each
        (reader, after, upto), applied only where the reader is still at `after`."""

    def reader_outbox(self) -> dict[int, dict[str, int | str | None]]:
        """For each reader with digests: pending, failed, last delivered (sent_at)."""

    def secret(self) -> bytes:
        """The state's secret for readers' tokens, made on first use; never shown."""

    # -- the outbox --------------------------------------------------------------------

    def outgoing(
        self, *, status: str, due: datetime | None = None, bare: bool = False
    ) -> list[Outgoing]:
        """Digests with this status, oldest first; with `due`, only those due for a retry.
        `bare`: what describes them only, without their renderings and message (empty), so
        that listing many reads little."""

    def get(self, digest_id: int) -> Outgoing | None:
        """One digest of the outbox by id."""

    def recent(self, limit: int = 10, *, bare: bool = False) -> list[Outgoing]:
        """The most recent digests of any status, newest first; `bare` as for `outgoing`."""

    def claim(self, digest_id: int) -> bool:
        """Take a pending digest for delivery unless another worker holds it. The claim is
        held until this store claims another or closes, or its process dies: a worker
        killed mid-delivery lets go at once, one still delivering never does."""

    def claim_due(self, due: datetime) -> Outgoing | None:
        """Take the oldest pending digest due at `due` that no worker holds, held as `claim`
        holds it; those another worker holds are skipped, not waited for."""

    def attempt(self, digest_id: int, retry_at: datetime) -> int:
        """Record, before a delivery, that it is tried: one more attempt, whose outcome is
        unknown until `mark_sent`, `mark_retry` or `mark_failed` records it, and none again
        before `retry_at` unless one does. Returns how many attempts in a row before this
        one ended with no outcome recorded (the process died, or the state could not be
        written between the delivery and its record)."""

    def mark_sent(
        self, digest_id: int, note: str | None = None, at: datetime | None = None
    ) -> None:
        """The digest was delivered: it is sent and its papers are seen."""

    def mark_retry(self, digest_id: int, error: str, retry_at: datetime) -> None:
        """Delivery failed for now: keep the digest pending, to be retried from `retry_at`."""

    def mark_failed(self, digest_id: int, error: str) -> None:
        """Delivery was refused for good: the digest stays visible and can be resent."""

    def requeue(self, digest_id: int) -> None:
        """Put a failed (or sent) digest back in the outbox to be delivered again."""

    def prune(self, before: datetime) -> int:
        """Compact digests sent before `before`, still resendable; returns how many."""

    # -- the service's own state -------------------------------------------------------

    def service_state(self) -> dict[str, str]:
        """What `digest serve` recorded about itself: last and next runs, pid, schedule."""

    def set_service_state(self, **values: str | None) -> None:
        """Record values about `digest serve` at once; None removes one."""
