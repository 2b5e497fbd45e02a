"""What a backend gives the roles of the state (digest.state.roles): a dialect (where its SQL
differs) and a connection (reads, short write transactions, a bulk insert).

Every role writes its SQL once, with `?` placeholders and what SQLite 3.35 and PostgreSQL
both understand (`ON CONFLICT ... DO NOTHING / DO UPDATE`, `RETURNING`, `FILTER`); a backend
turns the placeholders into its driver's, and the dialect says the little that differs.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime

TYPE_CHECKING = False  # typing itself costs start-up time that cron pays on every run
if TYPE_CHECKING:
    from typing import Any, Protocol, TypeVar

    T = TypeVar("T")
    Row = Any  # a row read back: by column name (row["id"]) and by position (row[0])


@dataclass(frozen=True)
class Dialect:
    """Where a backend's SQL differs from what the roles write."""

    name: str  # the backend's, as migrations name their scripts: "sqlite", "postgres"
    # How many values one statement may be given (an `IN (...)` list is cut to fit).
    most_values: int
    # A stored paper's (`p`) arXiv ids: its "x:" identity keys, space-separated.
    arxiv_ids: str
    # The flag `{name}` of a reader's own preferences (`prefs`, JSON text), as a boolean.
    flag: str
    # Added to a query to lock what it reads until the transaction ends ("" where a write
    # transaction locks all already).
    for_update: str = ""
    # Whether a list of values is given as one array (`= ANY(?)`) rather than a value each.
    arrays: bool = False
    # The postings of many grams in one query: `?` an array of grams, then the limit a gram
    # (None: the roles join one query a gram, which costs a server a plan of each).
    postings: str | None = None
    # Run first in a transaction that numbers papers, so that two writers number in turn
    # (none where a write transaction excludes every other).
    in_turn: str | None = None


if TYPE_CHECKING:  # what the roles ask of a backend, checked by mypy

    class Result(Protocol):
        """What a statement returns."""

        @property
        def rowcount(self) -> int:
            """How many rows it changed."""

        def fetchone(self) -> Row:
            """Its next row (None: no more)."""

        def fetchall(self) -> list[Row]:
            """Its rows left."""

    class Tx(Protocol):
        """One write transaction of a backend."""

        def execute(self, sql: str, args: Sequence[object] = ()) -> Result:
            """Run one statement (`?` placeholders)."""

        def executemany(self, sql: str, rows: Iterable[Sequence[object]]) -> None:
            """Run one statement once for each of these rows."""

        def insert_new(self, table: str, columns: str, rows: Iterable[tuple[object, ...]]) -> None:
            """Add many rows to `table` (its `columns`, with their types), skipping those
            already there (a unique key)."""

    class Connection(Protocol):
        """A backend's connection, as the roles use it."""

        dialect: Dialect
        readonly: bool

        def rows(self, sql: str, args: Sequence[object] = ()) -> list[Row]:
            """The rows of one query, read outside any write transaction."""

        def transaction(self) -> AbstractContextManager[Tx]:
            """One short write transaction: committed on leaving, rolled back on an error."""


def marks(n: int) -> str:
    """`n` placeholders, for an `IN (...)` list."""
    return ",".join("?" * n)


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """`items` a piece of at most `size` at a time."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def text(moment: datetime) -> str:
    """A time as the state keeps it: ISO text, UTC, to the second."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


class Part:
    """What every role of the state stands on: the backend's connection, which the store
    class puts first among its bases (`class Store(BackendConnection, Roles)`)."""

    dialect: Dialect
    readonly: bool = False

    def rows(self, sql: str, args: Sequence[object] = ()) -> list[Row]:
        """The rows of one query (see `Connection.rows`)."""
        raise NotImplementedError

    def transaction(self) -> AbstractContextManager[Tx]:
        """One short write transaction (see `Connection.transaction`)."""
        raise NotImplementedError

    def rows_in(self, sql: str, values: Iterable[object], *args: object) -> list[Row]:
        """The rows of a query whose `IN (?*)` list takes these values, as many a query as
        the dialect takes; `args` follow them."""
        if self.dialect.arrays:
            return self.rows(sql.replace("IN (?*)", "= ANY(?)"), [list(values), *args])
        found: list[Row] = []
        for piece in chunks(list(values), self.dialect.most_values - len(args)):
            found += self.rows(sql.replace("?*", marks(len(piece))), [*piece, *args])
        return found
