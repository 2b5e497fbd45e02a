"""Settings: one frozen object built once from flags > environment > env file > defaults.

Every setting has one name, `DIGEST_<FIELD>`, documented in config.example.env and the README.
The rest of digest never reads the environment: it is handed a Settings.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

from digest.channels import CHANNELS, checks
from digest.channels.archive import FEED_ENTRIES as FEED_ENTRIES  # for the command line
from digest.errors import ConfigError
from digest.models import subject_line as subject_line  # where the subject is made
from digest.outputs import NAMES as FORMATS
from digest.settings import ORDERS as ORDERS
from digest.settings import Settings as Settings
from digest.settings import addresses as addresses
from digest.settings import bounded as bounded
from digest.settings import default_out as default_out
from digest.settings import env_name as env_name
from digest.settings import zone as zone

TYPE_CHECKING = False  # typing itself costs start-up time that cron pays on every run
if TYPE_CHECKING:
    pass

DELIVERIES = tuple(CHANNELS)  # DIGEST_DELIVER: the channels of the registry
PROCESSED = ("leave", "move")
REJECTED = ("keep", "move")


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
    channels: bool | None = None,
) -> Settings:
    """Build Settings: command-line flags, then environment, then the env file, then defaults.

    `flags` maps field names to values already parsed by the CLI (None means not given).
    With `delivering`, mail settings given in half (a sender without a server) are refused;
    commands that only look at the state file (status, seen) do without. With `channels`
    (by default, as `delivering`), each channel checks its own settings: a setting only the
    mail needs stops only what mails (or writes the archive).
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
    _validate(settings, delivering if channels is None else channels)
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


def _validate(s: Settings, channels: bool = True) -> None:
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
    from digest.reader_settings import check_defaults

    check_defaults(s)
    _validate_fetch(s)
    for check in checks() if channels else ():  # each channel's own settings
        check(s)


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
