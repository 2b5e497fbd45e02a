"""The PostgreSQL backend: the state in a database that several machines share.

Selected by `DIGEST_STATE=postgresql://user@host:port/db` (psycopg 3 and its pool, loaded only
here, so a SQLite user's start-up never pays for them). The schema means what the SQLite one
means (same tables, columns and times as ISO text), with its own named migrations. What the
server coordinates between processes:

- the run lock: a session advisory lock on a dedicated connection (one run at a time);
- the lead of `digest serve`: another advisory lock on another dedicated connection, held for
  as long as the leader lives; the server lets go of it when that connection ends (a killed
  process or a restarted server at once, a lost host once TCP keepalive gives up, about 30 s),
  and the leader checks it still holds it before it acts (`still_leading`);
- delivery: a worker claims a pending digest with an advisory lock keyed by the digest's id, on
  a dedicated connection of its own, held while it delivers: a worker that dies mid-delivery
  lets go with its connection, and another takes the digest at its next look;
- a dump is recorded once: its content hash is a unique key, inserted with ON CONFLICT DO
  NOTHING; a run making a digest that finds one of its dumps recorded meanwhile records
  nothing.

Passwords: the URL is shown only through `StateUrl`, which masks it.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from digest.errors import StoreError
from digest.state.base import StateUrl, now, passwords
from digest.state.dialect import Dialect
from digest.state.migrations import migrate
from digest.state.protocol import StateStore

TYPE_CHECKING = False
if TYPE_CHECKING:
    from digest.state.dialect import Row

log = logging.getLogger(__name__)
# The pool's own warnings (each failed attempt to connect, each dead connection replaced)
# would repeat, many times over, what `digest serve` says once when the database is lost and
# once when it is back: they are not shown.
_pool_log = logging.getLogger("psycopg.pool")
_pool_log.addHandler(logging.NullHandler())
_pool_log.propagate = False

# Advisory lock keys (per database): the run lock, the lead of `digest serve`, migrations.
RUN_LOCK, LEAD_LOCK, MIGRATE_LOCK, PAPERS_LOCK = 7_310_001, 7_310_002, 7_310_003, 7_310_004
# The claims on digests being delivered: advisory locks of two keys, this one and the id;
# on chat messages being sent, the next one and the chat's id.
CLAIMS = 7_310_005
QUEUES = (CLAIMS, 7_310_006)  # by queue: digests, chats
# How a connection notices a lost peer: keepalive after 10 s idle, then 4 probes 5 s apart;
# data the peer does not acknowledge within 30 s ends it too (keepalive only probes when idle).
KEEPALIVE: dict[str, Any] = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 4,
    "tcp_user_timeout": 30_000,
    "connect_timeout": 10,
}
# The same on the server's side of a connection that holds a lock, so that the server lets go
# of a lock whose holder's machine vanished in about 30 s (its own default is two hours).
SERVER_KEEPALIVE = (
    "SELECT set_config('tcp_keepalives_idle', '10', false),"
    " set_config('tcp_keepalives_interval', '5', false),"
    " set_config('tcp_keepalives_count', '4', false),"
    " set_config('tcp_user_timeout', '30000', false)"
)
# Whether this connection holds the lock of one key (held by pg_try_advisory_lock(bigint)).
HOLDS = (
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND pid = pg_backend_pid() AND classid = 0 AND objid = %s AND objsubid = 1)"
)
Cursor = psycopg.Cursor[Any]

POSTGRES = Dialect(
    name="postgres",
    most_values=10_000,
    arxiv_ids=(
        "(SELECT string_agg(substr(x.key, 3), ' ' ORDER BY x.key) FROM paper_keys x"
        " WHERE x.paper_id = p.id AND x.key >= 'x:' AND x.key < 'x;')"
    ),
    flag="(prefs::jsonb ->> '{name}')::boolean",
    for_update=" FOR UPDATE",
    arrays=True,
    postings=(
        "SELECT gram, paper_id FROM (SELECT gram, paper_id, row_number() OVER (PARTITION BY"
        " gram ORDER BY paper_id) AS n FROM paper_grams WHERE gram = ANY(?)) AS g"
        " WHERE n <= ? ORDER BY gram, paper_id"
    ),
    in_turn=f"SELECT pg_advisory_xact_lock({PAPERS_LOCK})",  # papers numbered in turn
)


@lru_cache(maxsize=512)
def _ours(sql: str) -> bytes:
    """A statement of the roles (`?` placeholders) as psycopg takes it (`%s`)."""
    return sql.replace("%", "%%").replace("?", "%s").encode()


class _Row(tuple[Any, ...]):
    """A row by position or by column name, as SQLite gives it."""

    names: dict[str, int]

    def __getitem__(self, key: Any) -> Any:
        return super().__getitem__(self.names[key] if isinstance(key, str) else key)

    def keys(self) -> list[str]:
        """The columns' names, in order."""
        return list(self.names)


def _row_factory(cursor: Any) -> Any:
    """psycopg's row factory for `_Row`: one class a query, knowing its columns."""
    named = type(
        "Row", (_Row,), {"names": {c.name: i for i, c in enumerate(cursor.description or ())}}
    )
    return lambda values: named(values)


class _Tx:
    """A write transaction on a pooled connection."""

    def __init__(self, cur: Cursor) -> None:
        self.cur = cur

    def execute(self, sql: str, args: Sequence[object] = ()) -> Cursor:
        """Run one statement."""
        return self.cur.execute(_ours(sql), args)

    def executemany(self, sql: str, rows: Iterable[Sequence[object]]) -> None:
        """Run one statement once for each of these rows."""
        self.cur.executemany(_ours(sql), rows)

    def insert_new(self, table: str, columns: str, rows: Iterable[tuple[object, ...]]) -> None:
        """Insert many rows, skipping those already there: COPY into a temporary table, then
        one insert that skips what is there."""
        cur = self.cur
        temporary = f"CREATE TEMPORARY TABLE IF NOT EXISTS new_{table} ({columns})"
        cur.execute(f"{temporary} ON COMMIT DELETE ROWS".encode())
        with cur.copy(f"COPY new_{table} FROM STDIN".encode()) as copy:
            for row in rows:
                copy.write_row(row)
        cur.execute(
            f"INSERT INTO {table} SELECT * FROM new_{table} ON CONFLICT DO NOTHING".encode()
        )
        cur.execute(f"DELETE FROM new_{table}".encode())


def open(url: StateUrl) -> PostgresStore:
    """Connect to (and migrate) the state database at `url`."""
    return PostgresStore(url)


class PostgresStore(StateStore):
    """The state in a PostgreSQL database. Use as a context manager."""

    shared = True  # any number of `digest serve`: one leads, all deliver
    dialect = POSTGRES

    def __init__(self, url: StateUrl) -> None:
        self.path = self.url = url
        # Connections of this store's own, each holding session locks: "lead", "claims".
        self._own: dict[str, psycopg.Connection[Any]] = {}
        with self._guard("cannot be opened"), self._connect() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATE_LOCK,))
            with conn.cursor(row_factory=_row_factory) as cur:
                migrate(_Tx(cur), "postgres", "digest_migrations", now())
        self.pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            url.secret,
            min_size=1,
            max_size=4,
            kwargs=_connection_settings(),
            open=False,
            name="digest",
            # A connection is tried before it is handed out: after a server restart, the
            # pooled ones are found dead and replaced instead of failing the next statement.
            check=ConnectionPool.check_connection,
        )
        with self._guard("cannot be opened"):
            self.pool.open(wait=True, timeout=30)

    # -- the connection, locks -------------------------------------------------------------

    def _connect(self, autocommit: bool = False) -> psycopg.Connection[Any]:
        return psycopg.connect(self.url.secret, autocommit=autocommit, **_connection_settings())

    def _locking(self) -> psycopg.Connection[Any]:
        """A new connection for session locks, the server told to notice a vanished peer."""
        conn = self._connect(autocommit=True)
        try:
            conn.execute(SERVER_KEEPALIVE)
        except psycopg.Error:
            conn.close()
            raise
        return conn

    def _on_own(self, which: str, sql: str, args: Sequence[Any] = ()) -> Cursor:
        """Run a statement on this store's own connection `which`. One found dead (the
        server restarted, the network dropped it) is replaced and the statement run again
        on the new one: its locks ended with it, so a lock statement is safe to repeat."""
        conn = self._own_connection(which)
        try:
            return conn.execute(sql.encode(), args)
        except psycopg.OperationalError:
            if not (conn.closed or conn.broken):
                raise
        return self._own_connection(which).execute(sql.encode(), args)

    def _own_connection(self, which: str) -> psycopg.Connection[Any]:
        """This store's own connection `which`, connected when it has none or it ended."""
        conn = self._own.get(which)
        if conn is None or conn.closed or conn.broken:
            self._close_own(which)
            conn = self._own[which] = self._locking()
        return conn

    def _close_own(self, which: str) -> None:
        """Close this store's own connection `which`, letting go of its locks at once (the
        server would let go only once it notices the connection gone)."""
        conn = self._own.pop(which, None)
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                if not (conn.closed or conn.broken):
                    conn.execute("SELECT pg_advisory_unlock_all()")
                conn.close()

    @contextlib.contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        """A failure of the server or the connection becomes one line naming the (masked)
        URL, never the password."""
        try:
            yield
        except StoreError:
            raise
        except (psycopg.Error, OSError) as e:
            detail = " ".join(str(e).split()).replace(self._password(), "***")
            raise StoreError(f"state {self.path} {what}: {detail}") from None
        except UnicodeError:  # libpq took a %-escape of the URL for bytes that are no text
            raise StoreError(
                f"state {self.path} {what}: its URL holds a %-escape of something that is not"
                " UTF-8 text (in the user name or password, say); write it as its UTF-8 bytes"
            ) from None
        except Exception as e:  # the pool's own timeout
            if type(e).__module__.startswith("psycopg"):
                detail = str(e).replace(self._password(), "***")
                raise StoreError(f"state {self.path} {what}: {detail}") from None
            raise

    def _password(self) -> str:
        # As libpq reads it: urlsplit would end it at a # or a ?, and hide a part of it.
        found = passwords(self.url.secret)
        return max(found, key=len) if found else "\0"  # nothing to hide

    @contextlib.contextmanager
    def transaction(self) -> Iterator[_Tx]:
        """One transaction on a pooled connection, committed on leaving (rolled back on error)."""
        with (
            self._guard("cannot be used"),
            self.pool.connection() as conn,
            conn.transaction(),
            conn.cursor(row_factory=_row_factory) as cur,
        ):
            yield _Tx(cur)

    def rows(self, sql: str, args: Sequence[object] = ()) -> list[Row]:
        """The rows of one query."""
        with self.transaction() as tx:
            found = tx.execute(sql, args)
            return found.fetchall() if found.description else []

    def close(self) -> None:
        """Let go of the state (and of the lead of `digest serve`, and of any claim)."""
        self.pool.close()
        for which in list(self._own):
            self._close_own(which)

    def reopen(self) -> None:
        """New connections, after the old ones failed."""
        self.pool.check()

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the run lock: a session advisory lock on a connection of its own, so that a
        process that dies lets go of it with its connection."""
        with self._guard("cannot be locked"):
            conn = self._locking()
        try:
            with self._guard("cannot be locked"):
                conn.execute("SELECT pg_advisory_lock(%s)", (RUN_LOCK,))
            yield
        finally:
            with contextlib.suppress(psycopg.Error):
                conn.execute("SELECT pg_advisory_unlock_all()")  # at once, as in close()
            conn.close()

    def lead(self) -> bool:
        """Take the lead of `digest serve` if no one holds it: an advisory lock held on a
        connection of its own for as long as this store is open and that connection lives."""
        with self._guard("cannot be reached"):
            row = self._on_own("lead", "SELECT pg_try_advisory_lock(%s)", (LEAD_LOCK,))
            return bool(row.fetchone()[0])  # type: ignore[index]

    def still_leading(self) -> bool:
        """Whether this store still holds the lead: its connection alive and the lock held on
        it. One found dead is let go of, so that the next `lead` connects afresh."""
        conn = self._own.get("lead")
        if conn is None:
            return False
        try:
            row = conn.execute(HOLDS.encode(), (LEAD_LOCK,)).fetchone()
        except psycopg.Error:
            self._close_own("lead")
            return False
        return bool(row and row[0])

    def serving(self) -> bool:
        """Whether any `digest serve` leads on this database now."""
        rows = self.rows(
            "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = 0"
            " AND objid = ? AND database = (SELECT oid FROM pg_database"
            " WHERE datname = current_database())",
            (LEAD_LOCK,),
        )
        return bool(rows)

    @contextlib.contextmanager
    def bulk(self, cache_mb: int = 256) -> Iterator[None]:
        """Nothing to tune: the server keeps its own cache."""
        yield

    # -- the claims on digests (see Outbox) ------------------------------------------------

    def _try_claim(self, item: int, queue: int = 0) -> bool:
        """An advisory lock of two keys (the queue's, from QUEUES, and the item's id) on
        this store's own connection for claims: a worker that dies lets go of it with its
        connection, at once, and one whose machine vanished within about 30 s (see
        SERVER_KEEPALIVE)."""
        with self._guard("cannot be used"):
            sql = "SELECT pg_try_advisory_lock(%s, mod(%s, 2147483648)::integer)"
            row = self._on_own("claims", sql, (QUEUES[queue], item)).fetchone()
        return bool(row and row[0])

    def _let_go(self, item: int | None = None, queue: int = 0) -> None:
        """Let go of this item's claim (None: of every claim this store holds)."""
        with self._guard("cannot be used"):
            if item is None:
                self._on_own("claims", "SELECT pg_advisory_unlock_all()")
            else:
                sql = "SELECT pg_advisory_unlock(%s, mod(%s, 2147483648)::integer)"
                self._on_own("claims", sql, (QUEUES[queue], item))


def _connection_settings() -> dict[str, Any]:
    """What every connection is opened with: keepalive, and a name that says which process
    holds it (pg_stat_activity shows it, unless the URL names the application itself)."""
    return {**KEEPALIVE, "fallback_application_name": f"digest (pid {os.getpid()})"}
