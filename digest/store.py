"""The state file: which dumps were ingested, which papers were shown, and the outbox.

SQLite in WAL mode with a busy timeout; every write is one short `BEGIN IMMEDIATE`
transaction and none is held open across delivery. Schema changes are small named
migrations, applied in order and recorded in `migrations`.

A paper is recorded with the digest that shows it while that digest is still pending: the
outbox owns it from then on, so it is never offered twice, and it counts as seen only once
its digest has been delivered (`papers.seen`).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from digest.errors import StoreError
from digest.models import Dump, Outgoing, Paper, Rejected, SeenPaper

# typing, numpy and the matcher cost start-up time that a cron run with nothing new does not
# need to pay: they are imported where they are used.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TypeVar

    from digest import match

    T = TypeVar("T")

log = logging.getLogger(__name__)

# A candidate-index entry shared by more papers than this says nothing about identity
# ("learning", "in this paper we"); reading it is also what would make lookups slow.
COMMON = 100


def lock_file(state: Path, suffix: str) -> Path:
    """The lock file of a state file, beside the file itself: every name that leads to the
    same state file (a symbolic link, a relative path) takes the same lock."""
    real = Path(os.path.realpath(state))
    return real.with_name(real.name + suffix)


def state_files(state: Path) -> frozenset[str]:
    """Every file digest keeps for a state file: the file, SQLite's companions, the locks.
    Absolute real paths, so an inbox that holds them can leave them alone."""
    real = os.path.realpath(state)
    return frozenset(real + end for end in ("", "-wal", "-shm", "-journal", ".lock", ".serve.lock"))


def _refuse_hard_links(path: Path) -> None:
    """A state file with a second hard link is refused: SQLite finds its -wal file and our
    locks by name, so two names of one file would each write their own (a symbolic link
    is fine: it is resolved to the one name)."""
    links = os.stat(path).st_nlink
    if links > 1:
        raise StoreError(
            f"state file {path} has {links} hard links; SQLite cannot keep it safe under two"
            " names: remove the other links (`find / -samefile` lists them), and use a"
            " symbolic link for a second name"
        )


def _execute_all(db: sqlite3.Connection, script: str) -> None:
    # Not executescript(): it would commit the migration's transaction half-way.
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def _m001_initial(db: sqlite3.Connection) -> None:
    _execute_all(
        db,
        """
        CREATE TABLE digests (
            id INTEGER PRIMARY KEY,
            created_at TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
            message_id TEXT NOT NULL UNIQUE,
            subject TEXT NOT NULL,
            paper_count INTEGER NOT NULL,
            html TEXT NOT NULL,
            text TEXT NOT NULL,
            markdown TEXT NOT NULL,
            json TEXT NOT NULL,
            eml BLOB,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT,
            last_error TEXT,
            sent_at TEXT
        );
        CREATE INDEX digests_status ON digests (status, next_attempt_at);
        CREATE TABLE dumps (
            id INTEGER PRIMARY KEY,
            sha256 TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            listing_date TEXT,
            paper_count INTEGER NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('ingested', 'rejected')),
            reason TEXT,
            digest_id INTEGER REFERENCES digests (id),
            ingested_at TEXT NOT NULL
        );
        CREATE TABLE papers (
            id INTEGER PRIMARY KEY,
            title TEXT NOT NULL,
            abstract TEXT NOT NULL,
            first_dump TEXT NOT NULL,
            listing_date TEXT,
            first_seen TEXT NOT NULL,
            digest_id INTEGER REFERENCES digests (id),
            seen INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX papers_digest ON papers (digest_id);
        CREATE TABLE paper_keys (
            key TEXT PRIMARY KEY,
            paper_id INTEGER NOT NULL REFERENCES papers (id) ON DELETE CASCADE
        ) WITHOUT ROWID;
        CREATE INDEX paper_keys_paper ON paper_keys (paper_id);
        """,
    )


def _m002_email_delivery_note(db: sqlite3.Connection) -> None:
    # What the last delivery did, e.g. which recipients the mail server refused.
    db.execute("ALTER TABLE digests ADD COLUMN delivery_note TEXT")


def _m003_service_state(db: sqlite3.Connection) -> None:
    # What `digest serve` must remember across restarts (its last scheduled run, for the
    # catch-up) and shows in `digest status`: a few named values.
    db.execute(
        "CREATE TABLE service_state (key TEXT PRIMARY KEY, value TEXT NOT NULL,"
        " updated_at TEXT NOT NULL)"
    )


def _m004_identity_index(db: sqlite3.Connection) -> None:
    # The candidate index: title words and abstract sketch hashes (match.grams). No foreign
    # key: a second index on paper_id would double the cost of every insert, and forgetting
    # a paper recomputes its grams instead.
    from digest import match

    db.execute(
        "CREATE TABLE paper_grams (gram INTEGER NOT NULL, paper_id INTEGER NOT NULL,"
        " PRIMARY KEY (gram, paper_id)) WITHOUT ROWID"
    )
    # Papers recorded before gain their arXiv, abstract and re-normalised title keys.
    rows = db.execute("SELECT id, title, abstract FROM papers ORDER BY id")
    while chunk := rows.fetchmany(10_000):  # however many there are, a few at a time
        for paper_id, title, abstract in chunk:
            paper = Paper(title, abstract)
            _index(db, paper_id, paper, match.keys(paper))


def _index(db: sqlite3.Connection, paper_id: int, paper: Paper, keys: Iterable[str]) -> None:
    """File a stored paper under its identity keys and its candidate-index entries."""
    from digest import match

    db.executemany("INSERT OR IGNORE INTO paper_keys VALUES (?, ?)", [(k, paper_id) for k in keys])
    db.executemany(
        "INSERT OR IGNORE INTO paper_grams VALUES (?, ?)",
        [(gram, paper_id) for gram in match.grams(paper)],
    )


def _revise(db: sqlite3.Connection, papers: Sequence[tuple[int, Paper]]) -> None:
    if not papers:
        return  # and the matcher, with numpy, is not loaded for nothing
    from digest import match

    for paper_id, paper in papers:
        db.execute("UPDATE papers SET abstract = ? WHERE id = ?", (paper.abstract, paper_id))
        _index(db, paper_id, paper, match.keys(paper))


def _m005_outbox_compression(db: sqlite3.Connection) -> None:
    # Sent digests past DIGEST_KEEP_DAYS keep their parts packed into one compressed value,
    # the other columns emptied (see Store.prune).
    db.execute("ALTER TABLE digests ADD COLUMN packed BLOB")


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    _m001_initial,
    _m002_email_delivery_note,
    _m003_service_state,
    _m004_identity_index,
    _m005_outbox_compression,
]

# What SQLite says when the -wal file was deleted under a connection still open elsewhere.
CHANGED_UNDER_US = "SQLITE_IOERR_SHORT_READ"


class StateChanged(StoreError):
    """The state file changed under a connection still open elsewhere (`digest serve`)."""


PARTS = ("html", "text", "markdown", "json")  # a digest's rendered forms, kept as text


def _warn_if_exposed(path: Path) -> None:
    mode = path.stat().st_mode
    if mode & 0o077:
        log.warning(
            "state file %s can be read by other users (mode %o); run: chmod 600 %s",
            path,
            mode & 0o777,
            path,
        )


# quick_check reads the whole file, about 1.3 ms a MB (55 ms for 20,000 papers): on opening
# it is worth it up to this size; a larger file is checked by SQLite as it is read.
QUICK_CHECK_MB = 256
KEEP = "keep the file as it is"  # what a refusal asks first: the file may be all there is


def _check(db: sqlite3.Connection, path: Path) -> None:
    """Refuse, before any write, a file that is damaged, not digest's, or from a newer digest."""
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if not tables:
        return  # a new, empty file
    if path.stat().st_size > QUICK_CHECK_MB * 1_000_000:
        return _check_ours(db, path, tables)  # damage past here is still found when read
    problems = [" ".join(str(row[0]).split()) for row in db.execute("PRAGMA quick_check(1)")]
    if problems != ["ok"]:
        raise StoreError(
            f"state file {path} is damaged ({problems[0]}); {KEEP} (copy it) and restore a"
            " backup, or move it aside to start afresh (every paper is then new again)"
        )
    _check_ours(db, path, tables)


def _check_ours(db: sqlite3.Connection, path: Path, tables: set[str]) -> None:
    ours = {m.__name__ for m in MIGRATIONS}
    applied = set()
    if "migrations" in tables:
        applied = {str(row[0]) for row in db.execute("SELECT name FROM migrations")}
    if not applied & ours:
        shown = ", ".join(sorted(tables)[:4]).encode("unicode_escape").decode("ascii")
        raise StoreError(
            f"{path} is an SQLite file of another program (tables: {shown});"
            f" {KEEP} and set DIGEST_STATE or --state to a digest state file or a new path"
        )
    if newer := sorted(applied - ours):
        raise StoreError(
            f"state file {path} was written by a newer version of digest (it has {newer[0]});"
            f" {KEEP} and upgrade digest"
        )


LONGEST_BACKOFF = timedelta(hours=6)  # a failed delivery is retried at least this often


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# Times digest wrote lie between these; anything else in the file is not one of them.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
NO_TIME = datetime(1970, 1, 1, tzinfo=UTC)  # stands in where a time is required


def timestamp(value: object) -> datetime | None:
    """A time read back from the state file, or None when it holds none. A value that is not
    a time digest could have written (garbage, year 9999) counts as none, with a warning, so
    that one damaged value costs only itself."""
    if value is None or value == "":
        return None
    try:
        moment = datetime.fromisoformat(str(value))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        if EARLIEST <= moment <= LATEST:
            return moment
    except (ValueError, OverflowError):
        pass
    shown = str(value)[:40].encode("unicode_escape").decode("ascii")
    log.warning("the state file holds %r where a time should be; taken as no time", shown)
    return None


class Store:
    """The SQLite state file. Open with `Store.open(path)`; use as a context manager."""

    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self.db = db
        self.path = path

    @classmethod
    def open(cls, path: Path) -> Store:
        """Open (creating if needed, owner-only) and migrate the state file at `path`.

        An existing file is checked before anything is written to it: it must be a sound
        SQLite file (quick_check), digest's own, and not from a newer digest."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.exists():
                _warn_if_exposed(path)
                _refuse_hard_links(path)
            else:
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
            db = sqlite3.connect(path, timeout=30, isolation_level=None)
        except OSError as e:
            raise StoreError(f"state file {path} cannot be created: {e.strerror}") from None
        except sqlite3.DatabaseError as e:
            raise StoreError(f"state file {path} cannot be opened: {e}") from None
        try:
            db.row_factory = sqlite3.Row
            _check(db, path)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA foreign_keys=ON")
            store = cls(db, path)
            store._migrate()
        except StoreError:
            db.close()
            raise
        except sqlite3.DatabaseError as e:
            db.close()
            kind = getattr(e, "sqlite_errorname", "")
            if kind == CHANGED_UNDER_US:
                raise StateChanged(
                    f"state file {path} cannot be used ({e}): it changed under a running"
                    " `digest serve` (its -wal file deleted?); restart the service"
                ) from None
            if kind.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
                raise StoreError(
                    f"state file {path} cannot be used ({e}); {KEEP} and restore a backup, or"
                    " move it aside to start afresh (every paper is then new again)"
                ) from None
            raise StoreError(f"state file {path} cannot be used: {e}") from None
        return store

    def reopen(self) -> None:
        """A new connection to the same file, after the old one failed (its -wal file was
        deleted, say)."""
        with contextlib.suppress(sqlite3.Error):
            self.db.close()
        self.db = Store.open(self.path).db

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction, taken at once so concurrent writers queue up.

        A failure of the file itself (disk full, I/O error) becomes a StoreError; the
        transaction is rolled back, so the state stays as it was before."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
                self.db.execute("COMMIT")
            except BaseException:
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK")
                raise
        except sqlite3.OperationalError as e:
            raise StoreError(f"state file {self.path} cannot be written: {e}") from None

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the run lock: one run at a time per state file, across processes, whatever
        name (a symbolic link, a relative path) each gives it."""
        lock_path = lock_file(self.path, ".lock")
        fd = os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock, also when the process dies

    @contextlib.contextmanager
    def bulk(self, cache_mb: int = 256) -> Iterator[None]:
        """A large page cache while a backlog is written: the index's inserts land all over
        it, and re-reading pages from the file is what makes a big ingest slow."""
        before = self.db.execute("PRAGMA cache_size").fetchone()[0]
        self.db.execute(f"PRAGMA cache_size = {-cache_mb * 1024}")
        try:
            yield
        finally:
            self.db.execute(f"PRAGMA cache_size = {int(before)}")

    def _migrate(self) -> None:
        with self.transaction() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TEXT)"
            )
            done = {row[0] for row in db.execute("SELECT name FROM migrations")}
            for migration in MIGRATIONS:
                if migration.__name__ not in done:
                    migration(db)
                    db.execute("INSERT INTO migrations VALUES (?, ?)", (migration.__name__, _now()))

    # -- reading -------------------------------------------------------------------------

    def known_dumps(self, hashes: Iterable[str]) -> set[str]:
        """Which of these content hashes were ingested (or rejected) before."""
        hashes = list(hashes)
        found: set[str] = set()
        for chunk in _chunks(hashes):
            sql = f"SELECT sha256 FROM dumps WHERE sha256 IN ({','.join('?' * len(chunk))})"
            found.update(row[0] for row in self.db.execute(sql, chunk))
        return found

    def ingested_dumps(self, hashes: Iterable[str]) -> set[str]:
        """Which of these content hashes were ingested (read and recorded, not rejected)."""
        sql = "SELECT 1 FROM dumps WHERE sha256 = ? AND status = 'ingested'"
        return {sha for sha in hashes if self.db.execute(sql, (sha,)).fetchone()}

    def service_state(self) -> dict[str, str]:
        """What `digest serve` recorded about itself: last and next runs, pid, schedule."""
        return {row[0]: row[1] for row in self.db.execute("SELECT key, value FROM service_state")}

    def lookup(self, keys: Iterable[str]) -> dict[str, SeenPaper]:
        """The stored papers recorded under any of these identity keys."""
        found: dict[str, SeenPaper] = {}
        for chunk in _chunks(list(set(keys))):
            sql = (
                f"SELECT k.key, p.id, p.title, p.first_seen, p.first_dump, {_ARXIV_IDS}"
                " FROM paper_keys k JOIN papers p ON p.id = k.paper_id"
                f" WHERE k.key IN ({','.join('?' * len(chunk))})"
            )
            for row in self.db.execute(sql, chunk):
                found[row[0]] = _seen(*row[1:])
        return found

    def outgoing(self, *, status: str, due: datetime | None = None) -> list[Outgoing]:
        """Digests with this status, oldest first; with `due`, only those due for a retry."""
        sql, args = "SELECT * FROM digests WHERE status = ?", [status]
        if due is not None:
            # A retry set further ahead than the longest backoff means the clock was turned
            # back since: the digest is due now rather than in however long the jump was.
            sql += " AND (next_attempt_at IS NULL OR next_attempt_at <= ? OR next_attempt_at > ?)"
            args.append(due.astimezone(UTC).isoformat(timespec="seconds"))
            args.append((due + LONGEST_BACKOFF).astimezone(UTC).isoformat(timespec="seconds"))
        return [_outgoing(row) for row in self.db.execute(sql + " ORDER BY id", args)]

    def get(self, digest_id: int) -> Outgoing | None:
        """One digest of the outbox by id."""
        if not 0 < digest_id < 2**63:  # no SQLite row has it, and SQLite cannot even look
            return None
        row = self.db.execute("SELECT * FROM digests WHERE id = ?", (digest_id,)).fetchone()
        return _outgoing(row) if row else None

    def recent(self, limit: int = 10) -> list[Outgoing]:
        """The most recent digests of any status, newest first."""
        rows = self.db.execute("SELECT * FROM digests ORDER BY id DESC LIMIT ?", (limit,))
        return [_outgoing(row) for row in rows]

    def rejected_dumps(self, limit: int = 20) -> list[Rejected]:
        """Dumps that could not be read, newest first."""
        rows = self.db.execute(
            "SELECT name, reason FROM dumps WHERE status = 'rejected' ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [Rejected(row[0], row[1]) for row in rows]

    def untold_rejections(self) -> list[tuple[Rejected, str]]:
        """Dumps that could not be read and that no delivered digest has named yet (none
        has, or the one that did failed for good), with their keys, oldest first."""
        rows = self.db.execute(
            "SELECT name, reason, sha256 FROM dumps WHERE status = 'rejected' AND (digest_id"
            " IS NULL OR digest_id IN (SELECT id FROM digests WHERE status = 'failed'))"
            " ORDER BY id"
        )
        return [(Rejected(row[0], row[1]), row[2]) for row in rows]

    def counts(self) -> dict[str, int]:
        """Papers seen, papers pending, dumps ingested."""
        one = self.db.execute
        return {
            "papers_seen": one("SELECT count(*) FROM papers WHERE seen = 1").fetchone()[0],
            "papers_pending": one("SELECT count(*) FROM papers WHERE seen = 0").fetchone()[0],
            "dumps": one("SELECT count(*) FROM dumps WHERE status='ingested'").fetchone()[0],
        }

    # -- writing -------------------------------------------------------------------------

    def record(
        self,
        dumps: Sequence[Dump],
        rejected: Sequence[tuple[Rejected, str]],
        papers: Sequence[tuple[Paper, Sequence[str]]],
        outgoing: Outgoing | None = None,
        *,
        seen: bool = False,
        known: Sequence[tuple[int, Sequence[str]]] = (),
        revised: Sequence[tuple[int, Paper]] = (),
    ) -> int | None:
        """Record, in one transaction, the dumps of a run, the rejected files its digest
        names (with their keys), its new papers with their identity keys, and the digest
        that shows them (as pending). Returns the digest's id. With `seen`, the papers count
        as seen at once (a backlog ingested without a digest). `known` adds keys to stored
        papers (by id) that this run's listings taught; `revised` keeps their revised
        abstracts."""
        now = _now()
        with self.transaction() as db:
            db.executemany(
                "INSERT OR IGNORE INTO paper_keys VALUES (?, ?)",
                [(key, paper_id) for paper_id, ks in known for key in ks],
            )
            _revise(db, revised)
            digest_id = None
            if outgoing is not None:
                digest_id = db.execute(
                    "INSERT INTO digests (created_at, status, message_id, subject, paper_count,"
                    " html, text, markdown, json, eml) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (
                        outgoing.created.isoformat(),
                        "pending",
                        outgoing.message_id,
                        outgoing.subject,
                        outgoing.paper_count,
                        outgoing.html,
                        outgoing.text,
                        outgoing.markdown,
                        outgoing.json,
                        outgoing.eml,
                    ),
                ).lastrowid
            db.executemany(
                "INSERT OR IGNORE INTO dumps (sha256, name, listing_date, paper_count, status,"
                " digest_id, ingested_at) VALUES (?,?,?,?, 'ingested', ?, ?)",
                [(d.sha256, d.name, d.listing_date, len(d.papers), digest_id, now) for d in dumps],
            )
            db.executemany(
                "INSERT OR IGNORE INTO dumps (sha256, name, paper_count, status, reason,"
                " ingested_at) VALUES (?, ?, 0, 'rejected', ?, ?)",
                [(sha, r.file, r.reason, now) for r, sha in rejected],
            )
            if digest_id is not None:  # the digest names them: told once it is delivered
                db.executemany(
                    "UPDATE dumps SET digest_id = ? WHERE sha256 = ? AND status = 'rejected'",
                    [(digest_id, sha) for _, sha in rejected],
                )
            for paper, keys in papers:
                paper_id = db.execute(
                    "INSERT INTO papers (title, abstract, first_dump, listing_date, first_seen,"
                    " digest_id, seen) VALUES (?,?,?,?,?,?,?)",
                    (
                        paper.title,
                        paper.abstract,
                        paper.source,
                        paper.listing_date,
                        now,
                        digest_id,
                        int(seen),
                    ),
                ).lastrowid
                assert paper_id is not None
                _index(db, paper_id, paper, keys)
        return digest_id

    def record_seen(
        self, dumps: Sequence[Dump], papers: Sequence[tuple[Paper, Sequence[str], Sequence[int]]]
    ) -> None:
        """Record a batch of a backlog as seen at once, in one transaction: the dumps, and the
        papers with their identity keys and candidate-index grams (computed by the caller,
        which may do so in parallel)."""
        import numpy as np

        now = _now()
        with self.transaction() as db:
            db.executemany(
                "INSERT OR IGNORE INTO dumps (sha256, name, listing_date, paper_count, status,"
                " ingested_at) VALUES (?,?,?,?, 'ingested', ?)",
                [(d.sha256, d.name, d.listing_date, len(d.papers), now) for d in dumps],
            )
            if not papers:
                return
            first = db.execute("SELECT coalesce(max(id), 0) + 1 FROM papers").fetchone()[0]
            ids = range(first, first + len(papers))
            db.executemany(
                "INSERT INTO papers (id, title, abstract, first_dump, listing_date, first_seen,"
                " seen) VALUES (?,?,?,?,?,?,1)",
                [
                    (i, p.title, p.abstract, p.source, p.listing_date, now)
                    for i, (p, _, _) in zip(ids, papers, strict=True)
                ],
            )
            # In index order, the inserts walk each index once instead of all over it: on a
            # large store that halves the time of a backlog.
            db.executemany(
                "INSERT OR IGNORE INTO paper_keys VALUES (?, ?)",
                sorted((k, i) for i, (_, keys, _) in zip(ids, papers, strict=True) for k in keys),
            )
            counts = [len(grams) for _, _, grams in papers]
            gram = np.fromiter(
                (g for _, _, grams in papers for g in grams), dtype=np.int64, count=sum(counts)
            )
            owner = np.repeat(np.arange(first, first + len(papers), dtype=np.int64), counts)
            order = np.lexsort((owner, gram))
            db.executemany(
                "INSERT OR IGNORE INTO paper_grams VALUES (?, ?)",
                zip(gram[order].tolist(), owner[order].tolist(), strict=True),
            )

    def candidates(
        self, grams: Sequence[Sequence[int]], exact: Sequence[Iterable[int]] = ()
    ) -> list[list[match.Candidate]]:
        """For each paper (given by its grams), the stored papers sharing the most uncommon
        grams with it, at most `match.CANDIDATES`, plus the stored papers of `exact[i]`."""
        from digest import match

        postings: dict[int, list[int]] = {}
        for gram in {g for gs in grams for g in gs}:
            rows = self.db.execute(
                "SELECT paper_id FROM paper_grams WHERE gram = ? LIMIT ?", (gram, COMMON + 1)
            ).fetchall()
            if len(rows) <= COMMON:
                postings[gram] = [row[0] for row in rows]
        chosen: list[list[int]] = []
        for i, paper_grams in enumerate(grams):
            ids = match.best_shared([postings.get(gram, []) for gram in paper_grams])
            extra = exact[i] if i < len(exact) else ()
            chosen.append(list(dict.fromkeys([*extra, *ids])))
        found = self._papers({paper_id for ids in chosen for paper_id in ids})
        return [[found[paper_id] for paper_id in ids if paper_id in found] for ids in chosen]

    def _papers(self, ids: Iterable[int]) -> dict[int, match.Candidate]:
        from digest import match

        found: dict[int, match.Candidate] = {}
        for chunk in _chunks(list(ids)):
            sql = (
                f"SELECT p.id, p.title, p.first_seen, p.first_dump, {_ARXIV_IDS}, p.abstract"
                f" FROM papers p WHERE p.id IN ({','.join('?' * len(chunk))})"
            )
            for row in self.db.execute(sql, chunk):
                found[row[0]] = match.Candidate(_seen(*row[:5]), row[1], row[5])
        return found

    def search(self, query: str, limit: int = 20) -> list[tuple[match.Candidate, float]]:
        """Stored papers whose titles best match `query` (words, typos forgiven), best first,
        with their score (0-100)."""
        from digest import match

        wanted = match.normalise(query)
        if not wanted:
            return []
        shared: Counter[int] = Counter()
        for gram in match.title_grams(wanted):
            shared.update(
                row[0]
                for row in self.db.execute(
                    "SELECT paper_id FROM paper_grams WHERE gram = ? LIMIT 20000", (gram,)
                )
            )
        ids = [paper_id for paper_id, _ in shared.most_common(2000)]
        titles = {pid: c.title for pid, c in self._papers(ids).items()}
        hits = self._rank(wanted, titles, limit)
        if not hits or hits[0][1] < 100:
            # No title has every word of the query as typed (a typo, or words the index
            # does not hold on their own): compare with every title. Slower (seconds on a
            # million papers), but it finds what is there.
            hits = []
            rows = self.db.execute("SELECT id, title FROM papers")
            while chunk := rows.fetchmany(100_000):  # a chunk at a time keeps memory flat
                hits = sorted([*hits, *self._rank(wanted, dict(chunk), limit)], key=lambda h: -h[1])
                hits = hits[:limit]
        found = self._papers(key for _, _, key in hits)
        return [(found[key], score) for _, score, key in hits if key in found]

    @staticmethod
    def _rank(query: str, titles: dict[int, str], limit: int) -> list[tuple[str, float, int]]:
        from rapidfuzz import fuzz, process

        from digest import match

        words = query.split()
        rough: list[tuple[str, float, int]] = [(t, 0, k) for k, t in titles.items()]
        if len(titles) > 2000:
            # A first cut in C on the longest (likely rarest) word of the query, wherever
            # it sits in the title, typos forgiven.
            rough = process.extract(
                max(words, key=len),
                titles,
                scorer=fuzz.partial_ratio,
                processor=match.normalise,
                limit=2000,
                score_cutoff=50,
            )
        # Then each query word's best match among the title's words: "fentrixgran networks"
        # finds "... Fentrixigran Networks ..." before "Networks for".

        def score(title: str) -> float:
            own = match.normalise(title).split()
            best = [max(fuzz.ratio(w, t) for t in own) for w in words]
            return sum(best) / len(best)

        ranked = sorted(((t, score(t), k) for t, _, k in rough), key=lambda hit: -hit[1])
        return [hit for hit in ranked[:limit] if hit[1] >= 60]

    def forget(self, ids: Iterable[int]) -> list[match.Candidate]:
        """Remove these papers (their keys and index entries too) so they can be shown again;
        returns the ones that were there."""
        from digest import match

        found = self._papers(ids)
        with self.transaction() as db:
            for paper_id, candidate in found.items():
                paper = Paper(candidate.title, candidate.abstract)
                db.executemany(
                    "DELETE FROM paper_grams WHERE gram = ? AND paper_id = ?",
                    [(gram, paper_id) for gram in match.grams(paper)],
                )
                db.execute("DELETE FROM paper_keys WHERE paper_id = ?", (paper_id,))
                db.execute("DELETE FROM papers WHERE id = ?", (paper_id,))
        return list(found.values())

    def mark_sent(
        self, digest_id: int, note: str | None = None, at: datetime | None = None
    ) -> None:
        """The digest was delivered (`at`, by default now): it is sent and its papers are
        seen. `note` says how."""
        when = at.astimezone(UTC).isoformat(timespec="seconds") if at else _now()
        with self.transaction() as db:
            db.execute(
                "UPDATE digests SET status='sent', sent_at=?, last_error=NULL,"
                " attempts=attempts+1, delivery_note=? WHERE id=?",
                (when, note, digest_id),
            )
            db.execute("UPDATE papers SET seen=1 WHERE digest_id=?", (digest_id,))

    def mark_retry(self, digest_id: int, error: str, retry_at: datetime) -> None:
        """Delivery failed for now: keep the digest pending, to be retried from `retry_at`."""
        when = retry_at.astimezone(UTC).isoformat(timespec="seconds")
        with self.transaction() as db:
            db.execute(
                "UPDATE digests SET attempts=attempts+1, last_error=?, next_attempt_at=?"
                " WHERE id=?",
                (error, when, digest_id),
            )

    def mark_failed(self, digest_id: int, error: str) -> None:
        """Delivery was refused for good: the digest stays visible and can be resent."""
        with self.transaction() as db:
            db.execute(
                "UPDATE digests SET status='failed', attempts=attempts+1, last_error=? WHERE id=?",
                (error, digest_id),
            )

    def prune(self, before: datetime) -> int:
        """Pack the parts of digests sent before `before` into one compressed value (`pack`):
        `digest resend` still delivers each exactly as it was. Returns how many were packed."""
        cutoff = before.astimezone(UTC).isoformat(timespec="seconds")
        ids = [
            row[0]
            for row in self.db.execute(
                "SELECT id FROM digests WHERE status = 'sent' AND packed IS NULL AND sent_at < ?",
                (cutoff,),
            )
        ]
        for chunk in _chunks(ids, 20):  # short transactions, a few digests at a time
            with self.transaction() as db:
                for digest_id in chunk:
                    row = db.execute(
                        f"SELECT {', '.join(PARTS)}, eml FROM digests WHERE id = ?", (digest_id,)
                    ).fetchone()
                    db.execute(
                        "UPDATE digests SET html = '', text = '', markdown = '', json = '',"
                        " eml = NULL, packed = ? WHERE id = ?",
                        (pack([str(row[p]) for p in PARTS], row["eml"]), digest_id),
                    )
        return len(ids)

    def set_service_state(self, **values: str | None) -> None:
        """Record values about `digest serve` in one transaction; None removes one."""
        now = _now()
        with self.transaction() as db:
            for key, value in values.items():
                if value is None:
                    db.execute("DELETE FROM service_state WHERE key = ?", (key,))
                else:
                    db.execute(
                        "INSERT OR REPLACE INTO service_state VALUES (?, ?, ?)", (key, value, now)
                    )

    def requeue(self, digest_id: int) -> None:
        """Put a failed (or sent) digest back in the outbox to be delivered again."""
        with self.transaction() as db:
            db.execute(
                "UPDATE digests SET status='pending', next_attempt_at=NULL WHERE id=?",
                (digest_id,),
            )


# A stored paper's arXiv ids: its "x:" identity keys, space-separated.
_ARXIV_IDS = (
    "(SELECT group_concat(substr(x.key, 3), ' ') FROM paper_keys x"
    " WHERE x.paper_id = p.id AND x.key >= 'x:' AND x.key < 'x;')"
)


def _seen(
    paper_id: int, title: str, first_seen: str, first_dump: str, arxiv_ids: str | None
) -> SeenPaper:
    ids = tuple(arxiv_ids.split()) if arxiv_ids else ()
    return SeenPaper(paper_id, title, timestamp(first_seen) or NO_TIME, first_dump, ids)


def _chunks(items: Sequence[T], size: int = 500) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def pack(parts: Sequence[str], eml: bytes | None) -> bytes:
    """A digest's rendered parts and mail message as one LZMA-compressed value. Together, for
    they repeat each other (the mail holds the HTML and text again): a twelfth of their size
    where zlib, part by part, keeps a third."""
    import lzma
    import struct

    data = [p.encode("utf-8") for p in parts] + [eml or b""]
    lengths = [len(d) for d in data[:-1]] + [-1 if eml is None else len(eml)]
    return lzma.compress(struct.pack(f">{len(data)}q", *lengths) + b"".join(data))


def unpack(packed: bytes) -> tuple[list[str], bytes | None]:
    """The parts and mail message that `pack` packed."""
    import lzma
    import struct

    data = lzma.decompress(packed)
    count = len(PARTS) + 1
    lengths = struct.unpack_from(f">{count}q", data)
    at, found = 8 * count, []
    for length in lengths:
        found.append(data[at : at + max(length, 0)])
        at += max(length, 0)
    eml = None if lengths[-1] < 0 else found[-1]
    return [f.decode("utf-8") for f in found[:-1]], eml


def _outgoing(row: sqlite3.Row) -> Outgoing:
    parts = {p: row[p] for p in PARTS}
    eml = row["eml"]
    if row["packed"] is not None:
        texts, eml = unpack(row["packed"])
        parts = dict(zip(PARTS, texts, strict=True))
    return Outgoing(
        id=row["id"],
        created=timestamp(row["created_at"]) or NO_TIME,
        status=row["status"],
        message_id=row["message_id"],
        subject=row["subject"],
        paper_count=row["paper_count"],
        eml=eml,
        **parts,
        attempts=row["attempts"],
        last_error=row["last_error"],
        sent_at=timestamp(row["sent_at"]),
        next_attempt=timestamp(row["next_attempt_at"]),
        delivery_note=row["delivery_note"],
    )
