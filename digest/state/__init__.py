"""What digest remembers between runs, behind one protocol (`digest.state.protocol`).

    protocol.py    StateStore: dumps log, catalogue of papers, outbox, service state, locks
    sqlite.py      the SQLite backend (a state file)
    migrations.py  the SQLite schema, as small named migrations applied in order

`open(location)` picks the backend by the location's URL scheme (a plain path is SQLite): a
new backend is one module with an `open` function plus one entry in `BACKENDS`. No SQL
lives outside this package.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from digest.errors import StoreError

TYPE_CHECKING = False  # typing itself costs start-up time that cron pays on every run
if TYPE_CHECKING:
    from digest.state.protocol import StateStore

log = logging.getLogger(__name__)

# URL scheme -> the module whose `open(location)` opens a store there.
BACKENDS = {"sqlite": "digest.state.sqlite"}

LONGEST_BACKOFF = timedelta(hours=6)  # a failed delivery is retried at least this often


def open(location: Path | str) -> StateStore:
    """Open (creating if needed, and migrating) the state at `location`: a path (SQLite) or
    a URL whose scheme names a backend (`sqlite:///path`)."""
    import importlib

    text = str(location)
    scheme, sep, rest = text.partition("://")
    if not sep or "/" in scheme:
        scheme, rest = "sqlite", text
    if scheme not in BACKENDS:
        known = ", ".join(sorted(BACKENDS))
        raise StoreError(f"state {text}: no backend for {scheme}://; use a path or one of {known}")
    backend = importlib.import_module(BACKENDS[scheme])
    store: StateStore = backend.open(rest if sep else location)
    return store


class StateChanged(StoreError):
    """The state changed under a connection still open elsewhere (`digest serve`): reopen."""


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


# Times digest wrote lie between these; anything else in the state is not one of them.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
NO_TIME = datetime(1970, 1, 1, tzinfo=UTC)  # stands in where a time is required


def now() -> str:
    """The time now as the state records it."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def timestamp(value: object) -> datetime | None:
    """A time read back from the state, or None when it holds none. A value that is not a
    time digest could have written (garbage, year 9999) counts as none, with a warning, so
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
