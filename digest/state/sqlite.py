"""The SQLite backend: the state in one file.

WAL mode with a busy timeout; every write is one short `BEGIN IMMEDIATE` transaction and none
is held open across delivery. An existing file is checked before anything is written to it.
The store is made of small parts, each over its own tables: the connection (`_Connection`:
opening, checks, transactions, locks, bulk mode), the dumps log, the catalogue of papers
(with their keys and candidate-index postings), the outbox, and the service's state.
`SqliteStore.record` is the one write that spans them, in one transaction.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import logging
import os
import sqlite3
import struct
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path

from digest.errors import StoreError
from digest.models import Dump, Outgoing, Paper, ReaderState, Rejected, SeenPaper, StoredPaper
from digest.redact import keep_secret
from digest.state import LONGEST_BACKOFF, StateChanged, access_problem, lock_file, now
from digest.state.migrations import MIGRATIONS, file_under, migrate
from digest.state.rows import (
    DESCRIBED,
    OUTCOME,
    contents,
    described,
    envelope_text,
    letter_row,
    outbox,
    pack,
    paper_data,
    paper_of,
    parts_text,
    reader_state,
    seen_paper,
    taken_in,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TypeVar

    from digest.identity.decide import Identified

    T = TypeVar("T")

log = logging.getLogger(__name__)

# What SQLite says when the -wal file was deleted under a connection still open elsewhere.
CHANGED_UNDER_US = "SQLITE_IOERR_SHORT_READ"


def _warn_if_exposed(path: Path) -> None:
    mode = path.stat().st_mode
    if mode & 0o077:
        log.warning(
            "state file %s can be read by other users (mode %o); run: chmod 600 %s",
            path,
            mode & 0o777,
            path,
        )


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


def open(path: Path | str, *, readonly: bool = False) -> SqliteStore:
    """Open (creating if needed, owner-only) and migrate the state file at `path`; with
    `readonly`, only read it (see `_reading`)."""
    return SqliteStore.open(Path(path), readonly=readonly)


# What SQLite says when the file or its folder may not be opened, created or written.
_REFUSED = ("SQLITE_CANTOPEN", "SQLITE_READONLY", "SQLITE_PERM", "SQLITE_AUTH")


def _reading(path: Path) -> sqlite3.Connection | None:
    """A connection that only reads the state file at `path`, whoever may write it: nothing
    is created, migrated or written (the connection refuses any write). None when the file
    was written by an older digest and must be migrated first.

    A file this process may write is opened as usual, so that SQLite tidies its -wal and
    -shm files on closing; one it may only read is opened read-only; in a folder it may not
    write (where SQLite cannot make the -shm file a read-only reader needs), as immutable,
    safe as long as no -wal file says a writer is at work. A file not there yet reads as an
    empty state, made in memory."""
    try:
        there = path.exists()
    except OSError as e:
        raise StoreError(f"state file {path} cannot be read: {e.strerror}") from None
    if not there:
        db = sqlite3.connect(":memory:", isolation_level=None)
        migrate(db, now())
        db.execute("PRAGMA query_only = ON")
        db.row_factory = sqlite3.Row
        return db
    _warn_if_exposed(path)
    _refuse_hard_links(path)
    wal = path.with_name(path.name + "-wal")
    ways = ["mode=rw", "mode=ro"]
    if not (wal.exists() and wal.stat().st_size):
        ways.append("mode=ro&immutable=1")
    if not (os.access(path, os.W_OK) and os.access(path.parent.absolute(), os.W_OK)):
        ways.remove("mode=rw")
    for way in ways:
        try:
            db, current = _read_only(path, way)
        except sqlite3.DatabaseError as e:
            if way != ways[-1] and getattr(e, "sqlite_errorname", "").startswith(_REFUSED):
                continue
            raise StoreError(_unusable(path, e, "read")) from None
        if current:
            return db
        db.close()
        return None
    raise AssertionError("unreachable: the last way returns or raises")  # pragma: no cover


def _read_only(path: Path, way: str) -> tuple[sqlite3.Connection, bool]:
    """A connection to the state file opened `way` (SQLite's URI parameters) that refuses
    any write, checked as `_check` does, and whether its schema is this digest's."""
    db = sqlite3.connect(f"{path.absolute().as_uri()}?{way}", uri=True, timeout=30)
    try:
        db.execute("PRAGMA query_only = ON")
        db.row_factory = sqlite3.Row
        _check(db, path)
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        applied = set()
        if "migrations" in tables:
            applied = {str(row[0]) for row in db.execute("SELECT name FROM migrations")}
    except BaseException:
        db.close()
        raise
    return db, not {m.__name__ for m in MIGRATIONS} - applied


def _unusable(path: Path, error: BaseException, doing: str) -> str:
    """One line saying why the state file at `path` cannot be `doing` (read, written,
    upgraded): who owns what keeps this process out, when it is a matter of permissions,
    else the error itself."""
    problem = access_problem(path, writing=doing != "read")
    if problem:
        return (
            f"state file {path} cannot be {doing}: {problem}, or set DIGEST_STATE (or --state)"
            " to a state file of your own"
        )
    kind = getattr(error, "sqlite_errorname", "")
    if kind.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return (
            f"state file {path} cannot be used ({error}); {KEEP} and restore a backup, or"
            " move it aside to start afresh (every paper is then new again)"
        )
    why = error.strerror if isinstance(error, OSError) and error.strerror else error
    return f"state file {path} cannot be {doing}: {why}"


def _text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


class _Connection:
    """The connection to the state file, its checks on opening, transactions and locks."""

    shared = False  # one `digest serve` per state file

    def __init__(self, db: sqlite3.Connection, path: Path, readonly: bool = False) -> None:
        self.db = db
        self.path = path
        self.readonly = readonly
        self._leading: list[int] = []
        self._claims: int | None = None  # the claims file, open once a digest is claimed

    @classmethod
    def connect(cls, path: Path, readonly: bool = False) -> sqlite3.Connection:
        """A checked, migrated connection to the state file at `path` (with `readonly`, one
        that only reads it, unless it must be migrated first).

        An existing file is checked before anything is written to it: it must be a sound
        SQLite file (quick_check), digest's own, and not from a newer digest."""
        doing = "written"
        if readonly:
            if (reading := _reading(path)) is not None:
                return reading
            doing = "upgraded for this version of digest"  # an older digest wrote it
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.exists():
                _warn_if_exposed(path)
                _refuse_hard_links(path)
            else:
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
            db = sqlite3.connect(path, timeout=30, isolation_level=None)
        except OSError as e:
            if access_problem(path, writing=True):
                raise StoreError(_unusable(path, e, doing)) from None
            raise StoreError(f"state file {path} cannot be created: {e.strerror}") from None
        except sqlite3.DatabaseError as e:
            if access_problem(path, writing=True):
                raise StoreError(_unusable(path, e, doing)) from None
            raise StoreError(f"state file {path} cannot be opened: {e}") from None
        try:
            db.row_factory = sqlite3.Row
            _check(db, path)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA foreign_keys=ON")
            with _transaction(db, path):
                migrate(db, now())
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
            if kind.startswith(_REFUSED) or kind.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
                raise StoreError(_unusable(path, e, doing)) from None
            raise StoreError(f"state file {path} cannot be used: {e}") from None
        return db

    def reopen(self) -> None:
        """A new connection to the same file, after the old one failed (its -wal file was
        deleted, say)."""
        with contextlib.suppress(sqlite3.Error):
            self.db.close()
        self.db = self.connect(self.path, self.readonly)

    def close(self) -> None:
        """Close the connection (and let go of the lead of `digest serve`)."""
        self.db.close()
        while self._leading:
            os.close(self._leading.pop())
        if self._claims is not None:
            os.close(self._claims)  # and with it go the claims (see `_claim_lock`)
            self._claims = None

    def transaction(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """One short write transaction, taken at once so concurrent writers queue up."""
        return _transaction(self.db, self.path)

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

    def lead(self) -> bool:
        """Take the lead of `digest serve` (the state file's service lock) if it is free."""
        fd = os.open(lock_file(self.path, ".serve.lock"), os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._leading.append(fd)  # closed with the store, or by the process's death
        return True

    def still_leading(self) -> bool:
        """Whether this store holds the lead: a lock on a file, held until it is closed."""
        return bool(self._leading)

    def _claim_lock(self, kind: int, digest_id: int = 0) -> bool:
        """Lock (F_WRLCK) or let go (F_UNLCK) of a digest's claim: the byte at the digest's
        id in the state's claims file; with id 0, let go of every claim this store holds.
        False when another holds it. An open file description lock (Linux): like the
        service lock, it is this store's, not its process's, and ends when the store closes
        the file or its process dies, so a worker killed mid-delivery lets go at once."""
        if self._claims is None:
            self._claims = os.open(lock_file(self.path, ".claims"), os.O_CREAT | os.O_RDWR, 0o600)
        # struct flock: l_type, l_whence, (padding), l_start, l_len, l_pid (0), padding.
        flock = struct.pack("hhqqi4x", kind, os.SEEK_SET, digest_id, 1 if digest_id else 0, 0)
        try:
            fcntl.fcntl(self._claims, fcntl.F_OFD_SETLK, flock)
        except (BlockingIOError, PermissionError):  # EAGAIN or EACCES: another holds it
            return False
        return True

    def serving(self) -> bool:
        """Whether a `digest serve` holds the state file's service lock."""
        try:
            fd = os.open(lock_file(self.path, ".serve.lock"), os.O_RDONLY)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False

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


@contextlib.contextmanager
def _transaction(db: sqlite3.Connection, path: Path) -> Iterator[sqlite3.Connection]:
    """`BEGIN IMMEDIATE` ... `COMMIT`. A failure of the file itself (disk full, I/O error)
    becomes a StoreError; the transaction is rolled back, so the state stays as it was."""
    try:
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
    except sqlite3.OperationalError as e:
        raise StoreError(f"state file {path} cannot be written: {e}") from None


class _DumpsLog(_Connection):
    """Which dumps were ingested or rejected, and which rejections a digest has told."""

    def known_dumps(self, hashes: Iterable[str]) -> set[str]:
        """Which of these content hashes were ingested (or rejected) before."""
        found: set[str] = set()
        for chunk in _chunks(list(hashes)):
            sql = f"SELECT sha256 FROM dumps WHERE sha256 IN ({','.join('?' * len(chunk))})"
            found.update(row[0] for row in self.db.execute(sql, chunk))
        return found

    def ingested_dumps(self, hashes: Iterable[str]) -> set[str]:
        """Which of these content hashes were ingested (read and recorded, not rejected)."""
        sql = "SELECT 1 FROM dumps WHERE sha256 = ? AND status = 'ingested'"
        return {sha for sha in hashes if self.db.execute(sql, (sha,)).fetchone()}

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

    def _ingested_count(self) -> int:
        sql = "SELECT count(*) FROM dumps WHERE status='ingested'"
        return int(self.db.execute(sql).fetchone()[0])

    @staticmethod
    def _log(
        db: sqlite3.Connection,
        dumps: Sequence[Dump],
        rejected: Sequence[tuple[Rejected, str]],
        when: str,
    ) -> None:
        db.executemany(
            "INSERT OR IGNORE INTO dumps (sha256, name, listing_date, paper_count, status,"
            " ingested_at) VALUES (?,?,?,?, 'ingested', ?)",
            [(d.sha256, d.name, d.listing_date, len(d.papers), when) for d in dumps],
        )
        db.executemany(
            "INSERT OR IGNORE INTO dumps (sha256, name, paper_count, status, reason,"
            " ingested_at) VALUES (?, ?, 0, 'rejected', ?, ?)",
            [(sha, r.file, r.reason, when) for r, sha in rejected],
        )

    @staticmethod
    def _tell(db: sqlite3.Connection, keys: Sequence[str], digest_id: int) -> None:
        """A digest names these rejected dumps: they are told once it is delivered (unless a
        digest that names them is still on its way)."""
        db.executemany(
            "UPDATE dumps SET digest_id = ? WHERE sha256 = ? AND status = 'rejected' AND"
            " (digest_id IS NULL OR digest_id IN (SELECT id FROM digests WHERE status = 'failed'))",
            [(digest_id, sha) for sha in keys],
        )


class _Catalogue(_Connection):
    """The papers shown (or about to be), filed under their identity keys and their
    candidate-index grams, with a count of papers seen and pending kept as they change."""

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
                found[row[0]] = seen_paper(*row[1:])
        return found

    def postings(self, grams: Iterable[int], limit: int) -> dict[int, list[int]]:
        """For each gram, the ids of (at most `limit`) papers filed under it."""
        sql = "SELECT paper_id FROM paper_grams WHERE gram = ? LIMIT ?"
        return {g: [row[0] for row in self.db.execute(sql, (g, limit))] for g in grams}

    def stored(self, ids: Iterable[int]) -> dict[int, StoredPaper]:
        """The stored papers with these ids, by id."""
        found: dict[int, StoredPaper] = {}
        for chunk in _chunks(list(ids)):
            sql = (
                f"SELECT p.id, p.title, p.first_seen, p.first_dump, {_ARXIV_IDS}, p.abstract"
                f" FROM papers p WHERE p.id IN ({','.join('?' * len(chunk))})"
            )
            for row in self.db.execute(sql, chunk):
                found[row[0]] = StoredPaper(seen_paper(*row[:5]), row[1], row[5])
        return found

    def titles(self, ids: Iterable[int]) -> dict[int, str]:
        """The titles of the stored papers with these ids, by id."""
        found: dict[int, str] = {}
        for chunk in _chunks(list(ids)):
            sql = f"SELECT id, title FROM papers WHERE id IN ({','.join('?' * len(chunk))})"
            found.update(self.db.execute(sql, chunk).fetchall())
        return found

    def all_titles(self) -> Iterator[dict[int, str]]:
        """Every stored paper's title by id, 100,000 at a time (memory stays flat)."""
        rows = self.db.execute("SELECT id, title FROM papers")
        while chunk := rows.fetchmany(100_000):
            yield dict(chunk)

    def remove(self, papers: Sequence[tuple[int, Sequence[int]]]) -> None:
        """Remove these papers (by id, with their grams), their keys and index entries too."""
        with self.transaction() as db:
            for paper_id, grams in papers:
                db.executemany(
                    "DELETE FROM paper_grams WHERE gram = ? AND paper_id = ?",
                    [(gram, paper_id) for gram in grams],
                )
                db.execute("DELETE FROM paper_keys WHERE paper_id = ?", (paper_id,))
                row = db.execute("DELETE FROM papers WHERE id = ? RETURNING seen", (paper_id,))
                for (seen,) in row.fetchall():
                    _count(db, seen, -1)

    def _paper_counts(self) -> tuple[int, int]:
        """Papers seen and pending, as kept by `_add`, `remove` and `mark_sent`."""
        papers = dict(self.db.execute("SELECT seen, papers FROM paper_counts").fetchall())
        return papers.get(1, 0), papers.get(0, 0)

    @staticmethod
    def _add(
        db: sqlite3.Connection,
        papers: Sequence[Identified],
        digest_id: int | None,
        seen: bool,
        when: str,
    ) -> None:
        """The one way papers are written: numbered, filed under their keys and grams, and
        counted."""
        if not papers:
            return
        first = db.execute("SELECT coalesce(max(id), 0) + 1 FROM papers").fetchone()[0]
        ids = range(first, first + len(papers))
        # Offered papers take the next positions; a backlog (seen at once) takes none.
        start = None
        if not seen:
            start = db.execute(
                "UPDATE positions SET value = value + ? WHERE name = 'catalogue'"
                " RETURNING value - ?",
                (len(papers), len(papers)),
            ).fetchone()[0]
        db.executemany(
            "INSERT INTO papers (id, title, abstract, first_dump, listing_date, first_seen,"
            " digest_id, seen, seq, listed, data) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    i,
                    *_columns(p.paper),
                    when,
                    digest_id,
                    int(seen),
                    None if start is None else start + n + 1,
                    p.paper.listed,
                    paper_data(p.paper),
                )
                for n, (i, p) in enumerate(zip(ids, papers, strict=True))
            ],
        )
        file_under(db, [(i, p.keys, p.grams) for i, p in zip(ids, papers, strict=True)])
        _count(db, int(seen), len(papers))

    @staticmethod
    def _learn(
        db: sqlite3.Connection,
        known: Sequence[tuple[int, Sequence[str]]],
        revised: Sequence[tuple[int, Identified]],
    ) -> None:
        """Keys a run's listings taught about stored papers, and their revised abstracts."""
        db.executemany(
            "INSERT OR IGNORE INTO paper_keys VALUES (?, ?)",
            [(key, paper_id) for paper_id, ks in known for key in ks],
        )
        for paper_id, paper in revised:
            sql = "UPDATE papers SET abstract = ? WHERE id = ?"
            db.execute(sql, (paper.paper.abstract, paper_id))
            file_under(db, [(paper_id, paper.keys, paper.grams)])


def _columns(paper: Paper) -> tuple[str, str, str, str | None]:
    return paper.title, paper.abstract, paper.source, paper.listing_date


def _count(db: sqlite3.Connection, seen: int, change: int) -> None:
    db.execute("UPDATE paper_counts SET papers = papers + ? WHERE seen = ?", (change, seen))


def _with_status(columns: str, status: str, due: datetime | None) -> tuple[str, list[str]]:
    """The query of the digests with this status, oldest first; with `due`, only those due
    for a retry."""
    sql, args = f"SELECT {columns} FROM digests WHERE status = ?", [status]
    if due is not None:
        # A retry set further ahead than the longest backoff means the clock was turned
        # back since: the digest is due now rather than in however long the jump was.
        sql += " AND (next_attempt_at IS NULL OR next_attempt_at <= ? OR next_attempt_at > ?)"
        args.append(due.astimezone(UTC).isoformat(timespec="seconds"))
        args.append((due + LONGEST_BACKOFF).astimezone(UTC).isoformat(timespec="seconds"))
    return sql + " ORDER BY id", args


class _Outbox(_Connection):
    """Rendered digests, pending, sent or failed, exactly as delivered."""

    def outgoing(
        self, *, status: str, due: datetime | None = None, bare: bool = False
    ) -> list[Outgoing]:
        """Digests with this status, oldest first; with `due`, only those due for a retry;
        `bare`, without their renderings and message."""
        sql, args = _with_status(DESCRIBED if bare else "*", status, due)
        return self._outbox(self.db.execute(sql, args), bare)

    def _due(self, due: datetime) -> list[int]:
        """The pending digests due at `due`, oldest first, by id."""
        return [row[0] for row in self.db.execute(*_with_status("id", "pending", due))]

    def _outbox(self, rows: sqlite3.Cursor, bare: bool = False) -> list[Outgoing]:
        """The digests of these rows, each shared rendering read once; `bare`, described."""
        return [described(row) for row in rows] if bare else outbox(rows, self._letters)

    def _letters(self, ids: list[int]) -> list[sqlite3.Row]:
        found: list[sqlite3.Row] = []
        for chunk in _chunks(ids, 500):
            marks = ",".join("?" * len(chunk))
            found += self.db.execute(f"SELECT * FROM letters WHERE id IN ({marks})", chunk)
        return found

    def get(self, digest_id: int) -> Outgoing | None:
        """One digest of the outbox by id."""
        if not 0 < digest_id < 2**63:  # no SQLite row has it, and SQLite cannot even look
            return None
        rows = self.db.execute("SELECT * FROM digests WHERE id = ?", (digest_id,))
        return next(iter(self._outbox(rows)), None)

    def recent(self, limit: int = 10, *, bare: bool = False) -> list[Outgoing]:
        """The most recent digests of any status, newest first; `bare`, described."""
        columns = DESCRIBED if bare else "*"
        rows = self.db.execute(f"SELECT {columns} FROM digests ORDER BY id DESC LIMIT ?", (limit,))
        return self._outbox(rows, bare)

    @staticmethod
    def _add_digest(db: sqlite3.Connection, outgoing: Outgoing, period: str | None = None) -> int:
        """Store a digest as pending: made from a shared rendering, the rendering once (for
        every reader it is for) and what is the reader's own; otherwise all of it."""
        parts, eml, letter, own = None, None, None, None
        if outgoing.shared is None:
            parts, eml = parts_text(outgoing.parts), outgoing.eml
        else:  # the rendering is written (and turned into JSON) by its first reader only
            key = outgoing.shared.marks[1]
            found = db.execute("SELECT id FROM letters WHERE key = ?", (key,)).fetchone()
            if found is None:
                found = db.execute(
                    "INSERT INTO letters (key, marks, parts, eml) VALUES (?,?,?,?) RETURNING id",
                    letter_row(outgoing.shared),
                ).fetchone()
            letter, own = found[0], envelope_text(outgoing.shared)
        digest_id = db.execute(
            "INSERT INTO digests (created_at, status, message_id, subject, paper_count,"
            " parts, eml, reader_id, after_seq, upto_seq, period, letter_id, envelope)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                outgoing.created.isoformat(),
                "pending",
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
        ).lastrowid
        assert digest_id is not None
        return digest_id

    def claim(self, digest_id: int) -> bool:
        """Take a pending digest for delivery unless another worker holds it: held until this
        store claims another or closes, or its process dies. A worker delivers one digest
        at a time, so asking for the next means it is done with the last."""
        self._claim_lock(fcntl.F_UNLCK)
        return self._hold(digest_id, None)

    def claim_due(self, due: datetime) -> Outgoing | None:
        """Take the oldest pending digest due at `due` that no worker holds, held as `claim`
        holds it: those another worker holds are skipped, not waited for."""
        self._claim_lock(fcntl.F_UNLCK)
        for digest_id in self._due(due):
            if self._hold(digest_id, due):
                return self.get(digest_id)
        return None

    def _hold(self, digest_id: int, due: datetime | None) -> bool:
        """Lock this digest's claim and check that it is still pending (and due): its holder
        may have delivered it and let go since it was read."""
        if not self._claim_lock(fcntl.F_WRLCK, digest_id):
            return False
        pending = digest_id in self._due(due) if due else self._pending(digest_id)
        if not pending:
            self._claim_lock(fcntl.F_UNLCK, digest_id)
        return pending

    def _pending(self, digest_id: int) -> bool:
        sql = "SELECT 1 FROM digests WHERE id = ? AND status = 'pending'"
        return self.db.execute(sql, (digest_id,)).fetchone() is not None

    def mark_sent(
        self, digest_id: int, note: str | None = None, at: datetime | None = None
    ) -> None:
        """The digest was delivered (`at`, by default now): it is sent and its papers are
        seen. `note` says how."""
        when = at.astimezone(UTC).isoformat(timespec="seconds") if at else now()
        with self.transaction() as db:
            db.execute(
                "UPDATE digests SET status='sent', sent_at=?, last_error=NULL, lease_until=NULL,"
                f" {OUTCOME}, delivery_note=? WHERE id=?",
                (when, note, digest_id),
            )
            sql = (
                "UPDATE papers SET seen=1 WHERE seen=0 AND seq > (SELECT after_seq FROM digests"
                " WHERE id=?) AND seq <= (SELECT upto_seq FROM digests WHERE id=?)"
            )
            shown = db.execute(sql, (digest_id, digest_id)).rowcount
            _count(db, 0, -shown)
            _count(db, 1, shown)

    def attempt(self, digest_id: int, retry_at: datetime) -> int:
        """Record, before a delivery, that it is tried: one more attempt, whose outcome is
        unknown until it is recorded, and none again before `retry_at` unless it is. Returns
        how many attempts in a row before this one ended with no outcome recorded."""
        with self.transaction() as db:
            row = db.execute(
                "UPDATE digests SET attempts=attempts+1, unrecorded=unrecorded+1,"
                " next_attempt_at=? WHERE id=? RETURNING unrecorded-1",
                (_text(retry_at), digest_id),
            ).fetchone()
        return int(row[0]) if row else 0

    def mark_retry(self, digest_id: int, error: str, retry_at: datetime) -> None:
        """Delivery failed for now: keep the digest pending, to be retried from `retry_at`."""
        when = retry_at.astimezone(UTC).isoformat(timespec="seconds")
        with self.transaction() as db:
            db.execute(
                f"UPDATE digests SET {OUTCOME}, last_error=?, next_attempt_at=?,"
                " lease_until=NULL WHERE id=?",
                (error, when, digest_id),
            )

    def mark_failed(self, digest_id: int, error: str) -> None:
        """Delivery was refused for good: the digest stays visible and can be resent."""
        with self.transaction() as db:
            db.execute(
                f"UPDATE digests SET status='failed', {OUTCOME}, last_error=?,"
                " lease_until=NULL WHERE id=?",
                (error, digest_id),
            )

    def prune(self, before: datetime) -> int:
        """Pack the parts of digests sent before `before` into one compressed value (`pack`):
        `digest resend` still delivers each exactly as it was. Returns how many were packed."""
        cutoff = before.astimezone(UTC).isoformat(timespec="seconds")
        packed = 0
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
            ids = [row[0] for row in self.db.execute(old, (cutoff,))]
            for chunk in _chunks(ids, 20):  # short transactions, a few at a time
                with self.transaction() as db:
                    for row_id in chunk:
                        row = db.execute(
                            f"SELECT * FROM {table} WHERE id = ?", (row_id,)
                        ).fetchone()
                        db.execute(
                            f"UPDATE {table} SET parts = NULL, eml = NULL, packed = ? WHERE id = ?",
                            (pack(*contents(row)), row_id),
                        )
            packed += len(ids)
        return packed

    def requeue(self, digest_id: int) -> None:
        """Put a failed (or sent) digest back in the outbox to be delivered again."""
        with self.transaction() as db:
            db.execute(
                "UPDATE digests SET status='pending', next_attempt_at=NULL, lease_until=NULL,"
                " unrecorded=0 WHERE id=?",
                (digest_id,),
            )


class _ServiceState(_Connection):
    """A few named values `digest serve` keeps across restarts and `digest status` shows."""

    def service_state(self) -> dict[str, str]:
        """What `digest serve` recorded about itself: last and next runs, pid, schedule."""
        return {row[0]: row[1] for row in self.db.execute("SELECT key, value FROM service_state")}

    def set_service_state(self, **values: str | None) -> None:
        """Record values about `digest serve` in one transaction; None removes one."""
        when = now()
        with self.transaction() as db:
            for key, value in values.items():
                if value is None:
                    db.execute("DELETE FROM service_state WHERE key = ?", (key,))
                else:
                    db.execute(
                        "INSERT OR REPLACE INTO service_state VALUES (?, ?, ?)", (key, value, when)
                    )


class _Readers(_Connection):
    """The readers: how far through the catalogue each one's digests go."""

    def end(self) -> int:
        """The position of the last paper offered so far."""
        return int(
            self.db.execute("SELECT value FROM positions WHERE name='catalogue'").fetchone()[0]
        )

    def join(self, readers: Mapping[str, date | None]) -> dict[str, ReaderState]:
        """The readers with these addresses (by their key: any spelling is one reader), each
        added first if new: from the papers offered after now, or from those listed on or
        after their `since` day."""
        from digest.readers import address_key

        self._one_spelling()
        readers = {address_key(k): since for k, since in readers.items()}
        keys = list(readers)
        found = self._readers(keys)
        missing = [k for k in keys if k not in found or found[k].token is None]
        if missing:
            from digest.envelope import token

            secret = self.secret()
            with self.transaction() as db:
                end = db.execute("SELECT value FROM positions WHERE name='catalogue'").fetchone()[0]
                when = now()
                rows = []
                for key in missing:
                    start = end
                    if (since := readers[key]) is not None:
                        start = _start(db, since, end)
                    rows.append((key, start, when))
                db.executemany(
                    "INSERT OR IGNORE INTO readers (key, upto, added_at) VALUES (?, ?, ?)", rows
                )
                db.executemany(
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
        if self.readonly or self.db.execute(done).fetchone():  # read only: the next run does it
            return
        import json

        from digest.readers import respelled

        with self.transaction() as db:
            rows = db.execute("SELECT * FROM readers ORDER BY id").fetchall()
            for one, others in respelled(reader_state(row) for row in rows):
                for sql in (sql for other in others for sql in taken_in(one.id, other)):
                    db.execute(sql)
                db.execute(
                    "UPDATE readers SET key = ?, upto = ?, token = ?, prefs = ? WHERE id = ?",
                    (one.key, one.upto, one.token, json.dumps(dict(one.prefs)), one.id),
                )
            db.execute(
                "INSERT OR REPLACE INTO service_state VALUES ('reader_keys', '1', ?)", (now(),)
            )

    def _readers(self, keys: Sequence[str]) -> dict[str, ReaderState]:
        found: dict[str, ReaderState] = {}
        for chunk in _chunks(list(keys)):
            sql = f"SELECT * FROM readers WHERE key IN ({','.join('?' * len(chunk))})"
            for row in self.db.execute(sql, chunk):
                found[row["key"]] = reader_state(row)
        return found

    def all_readers(self) -> list[ReaderState]:
        """Every reader the state knows, in the order they were added."""
        self._one_spelling()
        return [reader_state(row) for row in self.db.execute("SELECT * FROM readers ORDER BY id")]

    def reader_counts(self) -> dict[str, int]:
        """Readers, and how many paused or unsubscribed on their own (one query)."""
        row = self.db.execute(
            "SELECT count(*), count(CASE WHEN u THEN NULL WHEN p THEN 1 END), count(CASE WHEN u"
            " THEN 1 END) FROM (SELECT json_extract(prefs, '$.paused') AS p,"
            " json_extract(prefs, '$.unsubscribed') AS u FROM readers WHERE key <> '')"
        ).fetchone()
        return {"readers": row[0], "paused": row[1], "unsubscribed": row[2]}

    def like(self, reader: int, papers: Sequence[int], value: int) -> None:
        """Record that a reader liked (1) or disliked (-1) these papers; 0 forgets it."""
        with self.transaction() as db:
            if value == 0:
                db.executemany(
                    "DELETE FROM likes WHERE reader_id = ? AND paper_id = ?",
                    [(reader, p) for p in papers],
                )
                return
            db.executemany(
                "INSERT OR REPLACE INTO likes VALUES (?, ?, ?, ?)",
                [(reader, p, value, now()) for p in papers],
            )

    def likes(self, reader: int) -> list[tuple[int, Paper, int]]:
        """The papers a reader liked or disliked, with their ids, oldest first."""
        rows = self.db.execute(
            "SELECT p.id, p.data, p.title, p.abstract, p.first_dump, p.listing_date, l.value"
            " FROM likes l JOIN papers p ON p.id = l.paper_id WHERE l.reader_id = ?"
            " ORDER BY l.at, p.id",
            (reader,),
        )
        return [(row[0], paper_of(*row[1:6]), row[6]) for row in rows]

    def reader_by_token(self, given: str) -> ReaderState | None:
        """The reader whose token this is, if any."""
        row = self.db.execute("SELECT * FROM readers WHERE token = ?", (given,)).fetchone()
        return reader_state(row) if row else None

    def set_prefs(self, reader: int, prefs: Mapping[str, object]) -> None:
        """Record what a reader changed themselves (their whole preferences)."""
        import json

        with self.transaction() as db:
            db.execute(
                "UPDATE readers SET prefs = ? WHERE id = ?", (json.dumps(dict(prefs)), reader)
            )

    def offered(self, after: int, upto: int) -> list[tuple[int, Paper]]:
        """The papers at positions after `after` up to `upto`, in order, with their positions."""
        rows = self.db.execute(
            "SELECT seq, data, title, abstract, first_dump, listing_date FROM papers"
            " WHERE seq > ? AND seq <= ? ORDER BY seq",
            (after, upto),
        )
        return [(row[0], paper_of(*row[1:])) for row in rows]

    def enqueue(
        self,
        items: Sequence[Outgoing],
        told: Sequence[str] = (),
        period: str | None = None,
    ) -> list[Outgoing]:
        """Put these readers' digests in the outbox, in one transaction, each moving its
        reader's position from its `after` to its `upto`; a digest whose reader moved on
        meanwhile (another run made it), or that repeats the reader's `period`, is left
        out. The rejected dumps of `told` (by key) are named by these digests. Returns the
        digests stored, with their ids."""
        stored: list[Outgoing] = []
        with self.transaction() as db:
            for item in items:
                if period is not None:
                    taken = db.execute(
                        "SELECT 1 FROM digests WHERE reader_id = ? AND period = ?",
                        (item.reader, period),
                    ).fetchone()
                    if taken:
                        continue
                moved = db.execute(
                    "UPDATE readers SET upto = ? WHERE id = ? AND upto = ? RETURNING id",
                    (item.upto, item.reader, item.after),
                ).fetchone()
                if moved is None:
                    continue
                digest_id = _Outbox._add_digest(db, item, period)
                stored.append(dataclasses.replace(item, id=digest_id))
            if stored and told:
                _DumpsLog._tell(db, told, stored[0].id)
        return stored

    def advance(self, moves: Sequence[tuple[int, int, int]]) -> None:
        """Move readers on with no digest (nothing for them, all excluded): each (reader,
        after, upto), applied only where the reader is still at `after`."""
        with self.transaction() as db:
            for reader, after, upto in moves:
                moved = db.execute(
                    "UPDATE readers SET upto = ? WHERE id = ? AND upto = ?", (upto, reader, after)
                ).rowcount
                if moved:  # done with by this reader, as if shown: no longer awaiting anyone
                    sql = "UPDATE papers SET seen = 1 WHERE seen = 0 AND seq > ? AND seq <= ?"
                    done = db.execute(sql, (after, upto)).rowcount
                    _count(db, 0, -done)
                    _count(db, 1, done)

    def reader_outbox(self) -> dict[int, dict[str, int | str | None]]:
        """For each reader with digests: how many are pending and failed, and when the
        last was delivered."""
        rows = self.db.execute(
            "SELECT reader_id, sum(status = 'pending') AS pending,"
            " sum(status = 'failed') AS failed, max(sent_at) AS last_sent, count(*) AS digests"
            " FROM digests WHERE reader_id IS NOT NULL GROUP BY reader_id"
        )
        return {row["reader_id"]: dict(row) for row in rows}

    def secret(self) -> bytes:
        """The state's own secret for readers' tokens, made on first use; never shown."""
        with self.transaction() as db:
            row = db.execute(
                "SELECT value FROM service_state WHERE key = 'token_secret'"
            ).fetchone()
            if row is None:
                import secrets

                value = secrets.token_hex(32)
                db.execute(
                    "INSERT INTO service_state VALUES ('token_secret', ?, ?)", (value, now())
                )
                row = (value,)
        keep_secret(row[0])  # never shown, whatever would quote it
        return bytes.fromhex(row[0])


def _start(db: sqlite3.Connection, since: date, end: int) -> int:
    """The position a reader starts after who wants the papers listed on or after `since`."""
    first = db.execute(
        "SELECT min(seq) FROM papers WHERE seq IS NOT NULL"
        " AND coalesce(listed, substr(first_seen, 1, 10)) >= ?",
        (since.isoformat(),),
    ).fetchone()[0]
    return end if first is None else int(first) - 1


class SqliteStore(_DumpsLog, _Catalogue, _Outbox, _ServiceState, _Readers):
    """The SQLite state file. Open with `digest.state.open(path)`; use as a context manager."""

    @classmethod
    def open(cls, path: Path, readonly: bool = False) -> SqliteStore:
        """Open (creating if needed, owner-only) and migrate the state file at `path`; with
        `readonly`, only read it."""
        return cls(cls.connect(path, readonly), path, readonly)

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
        with self.transaction() as db:
            self._learn(db, known, revised)
            self._log(db, dumps, rejected, when)
            after = int(
                db.execute("SELECT value FROM positions WHERE name='catalogue'").fetchone()[0]
            )
            self._add(db, papers, None, seen, when)
            if outgoing is None:
                return None
            # The one reader of DIGEST_TO, shown these papers by this digest.
            upto = after if seen else after + len(papers)
            reader = db.execute(
                "UPDATE readers SET upto = ? WHERE key = '' RETURNING id", (upto,)
            ).fetchone()[0]
            item = dataclasses.replace(outgoing, reader=reader, after=after, upto=upto)
            digest_id = self._add_digest(db, item)
            self._tell(db, [sha for _, sha in rejected], digest_id)
        return digest_id


# A stored paper's arXiv ids: its "x:" identity keys, space-separated.
_ARXIV_IDS = (
    "(SELECT group_concat(substr(x.key, 3), ' ') FROM paper_keys x"
    " WHERE x.paper_id = p.id AND x.key >= 'x:' AND x.key < 'x;')"
)


def _chunks(items: Sequence[T], size: int = 500) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
