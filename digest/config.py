"""Settings: one frozen object built once from flags > environment > env file > defaults.

Every setting has one name, `DIGEST_<FIELD>`, documented in config.example.env and the README.
The rest of digest never reads the environment: it is handed a Settings.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from digest.errors import ConfigError
from digest.models import DEFAULT_SUBJECT, subject_line
from digest.outputs import NAMES as FORMATS

TYPE_CHECKING = False  # typing itself costs start-up time that cron pays on every run
if TYPE_CHECKING:
    from datetime import tzinfo
    from email.headerregistry import Address
    from typing import Any

    from digest.models import Thresholds
    from digest.state import StateUrl

DELIVERIES = ("files", "stdout", "smtp")
SECURITIES = ("starttls", "ssl", "none")
SMTP_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
SUBJECT_FIELDS = ("count", "date", "matches")
LOOPBACK = ("localhost", "127.0.0.1", "::1")
FEED_ENTRIES = ("digest", "paper")
PROCESSED = ("leave", "move")
REJECTED = ("keep", "move")
ORDERS = ("highlights", "listing", "upvotes", "relevance")
DETAILS = ("compact", "full")  # compact: TL;DRs and title lines; full: abstracts too
MAX_WIDTH = 200  # of a field in DIGEST_SUBJECT: {count:>5} is fine, a million spaces is not


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
        return self.smtp_port or SMTP_PORTS.get(self.smtp_security, 587)

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


def _convert(name: str, kind: object, raw: str) -> object:
    raw = raw.strip()
    kind = str(kind)
    if "StateUrl" in kind:
        from digest.state import location

        return location(raw) if raw else None
    if "Path" in kind:
        return Path(raw).expanduser() if raw else None
    if kind == "bool":
        lowered = raw.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off", ""):
            return False
        raise ConfigError(f"{env_name(name)}={raw!r} is not a yes/no value (use true or false)")
    if kind == "int":
        try:
            return int(raw)
        except ValueError:
            pass
        try:  # 1e3 is a whole number too
            number = float(raw)
            if number.is_integer():
                return int(number)
        except (ValueError, OverflowError):
            pass
        raise ConfigError(f"{env_name(name)}={raw!r} is not a whole number")
    if kind == "float":
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"{env_name(name)}={raw!r} is not a number") from None
    return raw


def exposed_secret(env_file: Path) -> str | None:
    """A warning when an env file holding a secret (the SMTP password, chat URLs with their
    tokens) can be read by other users."""
    import stat

    try:
        mode = env_file.stat().st_mode
        text = env_file.read_text(errors="replace")
    except OSError:
        return None
    held = [name for name in ("DIGEST_SMTP_PASSWORD", "DIGEST_NOTIFY") if name in text]
    if held and mode & (stat.S_IRGRP | stat.S_IROTH):
        return (
            f"{env_file} holds {' and '.join(held)} and other users can read it;"
            f" run: chmod 600 {env_file}"
        )
    return None


def load(
    flags: Mapping[str, object | None],
    environ: Mapping[str, str],
    env_file: Path | None = None,
    *,
    delivering: bool = True,
) -> Settings:
    """Build Settings: command-line flags, then environment, then the env file, then defaults.

    `flags` maps field names to values already parsed by the CLI (None means not given).
    With `delivering`, mail settings given in half (a sender without a server) are refused;
    commands that only look at the state file (status, seen) do without.
    """
    file_values: dict[str, str | None] = {}
    if env_file is not None:
        from dotenv import dotenv_values

        if not env_file.is_file():
            raise ConfigError(f"env file {env_file} does not exist")
        try:
            file_values = dotenv_values(env_file, encoding="utf-8")
        except UnicodeDecodeError as e:
            raise ConfigError(
                f"env file {env_file} is not UTF-8 text (byte {e.start + 1}); save it as UTF-8"
            ) from None
        except OSError as e:
            raise ConfigError(f"env file {env_file} cannot be read: {e.strerror}") from None
    _warn_unknown(environ, "the environment")
    if env_file is not None:
        _warn_unknown(file_values, str(env_file))

    chosen: dict[str, object] = {}
    for f in dataclasses.fields(Settings):
        name, var = f.name, env_name(f.name)
        if flags.get(name) is not None:
            chosen[name] = flags[name]
        elif var in environ:
            chosen[name] = _convert(name, f.type, environ[var])
        elif file_values.get(var) is not None:
            chosen[name] = _convert(name, f.type, str(file_values[var]))
        if name in chosen and chosen[name] is None and "None" not in str(f.type):
            del chosen[name]  # an empty value for a path that must be set: its default
    half: list[str] = []  # mail settings without a server, when no delivery was chosen
    if "deliver" not in chosen:
        if chosen.get("smtp_host"):
            chosen["deliver"] = "smtp"  # configuring a mail server means mail is wanted
        else:
            half = [env_name(n) for n in ("from_", "to") if str(chosen.get(n, "")).strip()]
    settings = Settings(**chosen)  # type: ignore[arg-type]
    _validate(settings)
    # Mail was meant (a mistyped host, say): files would mark the papers seen, unread.
    if half and delivering:
        raise ConfigError(
            f"{' and '.join(half)} set but not DIGEST_SMTP_HOST; set DIGEST_SMTP_HOST to"
            " mail the digest, or DIGEST_DELIVER=files to only write it"
        )
    return settings


def known_names() -> list[str]:
    """Every DIGEST_* name that is a setting: the fields of Settings, the one declaration."""
    return [env_name(f.name) for f in dataclasses.fields(Settings)]


def _warn_unknown(values: Mapping[str, object], where: str) -> None:
    import logging

    known = known_names()
    for name in sorted(values):
        if name.startswith("DIGEST_") and name not in known:
            import difflib  # only for a name that is not a setting

            # Compared without the prefix they all share, which would make any name "close".
            close = difflib.get_close_matches(name[7:], [k[7:] for k in known], n=1)
            hint = f"; did you mean DIGEST_{close[0]}?" if close else "; see config.example.env"
            logging.getLogger(__name__).warning(
                "%s in %s is not a setting and is ignored%s", _printable(name), where, hint
            )


def _printable(text: str) -> str:
    return text.encode("unicode_escape").decode("ascii")  # no escape code reaches a terminal


def _check_ranges(s: Settings) -> None:
    """Every numeric setting against the range declared with it (see `bounded`)."""
    for f in dataclasses.fields(s):
        if "range" not in f.metadata:
            continue
        low, high, unit = f.metadata["range"]
        value = getattr(s, f.name)
        if not low <= value <= high:  # also false for nan
            shown = f"{value:g}" if isinstance(value, float) else str(value)
            allowed = f"{low:g} to {high:g} {unit}".rstrip()
            raise ConfigError(f"{env_name(f.name)}={shown} is out of range: use {allowed}")


def _validate(s: Settings) -> None:
    _check_ranges(s)
    if s.templates is not None and not s.templates.is_dir():
        raise ConfigError(
            f"DIGEST_TEMPLATES={str(s.templates)!r} is not a folder; create it, or unset"
            " DIGEST_TEMPLATES to use the built-in templates"
        )
    if s.deliver not in DELIVERIES:
        raise ConfigError(f"DIGEST_DELIVER={s.deliver!r} is not one of {', '.join(DELIVERIES)}")
    if s.format not in FORMATS:
        raise ConfigError(f"DIGEST_FORMAT={s.format!r} is not one of {', '.join(FORMATS)}")
    if s.rejected not in REJECTED:
        raise ConfigError(f"DIGEST_REJECTED={s.rejected!r} is not one of {', '.join(REJECTED)}")
    if s.processed not in PROCESSED:
        raise ConfigError(f"DIGEST_PROCESSED={s.processed!r} is not one of {', '.join(PROCESSED)}")
    if s.timezone:  # the machine's own zone is looked up only where a schedule needs it
        zone(s.timezone)
    _validate_interests(s)
    _validate_fetch(s)
    _validate_archive(s)
    _validate_email(s)


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


def address_problem(url: str) -> str | None:
    """What makes `url` no address to fetch from (as DIGEST_FETCH_URL, or where a fetch is
    redirected): not http(s), no host, a bad port or host name; None when it is one."""
    from urllib.parse import urlsplit

    if any(ch.isspace() or not ch.isprintable() for ch in url):
        return "it has spaces or control characters"
    try:
        parts = urlsplit(url)
        _ = parts.port  # one out of range raises
        host = parts.hostname or ""
        host.encode("idna")
    except (ValueError, UnicodeError) as e:
        return f"it cannot be read ({e})"
    if parts.scheme.lower() not in ("http", "https"):
        return "it is not an http(s) address"
    if not host:
        return "it names no host"
    return None


def _validate_fetch(s: Settings) -> None:
    problem = address_problem(s.fetch_url)
    if problem is not None:
        raise ConfigError(
            f"DIGEST_FETCH_URL={s.fetch_url!r} is no address to fetch from: {problem};"
            " the default is https://huggingface.co/api/daily_papers"
        )


def _validate_archive(s: Settings) -> None:
    if s.feed_entries not in FEED_ENTRIES:
        raise ConfigError(
            f"DIGEST_FEED_ENTRIES={s.feed_entries!r} is not one of {', '.join(FEED_ENTRIES)}"
        )
    if s.archive_url and (
        not s.archive_url.startswith(("https://", "http://"))
        or any(ch.isspace() or ch in '<>"' for ch in s.archive_url)
    ):
        raise ConfigError(
            f"DIGEST_ARCHIVE_URL={s.archive_url!r} is not an http(s) address;"
            " give the address the archive folder is served at, e.g. https://example.org/papers/"
        )


def _validate_email(s: Settings) -> None:
    import string

    if s.smtp_security not in SECURITIES:
        raise ConfigError(
            f"DIGEST_SMTP_SECURITY={s.smtp_security!r} is not one of {', '.join(SECURITIES)}"
        )
    for name, value in (("DIGEST_SMTP_HOST", s.smtp_host), ("DIGEST_SMTP_USER", s.smtp_user)):
        if any(ch.isspace() for ch in value):
            raise ConfigError(f"{name}={value!r} must not contain spaces")
    if len(addresses(s.from_, "DIGEST_FROM")) > 1:
        raise ConfigError("DIGEST_FROM must be a single address")
    s.recipients  # noqa: B018 -- validates DIGEST_TO
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(s.subject) if f is not None]
    except ValueError as e:
        raise ConfigError(f"DIGEST_SUBJECT={s.subject!r} is not a valid template: {e}") from None
    specs = [spec for _, f, spec, _ in string.Formatter().parse(s.subject) if f is not None]
    if any(
        len(n) > 4 or int(n) > MAX_WIDTH for spec in specs for n in re.findall(r"\d+", spec or "")
    ):
        raise ConfigError(
            f"DIGEST_SUBJECT={s.subject!r}: a width or precision must be at most {MAX_WIDTH}"
        )
    unknown = [f for f in fields if f not in SUBJECT_FIELDS]
    if unknown:
        raise ConfigError(
            f"DIGEST_SUBJECT={s.subject!r} uses {{{unknown[0]}}}; only {{count}}, {{date}}"
            " and {matches} can be used"
        )
    try:  # a format spec that does not fit its value ({date:d}) fails only when used
        subject_line(s.subject, 0, "Mar 12")
    except (ValueError, TypeError, IndexError) as e:
        raise ConfigError(f"DIGEST_SUBJECT={s.subject!r} is not a valid template: {e}") from None
    if s.unsubscribe and not s.unsubscribe.startswith(("mailto:", "https://")):
        raise ConfigError(
            f"DIGEST_UNSUBSCRIBE={s.unsubscribe!r} must be a mailto: address or an https:// URL"
        )
    if any(ch in s.unsubscribe for ch in "<>\r\n \t"):
        raise ConfigError("DIGEST_UNSUBSCRIBE must be a single address or URL, without <>")
    if s.list_id and not re.fullmatch(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+", s.list_id):
        raise ConfigError(
            f"DIGEST_LIST_ID={s.list_id!r} is not a list identifier like papers.example.org"
        )
    if s.deliver == "smtp":
        missing = [
            name
            for name, value in (
                ("DIGEST_SMTP_HOST", s.smtp_host),
                ("DIGEST_FROM", s.from_),
                ("DIGEST_TO", s.to if s.readers is None else "readers"),  # or the readers'
            )
            if not value.strip()
        ]
        if missing:
            raise ConfigError(
                f"mail delivery needs {' and '.join(missing)}; set them or"
                " choose another DIGEST_DELIVER"
            )
        if not s.recipients and s.readers is None:
            raise ConfigError("DIGEST_TO holds no address")
    if s.smtp_password and s.smtp_security == "none" and s.smtp_host not in LOOPBACK:
        raise ConfigError(
            "DIGEST_SMTP_SECURITY=none would send the SMTP password unencrypted to"
            f" {s.smtp_host}; use starttls or ssl"
        )


def _validate_interests(s: Settings) -> None:
    if s.highlight or s.exclude:
        from digest.patterns import terms

        terms(s.highlight, "DIGEST_HIGHLIGHT")  # every term must compile
        terms(s.exclude, "DIGEST_EXCLUDE")
    if s.order and s.order not in ORDERS:
        raise ConfigError(f"DIGEST_ORDER={s.order!r} is not one of {', '.join(ORDERS)}")
    if s.detail not in DETAILS:
        raise ConfigError(f"DIGEST_DETAIL={s.detail!r} is not one of {', '.join(DETAILS)}")
