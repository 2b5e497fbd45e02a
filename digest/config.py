"""Settings: one frozen object built once from flags > environment > env file > defaults.

Every setting has one name, `DIGEST_<FIELD>`, documented in config.example.env and the README.
The rest of digest never reads the environment: it is handed a Settings.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from digest.errors import ConfigError

DELIVERIES = ("files", "stdout")
FORMATS = ("html", "text", "markdown", "json")
PROCESSED = ("leave", "move")


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
    """The environment variable of a setting."""
    return "DIGEST_" + name.upper()


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
    settings = Settings(**chosen)  # type: ignore[arg-type]
    _validate(settings)
    return settings


def _validate(s: Settings) -> None:
    if s.deliver not in DELIVERIES:
        raise ConfigError(
            f"DIGEST_DELIVER={s.deliver!r} is not one of {', '.join(DELIVERIES)}"
        )
    if s.format not in FORMATS:
        raise ConfigError(f"DIGEST_FORMAT={s.format!r} is not one of {', '.join(FORMATS)}")
    if s.max_dump_mb <= 0:
        raise ConfigError("DIGEST_MAX_DUMP_MB must be a positive number of megabytes")
    if not 0 < s.poll_seconds < float("inf"):
        raise ConfigError("DIGEST_POLL_SECONDS must be a positive number of seconds")
    if s.processed not in PROCESSED:
        raise ConfigError(
            f"DIGEST_PROCESSED={s.processed!r} is not one of {', '.join(PROCESSED)}"
        )
    _validate_interests(s)


def _validate_interests(s: Settings) -> None:
    from digest import select

    select.interests(s)  # every term must compile
    if s.order not in select.ORDERS:
        raise ConfigError(f"DIGEST_ORDER={s.order!r} is not one of {', '.join(select.ORDERS)}")
    if s.max_papers < 0:
        raise ConfigError("DIGEST_MAX_PAPERS must be 0 (no cap) or a positive number of papers")
