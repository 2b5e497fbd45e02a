"""Settings: the values a run is given, one frozen object, and the small readings of them that
every part uses (addresses, the time zone). Reading them from flags, the environment and an env
file, and checking them whole, is digest.config's; this module names what they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from digest.errors import ConfigError
from digest.models import DEFAULT_SUBJECT

TYPE_CHECKING = False  # typing itself costs start-up time that cron pays on every run
if TYPE_CHECKING:
    from datetime import tzinfo
    from email.headerregistry import Address
    from typing import Any

    from digest.models import Thresholds
    from digest.state import StateUrl

ORDERS = ("highlights", "listing", "upvotes", "relevance")
DETAILS = ("compact", "full")  # compact: TL;DRs and title lines; full: abstracts too
PORTS = {"starttls": 587, "ssl": 465, "none": 25}  # the usual SMTP port of each security


def _data_dir() -> Path:
    from platformdirs import user_data_path

    return user_data_path("digest", appauthor=False)


def default_out() -> Path:
    """Where digest files go unless DIGEST_OUT says otherwise."""
    return _data_dir() / "digests"


def bounded(default: float, low: float, high: float, unit: str = "") -> Any:
    """A numeric setting's declaration with its allowed range, checked once by `load`."""
    return field(default=default, metadata={"range": (low, high, unit)})


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a run needs to know, validated."""

    inbox: Path | None = None
    state: Path | StateUrl = field(default_factory=lambda: _data_dir() / "state.sqlite3")
    deliver: str = "files"
    format: str = "text"
    # stdout: how long a pipe's reader may take to read the digest before it stays pending
    stdout_wait: float = bounded(5.0, 0, 3_600, "seconds")
    out: Path | None = None  # default: default_out()
    templates: Path | None = None
    send_empty: bool = False
    max_dump_mb: int = bounded(50, 1, 4096, "megabytes")
    # The identity rule's thresholds (0-100), see models.Thresholds and the README.
    match_title: int = bounded(85, 50, 100, "(a score)")
    match_revised: int = bounded(80, 50, 100, "(a score)")
    match_abstract: int = bounded(95, 50, 100, "(a score)")
    match_title_only: int = bounded(92, 50, 100, "(a score)")
    show_updated: bool = False
    # The reader's interests: comma-separated words or regular expressions, an order, a cap.
    highlight: str = ""
    exclude: str = ""
    order: str = ""  # empty: relevance with interests, else highlights
    interests: str = ""  # in the reader's own words: papers are scored against them
    min_score: float = bounded(0.0, 0.0, 1.0, "(a score)")  # under it: listed compactly
    # papers shown in full; the rest are listed by title (0: no cap)
    max_papers: int = bounded(0, 0, 1_000_000, "papers")
    detail: str = "compact"  # compact: the top papers' TL;DRs, the rest by title; full: abstracts
    # `digest serve`: the schedule and time zone are checked by digest.service when it starts.
    schedule: str = "0 7 * * *"
    timezone: str | None = None  # an IANA name; None means the machine's own
    # A floor keeps a tiny value from turning the service into a busy loop.
    poll_seconds: float = bounded(60.0, 0.1, 86_400, "seconds")
    # A digest the mail server refused for now: seconds before its first retry, then doubled.
    retry_seconds: int = bounded(60, 1, 86_400, "seconds")
    processed: str = "leave"
    # `digest fetch`, and `digest serve` when fetch_schedule is set: see digest.fetch.
    fetch_url: str = "https://huggingface.co/api/daily_papers"
    fetch_schedule: str = ""  # empty: serve does not fetch
    fetch_timeout: float = bounded(30.0, 0.1, 600, "seconds")
    fetch_attempts: int = bounded(4, 1, 10, "requests")
    # seconds before the first retry, doubled for each next one
    fetch_backoff: float = bounded(2.0, 0, 60, "seconds")
    rejected: str = "keep"  # a dump that cannot be read: keep it in the inbox, or move it
    # Sent digests older than this keep only what `digest resend` needs, compressed.
    keep_days: int = bounded(30, 0, 36_500, "days")
    smtp_host: str = ""
    smtp_port: int = bounded(0, 0, 65_535)  # 0: the usual port of smtp_security
    smtp_user: str = ""
    smtp_password: str = field(default="", repr=False)
    smtp_security: str = "starttls"
    smtp_timeout: int = bounded(30, 1, 3_600, "seconds")
    from_: str = ""  # DIGEST_FROM
    to: str = ""
    subject: str = DEFAULT_SUBJECT
    unsubscribe: str = ""
    list_id: str = ""
    readers: Path | None = None  # the readers file; None: the one reader of DIGEST_TO
    # The archive, its feed and chat notifications: see digest.archive and digest.channels.
    archive: Path | None = None  # a folder: a static site of the digests delivered
    archive_url: str = ""  # its public address, for links from feeds and chats
    feed_entries: str = "digest"  # one feed entry a digest, or one a paper
    # With a readers file: the reader whose digest the archive shows (empty: every new paper)
    archive_reader: str = ""
    notify: str = field(default="", repr=False)  # Apprise URLs, which may hold secrets
    # `digest web`
    web_bind: str = "127.0.0.1"
    web_port: int = bounded(8080, 1, 65_535)

    @property
    def thresholds(self) -> Thresholds:
        """The identity rule's thresholds, as models.Thresholds."""
        from digest.models import Thresholds

        return Thresholds(
            self.match_title, self.match_revised, self.match_abstract, self.match_title_only
        )

    @property
    def port(self) -> int:
        """The SMTP port: DIGEST_SMTP_PORT, or the usual one for DIGEST_SMTP_SECURITY."""
        return self.smtp_port or PORTS.get(self.smtp_security, 587)

    @property
    def sender(self) -> Address | None:
        """DIGEST_FROM as an address, display name included; None when not set."""
        found = addresses(self.from_, "DIGEST_FROM")
        return found[0] if found else None

    @property
    def recipients(self) -> tuple[Address, ...]:
        """DIGEST_TO as addresses, display names included."""
        return addresses(self.to, "DIGEST_TO")

    def require_inbox(self) -> Path:
        """The inbox folder, which must exist."""
        if self.inbox is None:
            raise ConfigError("no inbox folder given; set DIGEST_INBOX or pass --inbox DIR")
        if not self.inbox.is_dir():
            raise ConfigError(
                f"inbox {self.inbox} is not a folder; set DIGEST_INBOX or pass --inbox DIR"
            )
        return self.inbox


def env_name(name: str) -> str:
    """The environment variable of a setting (`from_` is DIGEST_FROM)."""
    return "DIGEST_" + name.rstrip("_").upper()


def addresses(raw: str, setting: str) -> tuple[Address, ...]:
    """Comma-separated addresses with optional display names ('Ann <ann@example.org>, bob@x.org')
    as Address objects; raises ConfigError naming `setting` for one that is not valid.

    Domains may be international (sent as IDNA); local parts must be ASCII."""
    if not raw.strip():
        return ()  # and a run without mail settings never loads the email package
    from email.headerregistry import Address
    from email.utils import getaddresses

    if any(ch in raw for ch in "\r\n\x00"):
        raise ConfigError(f"{setting} must be on one line")
    found = []
    for name, spec in getaddresses([raw]):
        if not name and not spec:
            continue
        local, at, domain = spec.rpartition("@")
        try:
            if not (local and at and "." in domain.strip(".")) or not local.isascii():
                raise ValueError
            address = Address(name, local, domain.encode("idna").decode("ascii"))
            if address.addr_spec != f"{local}@{address.domain}":
                raise ValueError  # the local part needed quoting: not a plain address
        except (ValueError, IndexError, UnicodeError):
            shown = spec or name
            raise ConfigError(
                f"{setting}: {shown!r} is not an email address (expected name@example.org,"
                " optionally as 'Name <name@example.org>', several separated by commas)"
            ) from None
        found.append(address)
    return tuple(found)


def zone(name: str | None) -> tzinfo:
    """The schedule's time zone: an IANA name such as Europe/Paris, or the machine's own."""
    if not name:
        from tzlocal import get_localzone

        try:
            return get_localzone()
        except (LookupError, ValueError, OSError) as e:
            why = " ".join(str(e.args[0] if e.args else e).split())  # KeyError quotes its text
            raise ConfigError(
                f"cannot tell this machine's time zone ({why}); set DIGEST_TIMEZONE"
            ) from None
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"DIGEST_TIMEZONE={name!r} is not a known time zone;"
            " use an IANA name such as Europe/Paris, America/New_York or UTC"
        ) from None


def shown_zone(name: str | None) -> tzinfo:
    """The zone times are shown in: DIGEST_TIMEZONE, else the machine's; UTC when the
    machine cannot tell (for what only shows times, never for a schedule)."""
    from datetime import UTC

    try:
        return zone(name)
    except ConfigError:
        return UTC
