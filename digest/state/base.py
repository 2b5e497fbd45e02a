"""What every part of the state shares: where it is (a path, or a URL with its password
masked), its lock files and who may use them, and its times."""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from digest.errors import ConfigError, StoreError
from digest.redact import keep_secret, redact
from digest.retries import LONGEST_BACKOFF as LONGEST_BACKOFF

log = logging.getLogger("digest.state")  # as it always was named

# URL scheme -> the backend's module, whose `open(location)` opens a store there.
BACKENDS = {"sqlite": "digest.state.sqlite", "postgresql": "digest.state.postgres"}
ALIASES = {"postgres": "postgresql"}  # libpq takes both


# A libpq keyword string (`host=db user=ann password=x`): a word and `=` first.
_KEYWORDS = re.compile(r"\s*[A-Za-z_]+\s*=")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
HOW = (
    "use a path to a state file, or a postgresql://user@host:port/dbname URL"
    " (with the password, if any, after the user and a colon)"
)


@dataclass(frozen=True)
class StateUrl:
    """A state given as a URL (`postgresql://user:password@host:port/db`). Shown, logged and
    named in errors with its password masked: only `secret` holds it, for the driver."""

    secret: str = field(repr=False)

    def __post_init__(self) -> None:
        keep_secret(*passwords(self.secret))  # hidden from every line digest shows

    def __str__(self) -> str:
        return redact(self.secret)

    def __repr__(self) -> str:
        return f"StateUrl({redact(self.secret)!r})"

    @property
    def kind(self) -> str:
        """The backend's name in BACKENDS (`postgres://` is `postgresql`)."""
        scheme = self.secret.partition("://")[0].lower()
        return ALIASES.get(scheme, scheme)


def passwords(url: str) -> list[str]:
    """Every text of `url` that may be its password: as libpq reads it (up to the first @
    before the first /), as its writer may have meant it (up to the last @, when a / or @
    in it was not percent-encoded), and in its query (`?password=`), decoded or not."""
    from urllib.parse import parse_qsl, unquote

    rest = url.partition("://")[2]
    authority = rest.partition("/")[0]
    userinfos = [authority.partition("@")[0]] if "@" in authority else []
    if "@" in rest:
        userinfos.append(rest[: rest.rfind("@")])
    found = [userinfo.partition(":")[2] for userinfo in userinfos]
    found += [v for k, v in parse_qsl(rest.partition("?")[2]) if k.lower() == "password"]
    return [text for value in found for text in (value, unquote(value)) if text]


def location(raw: str) -> Path | StateUrl:
    """Where DIGEST_STATE or --state says the state is: a path (SQLite, also as
    `sqlite:///path`) or the URL of another backend (`postgresql://`, `postgres://`).
    Anything else is refused with one line (ConfigError), before a file is made of it:
    a libpq keyword string, an address without its scheme, a URL of no backend, a URL
    whose password holds an unencoded `/` or `@` (libpq would read another host)."""
    scheme, sep, rest = raw.partition("://")
    if sep and _SCHEME.fullmatch(scheme):
        kind = ALIASES.get(scheme.lower(), scheme.lower())
        if kind == "sqlite":
            return Path(rest).expanduser()
        if kind not in BACKENDS:
            known = ", ".join(sorted(BACKENDS))
            raise ConfigError(
                f"state {redact(raw)}: no backend for {scheme}://; use a path or one of {known}"
            )
        authority, _, path = rest.partition("/")
        if authority.count("@") > 1 or "@" in path.partition("?")[0]:
            raise ConfigError(
                f"state {redact(raw)}: its user name or password holds a / or an @ as is;"
                " write them percent-encoded (/ as %2F, @ as %40), or libpq reads another host"
            )
        return StateUrl(raw)
    if not raw.strip():
        raise ConfigError(f"the state location is empty; {HOW}")
    if _KEYWORDS.match(raw):
        raise ConfigError(
            "the state location is a libpq keyword string (host=... dbname=...);"
            " use a postgresql:// URL instead: postgresql://user@host:port/dbname"
            " (with the password, if any, after the user and a colon)"
        )
    first = raw.partition("/")[0]
    head, colon, _ = first.partition(":")
    if "@" in first or (colon and ALIASES.get(head.lower(), head.lower()) in BACKENDS):
        raise ConfigError(
            f"the state location {redact(raw)} is neither a path nor a URL digest knows; {HOW}"
        )
    return Path(raw).expanduser()


_BITS = (os.R_OK, os.W_OK, os.X_OK)


def access_problem(path: Path, *, writing: bool) -> str | None:
    """What keeps this process from reading (or writing) the file at `path` (a state file,
    its lock) and its folder, in words naming their owner and mode, with what to do; None
    when nothing does."""
    import stat

    folder = path.parent.absolute()
    checks = [  # the file before its folder's writing: the file is what its owner can fix
        (folder, os.X_OK, "its folder"),
        (path, os.R_OK | (os.W_OK if writing else 0), "the file"),
        (folder, os.W_OK | os.X_OK if writing else os.X_OK, "its folder"),
    ]
    for place, need, what in checks:
        try:
            info = place.stat()
        except FileNotFoundError:
            continue
        except OSError as e:
            return f"{what} {place} cannot be reached ({e.strerror})"
        if os.access(place, need):
            continue
        if need & os.W_OK and os.statvfs(place).f_flag & os.ST_RDONLY:
            return f"{what} {place} is on a read-only file system"
        verb = {os.X_OK: "enter", os.R_OK: "read"}.get(
            need, "write into" if place == folder else "write"
        )
        mode = stat.S_IMODE(info.st_mode)
        if info.st_uid == os.geteuid():
            letters = "".join(c for c, bit in zip("rwx", _BITS, strict=True) if need & bit)
            return (
                f"{what} {place} has mode {mode:o}, which does not let you {verb} it;"
                f" run: chmod u+{letters} {place}"
            )
        owner = _owner(info.st_uid)
        return (
            f"{what} {place} belongs to {owner} (mode {mode:o}) and you"
            f" ({_owner(os.geteuid())}) may not {verb} it; run digest as {owner}"
        )
    return None


def _owner(uid: int) -> str:
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"user {uid}"


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
