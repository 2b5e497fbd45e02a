"""What digest remembers between runs, behind one protocol (`digest.state.protocol`).

    protocol.py    StateStore: dumps log, catalogue of papers, outbox, service state, locks
    sqlite.py      the SQLite backend (a state file)
    migrations.py  the SQLite schema, as small named migrations applied in order
    postgres.py    the PostgreSQL backend (a database shared by several machines)

`open(location)` picks the backend by the location's URL scheme (a plain path is SQLite): a
new backend is one module with an `open` function plus one entry in `BACKENDS`. No SQL
lives outside this package.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from digest.errors import StoreError

TYPE_CHECKING = False  # typing itself costs start-up time that cron pays on every run
if TYPE_CHECKING:
    from digest.state.protocol import StateStore

log = logging.getLogger(__name__)

# URL scheme -> the module whose `open(location)` opens a store there.
BACKENDS = {"sqlite": "digest.state.sqlite", "postgresql": "digest.state.postgres"}

LONGEST_BACKOFF = timedelta(hours=6)  # a failed delivery is retried at least this often


@dataclass(frozen=True)
class StateUrl:
    """A state given as a URL (`postgresql://user:password@host:port/db`). Shown, logged and
    named in errors with its password masked: only `secret` holds it, for the driver."""

    secret: str = field(repr=False)

    def __str__(self) -> str:
        return masked(self.secret)

    def __repr__(self) -> str:
        return f"StateUrl({masked(self.secret)!r})"


def masked(url: str) -> str:
    """The URL with any password in it replaced by ***."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if parts.password is not None:
            user, _, host = netloc.rpartition("@")
            netloc = f"{user.partition(':')[0]}:***@{host}"
        query = parts.query
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(k == "password" for k, _ in pairs):
            query = urlencode([(k, "***" if k == "password" else v) for k, v in pairs])
        return urlunsplit(parts._replace(netloc=netloc, query=query))
    except ValueError:
        scheme = url.partition("://")[0]
        return f"{scheme}://***"  # unreadable: nothing of it shown


def location(raw: str) -> Path | StateUrl:
    """Where DIGEST_STATE or --state says the state is: a path (SQLite, also as
    `sqlite:///path`) or the URL of another backend."""
    scheme, sep, rest = raw.partition("://")
    if not sep or "/" in scheme:
        return Path(raw).expanduser()
    if scheme == "sqlite":
        return Path(rest).expanduser()
    return StateUrl(raw)


def open(location: Path | StateUrl | str) -> StateStore:
    """Open (creating if needed, and migrating) the state at `location`: a path (SQLite) or
    a URL whose scheme names a backend (`sqlite:///path`, `postgresql://...`)."""
    import importlib

    text = location.secret if isinstance(location, StateUrl) else str(location)
    scheme, sep, rest = text.partition("://")
    if not sep or "/" in scheme:
        scheme, rest = "sqlite", text
    if scheme not in BACKENDS:
        known = ", ".join(sorted(BACKENDS))
        raise StoreError(
            f"state {masked(text)}: no backend for {scheme}://; use a path or one of {known}"
        )
    backend = importlib.import_module(BACKENDS[scheme])
    if scheme == "sqlite":
        store: StateStore = backend.open(rest if sep else location)
    else:
        store = backend.open(location if isinstance(location, StateUrl) else StateUrl(text))
    return store


class StateChanged(StoreError):
    """The state changed under a connection still open elsewhere (`digest serve`): reopen."""


def lock_file(state: Path, suffix: str) -> Path:
    """The lock file of a state file, beside the file itself: every name that leads to the
    same state file (a symbolic link, a relative path) takes the same lock."""
    real = Path(os.path.realpath(state))
    return real.with_name(real.name + suffix)


def state_files(state: Path | StateUrl) -> frozenset[str]:
    """Every file digest keeps for a state file: the file, SQLite's companions, the locks.
    Absolute real paths, so an inbox that holds them can leave them alone. None for a
    state kept elsewhere (a database server)."""
    if isinstance(state, StateUrl):
        return frozenset()
    real = os.path.realpath(state)
    ends = ("", "-wal", "-shm", "-journal", ".lock", ".serve.lock", ".claims")
    return frozenset(real + end for end in ends)


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
