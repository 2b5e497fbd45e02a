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

TYPE_CHECKING = False  # typing itself costs start-up time that cron pays on every run
if TYPE_CHECKING:
    from email.headerregistry import Address

    from digest.models import Thresholds

DELIVERIES = ("files", "stdout", "smtp")
SECURITIES = ("starttls", "ssl", "none")
SMTP_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
SUBJECT_FIELDS = ("count", "date")
LOOPBACK = ("localhost", "127.0.0.1", "::1")
FORMATS = ("html", "text", "markdown", "json")
PROCESSED = ("leave", "move")
REJECTED = ("keep", "move")
DEFAULT_SUBJECT = "Daily papers: {count} new ({date})"
ORDERS = ("highlights", "listing", "upvotes")


def _data_dir() -> Path:
    from platformdirs import user_data_path

    return user_data_path("digest", appauthor=False)


def default_out() -> Path:
    """Where digest files go unless DIGEST_OUT says otherwise."""
    return _data_dir() / "digests"


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a run needs to know, validated."""

    inbox: Path | None = None
    state: Path = field(default_factory=lambda: _data_dir() / "state.sqlite3")
    deliver: str = "files"
    format: str = "text"
    out: Path | None = None  # default: default_out()
    templates: Path | None = None
    send_empty: bool = False
    max_dump_mb: int = 50
    # The identity rule's thresholds (0-100), see models.Thresholds and the README.
    match_title: int = 85
    match_revised: int = 80
    match_abstract: int = 95
    match_title_only: int = 92
    show_updated: bool = False
    # The reader's interests: comma-separated words or regular expressions, an order, a cap.
    highlight: str = ""
    exclude: str = ""
    order: str = "highlights"
    max_papers: int = 0  # papers shown in full; the rest are listed by title (0: no cap)
    # `digest serve`: the schedule and time zone are checked by digest.service when it starts.
    schedule: str = "0 7 * * *"
    timezone: str | None = None  # an IANA name; None means the machine's own
    poll_seconds: float = 60.0
    processed: str = "leave"
    # `digest fetch`, and `digest serve` when fetch_schedule is set: see digest.fetch.
    fetch_url: str = "https://huggingface.co/api/daily_papers"
    fetch_schedule: str = ""  # empty: serve does not fetch
    fetch_timeout: float = 30.0
    fetch_attempts: int = 4
    fetch_backoff: float = 2.0  # seconds before the first retry, doubled for each next one
    rejected: str = "keep"  # a dump that cannot be read: keep it in the inbox, or move it
    smtp_host: str = ""
    smtp_port: int = 0  # 0: the usual port of smtp_security
    smtp_user: str = ""
    smtp_password: str = field(default="", repr=False)
    smtp_security: str = "starttls"
    smtp_timeout: int = 30
    from_: str = ""  # DIGEST_FROM
    to: str = ""
    subject: str = DEFAULT_SUBJECT
    unsubscribe: str = ""
    list_id: str = ""

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


def subject_line(template: str, count: int, date: str) -> str:
    """The subject from DIGEST_SUBJECT, on one line whatever the listing's date says."""
    return " ".join(template.format(count=count, date=date).split())


def _convert(name: str, kind: object, raw: str) -> object:
    raw = raw.strip()
    kind = str(kind)
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
            raise ConfigError(f"{env_name(name)}={raw!r} is not a whole number") from None
    if kind == "float":
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"{env_name(name)}={raw!r} is not a number") from None
    return raw


def exposed_secret(env_file: Path) -> str | None:
    """A warning when an env file holding the SMTP password can be read by other users."""
    import stat

    try:
        mode = env_file.stat().st_mode
        holds_password = "DIGEST_SMTP_PASSWORD" in env_file.read_text(errors="replace")
    except OSError:
        return None
    if holds_password and mode & (stat.S_IRGRP | stat.S_IROTH):
        return (
            f"{env_file} holds DIGEST_SMTP_PASSWORD and other users can read it;"
            f" run: chmod 600 {env_file}"
        )
    return None


def load(
    flags: Mapping[str, object | None],
    environ: Mapping[str, str],
    env_file: Path | None = None,
) -> Settings:
    """Build Settings: command-line flags, then environment, then the env file, then defaults.

    `flags` maps field names to values already parsed by the CLI (None means not given).
    """
    file_values: dict[str, str | None] = {}
    if env_file is not None:
        from dotenv import dotenv_values

        if not env_file.is_file():
            raise ConfigError(f"env file {env_file} does not exist")
        file_values = dotenv_values(env_file)

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
    if "deliver" not in chosen and chosen.get("smtp_host"):
        chosen["deliver"] = "smtp"  # configuring a mail server means mail is wanted
    settings = Settings(**chosen)  # type: ignore[arg-type]
    _validate(settings)
    return settings


def _validate(s: Settings) -> None:
    if s.deliver not in DELIVERIES:
        raise ConfigError(f"DIGEST_DELIVER={s.deliver!r} is not one of {', '.join(DELIVERIES)}")
    if s.format not in FORMATS:
        raise ConfigError(f"DIGEST_FORMAT={s.format!r} is not one of {', '.join(FORMATS)}")
    for name in ("match_title", "match_revised", "match_abstract", "match_title_only"):
        if not 50 <= getattr(s, name) <= 100:
            raise ConfigError(f"{env_name(name)} must be a score between 50 and 100")
    if s.max_dump_mb <= 0:
        raise ConfigError("DIGEST_MAX_DUMP_MB must be a positive number of megabytes")
    if not 0 < s.poll_seconds < float("inf"):
        raise ConfigError("DIGEST_POLL_SECONDS must be a positive number of seconds")
    if s.rejected not in REJECTED:
        raise ConfigError(f"DIGEST_REJECTED={s.rejected!r} is not one of {', '.join(REJECTED)}")
    if s.processed not in PROCESSED:
        raise ConfigError(f"DIGEST_PROCESSED={s.processed!r} is not one of {', '.join(PROCESSED)}")
    _validate_interests(s)
    _validate_fetch(s)
    _validate_email(s)


def _validate_fetch(s: Settings) -> None:
    if not s.fetch_url.startswith(("https://", "http://")) or any(
        ch.isspace() for ch in s.fetch_url
    ):
        raise ConfigError(
            f"DIGEST_FETCH_URL={s.fetch_url!r} is not an http(s) address;"
            " the default is https://huggingface.co/api/daily_papers"
        )
    if not 0 < s.fetch_timeout <= 600:
        raise ConfigError("DIGEST_FETCH_TIMEOUT must be a number of seconds above 0, at most 600")
    if not 1 <= s.fetch_attempts <= 10:
        raise ConfigError("DIGEST_FETCH_ATTEMPTS must be a whole number from 1 to 10")
    if not 0 <= s.fetch_backoff <= 60:
        raise ConfigError("DIGEST_FETCH_BACKOFF must be a number of seconds from 0 to 60")


def _validate_email(s: Settings) -> None:
    import string

    if s.smtp_security not in SECURITIES:
        raise ConfigError(
            f"DIGEST_SMTP_SECURITY={s.smtp_security!r} is not one of {', '.join(SECURITIES)}"
        )
    if not 0 <= s.smtp_port <= 65535:
        raise ConfigError(f"DIGEST_SMTP_PORT={s.smtp_port} is not a port number")
    if s.smtp_timeout <= 0:
        raise ConfigError("DIGEST_SMTP_TIMEOUT must be a positive number of seconds")
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
    unknown = [f for f in fields if f not in SUBJECT_FIELDS]
    if unknown:
        raise ConfigError(
            f"DIGEST_SUBJECT={s.subject!r} uses {{{unknown[0]}}}; only {{count}} and {{date}}"
            " can be used"
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
                ("DIGEST_TO", s.to),
            )
            if not value.strip()
        ]
        if missing:
            raise ConfigError(
                f"mail delivery needs {' and '.join(missing)}; set them or"
                " choose another DIGEST_DELIVER"
            )
        if not s.recipients:
            raise ConfigError("DIGEST_TO holds no address")
    if s.smtp_password and s.smtp_security == "none" and s.smtp_host not in LOOPBACK:
        raise ConfigError(
            "DIGEST_SMTP_SECURITY=none would send the SMTP password unencrypted to"
            f" {s.smtp_host}; use starttls or ssl"
        )


def _validate_interests(s: Settings) -> None:
    if s.highlight or s.exclude:
        from digest import select

        select.interests(s)  # every term must compile
    if s.order not in ORDERS:
        raise ConfigError(f"DIGEST_ORDER={s.order!r} is not one of {', '.join(ORDERS)}")
    if s.max_papers < 0:
        raise ConfigError("DIGEST_MAX_PAPERS must be 0 (no cap) or a positive number of papers")
