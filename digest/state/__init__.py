"""What digest remembers between runs: a few small roles, each written once, over a backend.

    base.py        where the state is (a path or a URL), its lock files, its times
    protocol.py    StateStore: every role, and what a backend adds (locks, the lead)
    roles.py       the roles together, and `record`, the write that spans them:
      dumps.py       the dumps read (ingested or rejected)
      catalogue.py   the papers, filed under their identity keys and candidate-index grams
      readers.py     the readers: positions, tokens, their own preferences, likes
      outbox.py      the digests to deliver, and the claims of the workers delivering them
      published.py   the public digest of a readers file, and each reader's delivered ones
      chats.py       readers' chat messages of delivered digests, until their receivers take them
    rows.py        rows turned into values, the same on every backend
    dialect.py     what a backend gives the roles: its dialect and its connection
    migrations.py  the schema: one list of steps, each with its script for every backend
    sqlite.py      the SQLite backend (a state file)
    postgres.py    the PostgreSQL backend (a database shared by several machines)

`open(location)` picks the backend by the location's URL scheme (a plain path is SQLite). A
new backend is a module with a dialect, a connection (reads, short write transactions, a bulk
insert, locks, claims) and an `open` function, plus one entry in `BACKENDS` and a script for
each migration; the roles are not written again. No SQL lives outside this package.
"""

from __future__ import annotations

from pathlib import Path

from digest.state.base import (
    ALIASES,
    BACKENDS,
    EARLIEST,
    HOW,
    LATEST,
    LONGEST_BACKOFF,
    NO_TIME,
    StateChanged,
    StateUrl,
    access_problem,
    location,
    lock_file,
    now,
    passwords,
    state_files,
    timestamp,
)

TYPE_CHECKING = False  # typing itself costs start-up time that cron pays on every run
if TYPE_CHECKING:
    from digest.state.protocol import StateStore

__all__ = [
    "ALIASES",
    "BACKENDS",
    "EARLIEST",
    "HOW",
    "LATEST",
    "LONGEST_BACKOFF",
    "NO_TIME",
    "StateChanged",
    "StateUrl",
    "access_problem",
    "location",
    "lock_file",
    "now",
    "open",
    "passwords",
    "state_files",
    "timestamp",
]


def open(where: Path | StateUrl | str, *, readonly: bool = False) -> StateStore:
    """Open (creating if needed, and migrating) the state at `where`: a path (SQLite) or a
    URL whose scheme names a backend (`sqlite:///path`, `postgresql://...`). With
    `readonly`, a state file is only read: nothing is created, migrated or written (a
    PostgreSQL role's rights are the server's to tell)."""
    import importlib

    place = location(where) if isinstance(where, str) else where
    if isinstance(place, StateUrl):
        store: StateStore = importlib.import_module(BACKENDS[place.kind]).open(place)
        return store
    backend = importlib.import_module(BACKENDS["sqlite"])
    opened: StateStore = backend.open(place, readonly=readonly)
    return opened
