"""The SQLite backend: the state in one file. What it gives the roles of the state
(digest.state.roles): its dialect and its connection.

WAL mode with a busy timeout; every write is one short `BEGIN IMMEDIATE` transaction and none
is held open across delivery. An existing file is checked before anything is written to it.
Locks (the run, the lead of `digest serve`, the claims on digests) are locks on files beside
it, which end with the process that holds them. A failure of SQLite reaches the caller as a
StoreError.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import sqlite3
import struct
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from digest.errors import StoreError
from digest.state.base import StateChanged, StateUrl, access_problem, lock_file, now
from digest.state.dialect import Dialect
from digest.state.migrations import migrate, names
from digest.state.protocol import StateStore

TYPE_CHECKING = False
if TYPE_CHECKING:
    from digest.state.dialect import Row

SQLITE = Dialect(
    name="sqlite",
    most_values=500,
    arxiv_ids=(
        "(SELECT group_concat(substr(x.key, 3), ' ') FROM paper_keys x"
        " WHERE x.paper_id = p.id AND x.key >= 'x:' AND x.key < 'x;')"
    ),
    flag="json_extract(prefs, '$.{name}')",
)
MIGRATIONS_TABLE = "migrations"
# A queue's claims lie in the claims file from its number shifted by this many bits (digest
# ids stay far below 2**56).
QUEUE_BITS = 56

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
    ours = set(names("sqlite"))
    applied = _applied(db, tables)
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
        migrate(_Tx(db), "sqlite", MIGRATIONS_TABLE, now())
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
        applied = _applied(db, {row[0] for row in db.execute("SELECT name FROM sqlite_master")})
    except BaseException:
        db.close()
        raise
    return db, not set(names("sqlite")) - applied


def _applied(db: sqlite3.Connection, tables: set[str]) -> set[str]:
    """The names of the migrations the state file records as applied."""
    if MIGRATIONS_TABLE not in tables:
        return set()
    return {str(row[0]) for row in db.execute(f"SELECT name FROM {MIGRATIONS_TABLE}")}


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


class _Tx:
    """A write transaction on the state file (`?` placeholders are SQLite's own)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def execute(self, sql: str, args: Sequence[object] = ()) -> sqlite3.Cursor:
        """Run one statement."""
        return self.db.execute(sql, args)

    def executemany(self, sql: str, rows: Iterable[Sequence[object]]) -> None:
        """Run one statement once for each of these rows."""
        self.db.executemany(sql, rows)

    def insert_new(self, table: str, columns: str, rows: Iterable[tuple[object, ...]]) -> None:
        """Insert many rows, skipping those already there."""
        marks = ",".join("?" * len(columns.split(",")))
        self.db.executemany(f"INSERT INTO {table} VALUES ({marks}) ON CONFLICT DO NOTHING", rows)


class _Connection:
    """The connection to the state file, its checks on opening, transactions and locks."""

    shared = False  # one `digest serve` per state file
    dialect = SQLITE

    def __init__(self, db: sqlite3.Connection, path: Path, readonly: bool = False) -> None:
        self.db = db
        self.path: Path | StateUrl = path
        self.file = path
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
            with _transaction(db, path) as tx:
                migrate(tx, "sqlite", MIGRATIONS_TABLE, now())
        except StoreError:
            db.close()
            raise
        except sqlite3.DatabaseError as e:
            db.close()
            kind = getattr(e, "sqlite_errorname", "")
            if kind == CHANGED_UNDER_US:
                raise _failure(e, path, "") from None
            if kind.startswith(_REFUSED) or kind.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
                raise StoreError(_unusable(path, e, doing)) from None
            raise StoreError(f"state file {path} cannot be used: {e}") from None
        return db

    def reopen(self) -> None:
        """A new connection to the same file, after the old one failed (its -wal file was
        deleted, say)."""
        with contextlib.suppress(sqlite3.Error):
            self.db.close()
        self.db = self.connect(self.file, self.readonly)

    def close(self) -> None:
        """Close the connection (and let go of the lead of `digest serve`)."""
        self.db.close()
        while self._leading:
            os.close(self._leading.pop())
        if self._claims is not None:
            os.close(self._claims)  # and with it go the claims (see `_claim_lock`)
            self._claims = None

    def transaction(self) -> contextlib.AbstractContextManager[_Tx]:
        """One short write transaction, taken at once so concurrent writers queue up."""
        return _transaction(self.db, self.file)

    def rows(self, sql: str, args: Sequence[object] = ()) -> list[Row]:
        """The rows of one query. A file damaged past the checks on opening (found only
        when read) is a StoreError, quoting little of what it holds."""
        try:
            return self.db.execute(sql, args).fetchall()
        except sqlite3.ProgrammingError:
            raise  # a bug of ours (a closed store, say), not of the file
        except sqlite3.DatabaseError as e:
            # Its text may quote what the file holds, over many lines: its start is enough.
            why = " ".join(str(e).split())[:80].encode("unicode_escape").decode("ascii")
            raise _failure(
                e,
                self.file,
                f"the state file cannot be read ({why}...); keep it as it is, and restore a"
                " backup or move it aside to start afresh",
            ) from None

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the run lock: one run at a time per state file, across processes, whatever
        name (a symbolic link, a relative path) each gives it."""
        lock_path = lock_file(self.file, ".lock")
        fd = os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock, also when the process dies

    def lead(self) -> bool:
        """Take the lead of `digest serve` (the state file's service lock) if it is free."""
        fd = os.open(lock_file(self.file, ".serve.lock"), os.O_CREAT | os.O_RDWR, 0o600)
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

    def _try_claim(self, item: int, queue: int = 0) -> bool:
        """Claim this item of a queue (0: digests) unless another worker holds it (see
        `_claim_lock`)."""
        return self._claim_lock(fcntl.F_WRLCK, item, queue)

    def _let_go(self, item: int | None = None, queue: int = 0) -> None:
        """Let go of this item's claim (None: of every claim this store holds)."""
        self._claim_lock(fcntl.F_UNLCK, item or 0, queue)

    def _claim_lock(self, kind: int, item: int = 0, queue: int = 0) -> bool:
        """Lock (F_WRLCK) or let go (F_UNLCK) of an item's claim: the byte at the item's id
        in its queue's stretch of the state's claims file (the digests', then the chats');
        with id 0, let go of every claim this store holds. False when another holds it. An
        open file description lock (Linux): like the service lock, it is this store's, not
        its process's, and ends when the store closes the file or its process dies, so a
        worker killed mid-delivery lets go at once."""
        if self._claims is None:
            self._claims = os.open(lock_file(self.file, ".claims"), os.O_CREAT | os.O_RDWR, 0o600)
        # struct flock: l_type, l_whence, (padding), l_start, l_len, l_pid (0), padding.
        start = (queue << QUEUE_BITS) + item if item else 0
        flock = struct.pack("hhqqi4x", kind, os.SEEK_SET, start, 1 if item else 0, 0)
        try:
            fcntl.fcntl(self._claims, fcntl.F_OFD_SETLK, flock)
        except (BlockingIOError, PermissionError):  # EAGAIN or EACCES: another holds it
            return False
        return True

    def serving(self) -> bool:
        """Whether a `digest serve` holds the state file's service lock."""
        try:
            fd = os.open(lock_file(self.file, ".serve.lock"), os.O_RDONLY)
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
def _transaction(db: sqlite3.Connection, path: Path) -> Iterator[_Tx]:
    """`BEGIN IMMEDIATE` ... `COMMIT`. A failure of the file itself (disk full, I/O error)
    becomes a StoreError; the transaction is rolled back, so the state stays as it was."""
    try:
        db.execute("BEGIN IMMEDIATE")
        try:
            yield _Tx(db)
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
    except sqlite3.ProgrammingError:
        raise  # a bug of ours (a closed store, say), not of the file
    except sqlite3.DatabaseError as e:
        raise _failure(e, path, f"state file {path} cannot be written: {e}") from None


def _failure(error: sqlite3.DatabaseError, path: Path, message: str) -> StoreError:
    """What a failure of SQLite is to the caller: the state changed under this connection
    (its -wal file deleted under a running `digest serve`: reopen), or `message`."""
    if getattr(error, "sqlite_errorname", "") == CHANGED_UNDER_US:
        return StateChanged(
            f"state file {path} cannot be used ({error}): it changed under a running"
            " `digest serve` (its -wal file deleted?); restart the service"
        )
    return StoreError(message)


class SqliteStore(_Connection, StateStore):
    """The SQLite state file. Open with `digest.state.open(path)`; use as a context manager."""

    @classmethod
    def open(cls, path: Path, readonly: bool = False) -> SqliteStore:
        """Open (creating if needed, owner-only) and migrate the state file at `path`; with
        `readonly`, only read it."""
        return cls(cls.connect(path, readonly), path, readonly)
