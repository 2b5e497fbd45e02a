"""A whole state moved from one place to another, any backend to any (`digest state copy`).

Everything a state holds goes: papers and their keys, dumps read, readers with their
positions, unsubscribes, preferences and likes, the token secret (so that every link already
mailed still works), the outbox and its chat messages. Both sides are first opened as digest
opens them (created and migrated to the same schema); the rows are then read from one
snapshot of the source and written in one transaction, so that the target holds all of it or
none of it. Afterwards each table's rows are counted and summed (an order-free checksum of
every value) on both sides.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from digest.errors import StoreError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from digest.state import StateUrl

# Every table of a state, in an order its references allow (a table after those it names).
# The migrations' own bookkeeping stays with each side.
TABLES = (
    "letters",
    "readers",
    "digests",
    "chats",
    "dumps",
    "papers",
    "paper_keys",
    "paper_grams",
    "likes",
    "service_state",
    "paper_counts",
    "positions",
)
BOOKKEEPING = frozenset({"migrations", "digest_migrations"})
IDENTITIES = ("letters", "readers", "digests", "chats", "dumps")  # their ids go on after the copy
# What makes a target not empty: anything a run or a reader put there.
HOLDINGS = {
    "papers": "",
    "dumps": "",
    "digests": "",
    "likes": "",
    "letters": "",
    "readers": " WHERE key <> ''",
}
BATCH = 2_000


@dataclass(frozen=True)
class Table:
    """One table's rows, counted and summed."""

    name: str
    rows: int
    checksum: str


@dataclass(frozen=True)
class Copied:
    """What a copy moved, each table checked on both sides."""

    tables: tuple[Table, ...]

    def rows(self, name: str) -> int:
        """The rows copied of one table."""
        return next(t.rows for t in self.tables if t.name == name)

    def line(self, source: object, target: object) -> str:
        """One line for the operator."""
        return (
            f"copied the state {source} to {target}: {self.rows('papers'):,} papers,"
            f" {self.rows('dumps'):,} dumps read, {self.rows('readers'):,} readers,"
            f" {self.rows('digests'):,} digests; every table's rows counted and summed"
            " on both sides, and they match"
        )


class _Side:
    """One end of a copy: a raw connection to a state, in its backend's words."""

    db: Any
    snapshot = "BEGIN"

    def tables(self) -> set[str]:
        raise NotImplementedError

    def rows(self, table: str, columns: Sequence[str]) -> Iterator[tuple[Any, ...]]:
        raise NotImplementedError

    def columns(self, table: str) -> list[str]:
        raise NotImplementedError

    def count(self, sql: str) -> int:
        raise NotImplementedError

    def clear(self, table: str) -> None:
        raise NotImplementedError

    def write(self, table: str, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]) -> None:
        raise NotImplementedError

    def carry_on(self, table: str) -> None:
        """After rows came with their ids: new rows take ids past them."""

    @contextmanager
    def reading(self) -> Iterator[None]:
        """One snapshot of the state: a service writing meanwhile is not half seen."""
        self.db.execute(self.snapshot)
        try:
            yield
        finally:
            self.db.execute("ROLLBACK")

    def writing(self) -> AbstractContextManager[None]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class _Sqlite(_Side):
    def __init__(self, path: Path) -> None:
        import sqlite3

        self.db = sqlite3.connect(path, timeout=30, isolation_level=None)

    def tables(self) -> set[str]:
        found = self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {name for (name,) in found if not name.startswith("sqlite_")}

    def columns(self, table: str) -> list[str]:
        return [row[1] for row in self.db.execute(f"PRAGMA table_info({table})")]

    def rows(self, table: str, columns: Sequence[str]) -> Iterator[tuple[Any, ...]]:
        yield from self.db.execute(f"SELECT {', '.join(columns)} FROM {table}")

    def count(self, sql: str) -> int:
        return int(self.db.execute(sql).fetchone()[0])

    def clear(self, table: str) -> None:
        self.db.execute(f"DELETE FROM {table}")

    def write(self, table: str, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]) -> None:
        marks = ", ".join("?" for _ in columns)
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
        for batch in _batches(rows):
            self.db.executemany(sql, batch)

    @contextmanager
    def writing(self) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def close(self) -> None:
        self.db.close()


class _Postgres(_Side):
    snapshot = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"

    def __init__(self, url: StateUrl) -> None:
        import psycopg

        self.db = psycopg.connect(url.secret, autocommit=True)

    def tables(self) -> set[str]:
        found = self.db.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        )
        return {name for (name,) in found}

    def columns(self, table: str) -> list[str]:
        found = self.db.execute(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = 'public' AND table_name = %s ORDER BY ordinal_position",
            (table,),
        )
        return [name for (name,) in found]

    def rows(self, table: str, columns: Sequence[str]) -> Iterator[tuple[Any, ...]]:
        with self.db.cursor(name=f"copy_{table}") as cur:  # streamed, never all in memory
            cur.execute(f"SELECT {', '.join(columns)} FROM {table}".encode())
            yield from cur

    def count(self, sql: str) -> int:
        row = self.db.execute(sql.encode()).fetchone()
        return int(row[0]) if row else 0

    def clear(self, table: str) -> None:
        self.db.execute(f"DELETE FROM {table}".encode())

    def write(self, table: str, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]) -> None:
        statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        with self.db.cursor() as cur, cur.copy(statement.encode()) as copy:
            for row in rows:
                copy.write_row(row)

    def carry_on(self, table: str) -> None:
        self.db.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
            f" coalesce((SELECT max(id) FROM {table}), 0) + 1, false)".encode()
        )

    @contextmanager
    def writing(self) -> Iterator[None]:
        with self.db.transaction():
            yield

    def close(self) -> None:
        self.db.close()


def _batches(rows: Iterable[tuple[Any, ...]]) -> Iterator[list[tuple[Any, ...]]]:
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _side(place: Path | StateUrl) -> _Side:
    return _Sqlite(place) if isinstance(place, Path) else _Postgres(place)


class Sum:
    """An order-free checksum of rows: the sum of each row's SHA-256 (mod 2^256), with every
    value written as its kind and content, so that both backends' rows compare alike."""

    def __init__(self) -> None:
        self.rows = 0
        self.total = 0

    def add(self, row: tuple[Any, ...]) -> tuple[Any, ...]:
        """Count `row` in; returns it, to pass it on."""
        digest = hashlib.sha256()
        for value in row:
            digest.update(_value(value))
        self.total = (self.total + int.from_bytes(digest.digest(), "big")) % (1 << 256)
        self.rows += 1
        return row

    def hex(self) -> str:
        """The checksum, as hex."""
        return f"{self.total:064x}"


def _value(value: object) -> bytes:
    if value is None:
        return b"n;"
    if isinstance(value, bool | int):
        return b"i%d;" % int(value)
    if isinstance(value, float):
        return b"f" + repr(value).encode() + b";"
    if isinstance(value, str):
        text = value.encode("utf-8", "surrogatepass")
        return b"s%d:" % len(text) + text
    if isinstance(value, bytes | bytearray | memoryview):
        return b"b%d:" % len(value) + bytes(value)
    raise StoreError(f"a value of a kind a state does not hold: {type(value).__name__}")


def copy(
    source: Path | StateUrl,
    target: Path | StateUrl,
    *,
    replace: bool = False,
) -> Copied:
    """Copy the whole state at `source` to `target` and check the copy. A target that holds
    anything (papers, dumps read, readers, digests) is refused unless `replace`, which empties
    it first. Raises StoreError saying what to do; the target is then as it was."""
    from digest import state

    if str(source) == str(target):
        raise StoreError(f"the state {source} cannot be copied onto itself; name another target")
    if isinstance(source, Path) and not source.is_file():
        raise StoreError(f"there is no state file {source}; name the state to copy from")
    for place in (source, target):  # created where new, and both at the same schema
        with state.open(place):
            pass
    try:
        reader, writer = _side(source), _side(target)
    except Exception as e:
        raise StoreError(f"cannot connect for the copy: {type(e).__name__}: {e}") from None
    try:
        return _copy(reader, writer, source, target, replace)
    finally:
        reader.close()
        writer.close()


def _copy(reader: _Side, writer: _Side, source: object, target: object, replace: bool) -> Copied:
    for side, place in ((reader, source), (writer, target)):
        unknown = side.tables() - set(TABLES) - BOOKKEEPING
        if unknown:
            raise StoreError(
                f"the state {place} has tables this digest does not copy"
                f" ({', '.join(sorted(unknown))}); a newer digest wrote it: copy it with that one"
            )
    if not replace:
        held = [
            t for t, where in HOLDINGS.items() if writer.count(f"SELECT count(*) FROM {t}{where}")
        ]
        if held:
            raise StoreError(
                f"the state {target} is not empty (it holds {', '.join(held)}); copy into an"
                " empty one, or add --replace to empty it first"
            )
    sums: dict[str, Sum] = {}
    with reader.reading(), writer.writing():
        for table in reversed(TABLES):
            writer.clear(table)
        for table in TABLES:
            columns = reader.columns(table)
            if columns != writer.columns(table):
                raise StoreError(
                    f"the table {table} differs between {source} and {target};"
                    " open both with the same digest first"
                )
            sums[table] = counted = Sum()
            writer.write(table, columns, (counted.add(row) for row in reader.rows(table, columns)))
        for table in IDENTITIES:
            writer.carry_on(table)
    checked = []
    for table in TABLES:
        again = Sum()
        with writer.reading():
            for row in writer.rows(table, writer.columns(table)):
                again.add(row)
        if (again.rows, again.hex()) != (sums[table].rows, sums[table].hex()):
            raise StoreError(
                f"the copy of {table} in {target} does not match {source}"
                f" ({again.rows:,} rows of {sums[table].rows:,}, or their values differ);"
                " do not use it: copy again with --replace"
            )
        checked.append(Table(table, again.rows, again.hex()))
    return Copied(tuple(checked))
