"""A reader's settings, each declared once in SETTINGS: how the readers file's value is read
and checked, its default (the DIGEST_* setting of its name, else a fixed value), whether a
reader may change it on their own pages, whether it changes what is rendered, and its help.

The readers file's keys (digest.readers), the check of the DIGEST_* defaults (digest.config),
the preferences form (digest.web), `digest readers` and the rendering key are all derived
from SETTINGS: a new reader setting is one entry here, its DIGEST_* field in
config.Settings when it has one, and its documentation (README's readers table, checked
against SETTINGS by the tests). A reader's value is their own (chosen on their pages, else
written in the readers file), else the default. Pure: no I/O.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, fields

from digest.errors import ConfigError
from digest.printable import printable
from digest.settings import DETAILS, ORDERS, Settings, addresses, env_name

TYPE_CHECKING = False  # typing itself costs start-up time that cron pays on every run
if TYPE_CHECKING:
    from email.headerregistry import Address
    from typing import Any

    from digest.models import ReaderState

FORMATS = ("html", "text")  # html: HTML with its text alternative
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# A plain address, nothing the mail parser would drop or rewrite (spaces, comments, a name):
# what is written is what is compared for uniqueness.
_PLAIN_ADDRESS = re.compile(r"[^\s<>()\[\],;:\\\"@]+@[^\s<>()\[\],;:\\\"@]+")

Memo = dict[tuple[str, str], str]  # a check's outcome for each (key, value) met in one file


class Bad(Exception):
    """One thing wrong with a readers file's value: its text after the reader's label."""


@dataclass(frozen=True, slots=True)
class Web:
    """How a setting shows on the reader's preferences form: a text field with its label
    (and the setting's help below it). `take` turns what was typed (spaces already
    collapsed) into the value kept, or raises ConfigError; `blank_is_usual`: left empty,
    the field means the usual value."""

    label: str
    take: Callable[[str, str], str]
    blank_is_usual: bool = False
    area: bool = False  # a text area (several lines' worth), not a one-line field
    # The value a run takes from the text kept (a reader's choices are kept as text).
    parse: Callable[[str], object] = str
    # Values to offer, each with what it means in words (a list the field suggests).
    offers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class ReaderSetting:
    """One reader setting: its key in the readers file (and name everywhere else); its help
    (one line, to the reader: the form shows it); how a value written there is read
    (`read`: raises Bad); an `example` of such a value, other than the default (the tests
    take each setting through every surface with it); where its default comes from (`env`:
    the DIGEST_* setting of its name, checked by `check` when one is given, in one spelling
    by `spell`; else `fixed`). `web`: the reader may change it on their pages. `renders`:
    two readers whose values differ may get different renderings. `about`: it says who the
    reader is (their address, name, first date, chats), not what their digest is made of."""

    name: str
    help: str
    read: Callable[[str, object, Memo], object]
    example: object
    env: bool = False
    fixed: object = None
    check: Callable[[Any, str], None] | None = None
    spell: Callable[[Any], Any] | None = None  # the one spelling of a DIGEST_* value
    web: Web | None = None
    renders: bool = False
    about: bool = False

    @property
    def setting(self) -> str:
        """Its DIGEST_* setting's name, or "" when it has none."""
        return env_name(self.name) if self.env else ""

    def usual(self, settings: Settings) -> object:
        """The value of a reader who gives none: the DIGEST_* setting's, else the fixed one."""
        if not self.env:
            return self.fixed
        value = getattr(settings, self.name)
        return self.spell(value) if self.spell is not None else value


# -- reading a value ----------------------------------------------------------------------------

# What a TOML value is, in the file's words; bool before int, datetime before date (subclasses).
_KINDS: tuple[tuple[type, str], ...] = (
    (bool, "true/false"),
    (int, "a whole number"),
    (float, "a number"),
    (str, "a string"),
    (list, "an array"),
    (dict, "a table"),
    (datetime.datetime, "a date and time"),
    (datetime.date, "a date"),
)


def kind(value: object) -> str:
    """What a TOML value is, in the file's words."""
    return next((word for k, word in _KINDS if isinstance(value, k)), "a time")


def joined(terms: str) -> str:
    """Comma-separated terms in one spelling ("a,b " and "a, b" alike)."""
    return ", ".join(t for t in (t.strip() for t in terms.split(",")) if t)


def _string(key: str, value: object) -> str:
    if not isinstance(value, str):
        raise Bad(f"{key}: expected a string, got {kind(value)}")
    return value


def _strings(key: str, value: object) -> list[str]:
    """A string, or an array of strings."""
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        if isinstance(value, list):
            got = "an array holding " + next(kind(v) for v in value if not isinstance(v, str))
        else:
            got = kind(value)
        raise Bad(f"{key}: expected a string or an array of strings, got {got}")
    return value


def _once(memo: Memo, key: str, value: str, check: Callable[[], object]) -> None:
    """Run a check once per distinct value in a file (10,000 readers share a few schedules)."""
    found = memo.get((key, value))
    if found is None:
        try:
            check()
            found = ""
        except ConfigError as e:
            found = str(e)
        memo[(key, value)] = found
    if found:
        raise Bad(found)


def _as_key(key: str, text: str, said: str) -> str:
    """A check's message for a setting (`key='x' is ...`) said as a readers file's key's."""
    prefix = f"{key}={text!r}"
    return f"{key}: {text!r}{said[len(prefix) :]}" if said.startswith(prefix) else said


def _email(key: str, value: object, memo: Memo) -> str:
    text = _string(key, value).strip()
    try:
        found = addresses(text, key)
    except ConfigError:
        found = ()
    if len(found) > 1:
        raise Bad(f"{key}: {text!r} holds {len(found)} addresses; give each its own [[reader]]")
    if len(found) != 1 or not _PLAIN_ADDRESS.fullmatch(text):
        raise Bad(
            f"{key}: {text!r} is not an email address; write name@example.org"
            " (and the name in name = ...)"
        )
    return text


def _name(key: str, value: object, memo: Memo) -> str:
    text = _string(key, value)
    if printable(text) != text:
        raise Bad(f"{key}: must be printable text on one line")
    return text


def _check_terms(value: str, label: str) -> None:
    from digest.patterns import terms

    terms(value, label)  # every term must compile


def _terms(key: str, value: object, memo: Memo) -> str:
    text = joined(",".join(_strings(key, value)))
    if text:
        _once(memo, key, text, lambda: _check_terms(text, key))
    return text


def _take_terms(text: str, label: str) -> str:
    text = joined(text)
    _check_terms(text, label)
    return text


def _interests(key: str, value: object, memo: Memo) -> str:
    return ", ".join(s.strip() for s in _strings(key, value) if s.strip())


def _take_interests(text: str, label: str) -> str:
    return joined(text)


def _one_of(choices: tuple[str, ...]) -> Callable[[str, str], None]:
    """A check that a setting's value is one of `choices` (or empty: the usual)."""

    def check(value: str, label: str) -> None:
        if value and value not in choices:
            raise ConfigError(f"{label}={value!r} is not one of {', '.join(choices)}")

    return check


def _choice(choices: tuple[str, ...]) -> Callable[[str, object, Memo], str]:
    def read(key: str, value: object, memo: Memo) -> str:
        text = _string(key, value)
        if text not in choices:
            raise Bad(f"{key}: {text!r} is not one of {', '.join(choices)}")
        return text

    return read


def _bounds(name: str) -> tuple[float, float, str]:
    """The range the `DIGEST_*` setting of `name` declares (settings.bounded)."""
    low, high, unit = next(f for f in fields(Settings) if f.name == name).metadata["range"]
    return low, high, unit


def _max_papers(key: str, value: object, memo: Memo) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Bad(f"{key}: expected a whole number, got {kind(value)}")
    low, high, unit = _bounds(key)  # the range DIGEST_MAX_PAPERS declares: both say the same
    if not low <= value <= high:
        raise Bad(f"{key}: {value} is out of range: use {low:,} to {high:,} {unit}")
    return value


def _min_score(key: str, value: object, memo: Memo) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Bad(f"{key}: expected a number from 0 to 1, got {kind(value)}")
    low, high, _ = _bounds(key)
    if not low <= value <= high:
        raise Bad(f"{key}: {value} is out of range: use {low:g} to {high:g}")
    return float(value)


def _take_score(text: str, label: str) -> str:
    if not text:
        return text
    try:
        score = float(text)
    except ValueError:
        score = -1.0
    low, high, _ = _bounds("min_score")
    if not low <= score <= high:
        raise ConfigError(f"{label}: {text!r} is not a score from {low:g} to {high:g}, such as 0.2")
    return f"{score:g}"


def _check_schedule(text: str, label: str) -> None:
    from datetime import UTC

    from digest.service.schedule import reader_schedule

    reader_schedule(text, UTC, label)  # the grammar does not depend on the zone


def _schedule(key: str, value: object, memo: Memo) -> str:
    text = _string(key, value)

    def check() -> None:
        try:
            _check_schedule(text, key)
        except ConfigError as e:  # said as `schedule='x' is ...`, like a setting: say it as a key
            raise ConfigError(_as_key(key, text, str(e))) from None

    _once(memo, key, text, check)
    return text


def _take_schedule(text: str, label: str) -> str:
    if text:
        _check_schedule(text, label)
    return text


def _known_zone(text: str) -> bool:
    """Whether `text` names a time zone ("" does not: it would be the machine's own)."""
    from digest.settings import zone

    try:
        return bool(text) and zone(text) is not None
    except ConfigError:
        return False


def _take_timezone(text: str, label: str) -> str:
    if text and not _known_zone(text):
        raise ConfigError(
            f"{label}: {text!r} is not a time zone; use a name such as Europe/Paris,"
            " America/New_York or UTC"
        )
    return text


def _timezone(key: str, value: object, memo: Memo) -> str:
    text = _string(key, value)

    def check() -> None:
        if not _known_zone(text):
            raise ConfigError(
                f"{key}: {text!r} is not a known time zone; use an IANA name such as"
                " Europe/Paris or UTC, or leave it out for DIGEST_TIMEZONE"
            )

    _once(memo, key, text, check)
    return text


def _flag(key: str, value: object, memo: Memo) -> bool:
    if not isinstance(value, bool):
        raise Bad(f"{key}: expected true or false, got {kind(value)}")
    return value


def _since(key: str, value: object, memo: Memo) -> datetime.date:
    if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        return value
    if isinstance(value, str) and _DATE.fullmatch(value):
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            raise Bad(f"{key}: {value!r} is not a date; write YYYY-MM-DD") from None
    shown = repr(value) if isinstance(value, str) else kind(value)
    raise Bad(f"{key}: expected a date like 2025-03-01, got {shown}")


def _notify(key: str, value: object, memo: Memo) -> tuple[str, ...]:
    urls = tuple(_strings(key, value))
    for url in urls:
        if "://" not in url or not url.split("://", 1)[0]:
            raise Bad(f"{key}: {url!r} is not a notification URL like tgram://token/chat")
    return urls


# -- the settings -------------------------------------------------------------------------------

# In the order the readers file's keys are listed (`the keys are ...`) and `digest readers`
# says them.
SETTINGS: tuple[ReaderSetting, ...] = (
    ReaderSetting(
        "email", "Your address: name@example.org.", _email, "ann@example.org", fixed="", about=True
    ),
    ReaderSetting("name", "Your name, on your messages.", _name, "Ann Lee", fixed="", about=True),
    ReaderSetting(
        "highlight",
        "Words or regular expressions, comma-separated: papers matching one come first, marked.",
        _terms,
        ["diffusion", "video"],
        env=True,
        check=_check_terms,
        spell=joined,
        web=Web("Highlights", _take_terms),
        renders=True,
    ),
    ReaderSetting(
        "exclude",
        "Papers matching one of these, comma-separated, are left out.",
        _terms,
        "survey",
        env=True,
        check=_check_terms,
        spell=joined,
        web=Web("Excludes", _take_terms),
        renders=True,
    ),
    ReaderSetting(
        "interests",
        "What you read about, comma-separated.",
        _interests,
        "robots that grasp",
        env=True,
        web=Web("Interests", _take_interests, area=True),
        renders=True,
    ),
    ReaderSetting(
        "order",
        "The order of the papers: highlights, listing, upvotes or relevance.",
        _choice(ORDERS),
        "upvotes",
        env=True,
        check=_one_of(ORDERS),
        renders=True,
    ),
    ReaderSetting(
        "max_papers",
        "How many papers are shown in full (0: all).",
        _max_papers,
        5,
        env=True,
        renders=True,
    ),
    ReaderSetting(
        "detail",
        "compact: the top papers with their TL;DRs, every other paper on one line; full: the"
        " abstracts too.",
        _choice(DETAILS),
        "full",
        env=True,
        check=_one_of(DETAILS),
        renders=True,
    ),
    ReaderSetting(
        "min_score",
        "Papers scored under it (0 to 1) are only listed by title, after the others, and are"
        " never your matches.",
        _min_score,
        0.25,
        env=True,
        web=Web("Least score of a match", _take_score, blank_is_usual=True, parse=float),
        renders=True,
    ),
    ReaderSetting(
        "schedule",
        "When your digest is made: a crontab line such as 0 7 * * 1-5, @daily, @weekly,"
        " or every 12h.",
        _schedule,
        "@weekly",
        env=True,
        web=Web(
            "Schedule",
            _take_schedule,
            blank_is_usual=True,
            offers=(
                ("0 7 * * *", "Every day at 07:00"),
                ("0 7 * * 1-5", "Weekdays at 07:00"),
                ("0 7 * * 1", "Mondays at 07:00"),
                ("0 18 * * 5", "Fridays at 18:00"),
                ("@daily", "Every day at midnight"),
                ("@weekly", "Sundays at midnight"),
            ),
        ),
    ),
    ReaderSetting(
        "timezone",
        "The time zone of your schedule, such as Europe/Paris.",
        _timezone,
        "Europe/Paris",
        env=True,
        web=Web("Time zone", _take_timezone, blank_is_usual=True),
    ),
    ReaderSetting(
        "format",
        "html (with its text alternative) or text.",
        _choice(FORMATS),
        "text",
        fixed="html",
        renders=True,
    ),
    ReaderSetting("paused", "true: nothing is sent, and nothing missed.", _flag, True, fixed=False),
    ReaderSetting(
        "since",
        "The first listing date you want, such as 2025-03-01.",
        _since,
        "2025-03-01",
        about=True,
    ),
    ReaderSetting(
        "notify",
        "Chat addresses (Apprise URLs): a message for each digest.",
        _notify,
        "tgram://token/chat",
        fixed=(),
        about=True,
    ),
)
BY_NAME: dict[str, ReaderSetting] = {s.name: s for s in SETTINGS}
KEYS = tuple(BY_NAME)  # what a [[reader]] table may hold
RESOLVED = tuple(s.name for s in SETTINGS if not s.about)  # what a run takes for a reader
# What a reader changes on their pages, as the form shows it: when their digest comes, then
# what it holds.
WEB = tuple(sorted((s for s in SETTINGS if s.web is not None), key=lambda s: s.renders))


def check_defaults(settings: Settings) -> None:
    """Check the DIGEST_* defaults of the reader settings; raises ConfigError naming one."""
    for s in SETTINGS:
        if s.env and s.check is not None:
            value = getattr(settings, s.name)
            if value:
                s.check(value, s.setting)


# -- values of the declared settings ------------------------------------------------------------


class _Values:
    """Values of declared reader settings, read as attributes; immutable."""

    __slots__ = ("_values",)
    _values: dict[str, object]

    def __init__(self, values: Mapping[str, object]) -> None:
        object.__setattr__(self, "_values", dict(values))

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"{type(self).__name__} has no {name!r}") from None

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._values == other._values

    def __hash__(self) -> int:
        return hash(tuple(self._values.items()))

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self._values.items())
        return f"{type(self).__name__}({shown})"

    def __iter__(self) -> Iterator[tuple[str, object]]:
        return iter(self._values.items())


class Reader(_Values):
    """One reader: an address and what they want; None falls back to the DIGEST_* setting.
    `key` is address_key(email), the reader's identity, unique in the file and the state;
    `line` that of their [[reader]] header (0: not from a file). Keyword arguments are the
    declared settings (SETTINGS); those not given have their fixed value, or None for those
    with a DIGEST_* default."""

    __slots__ = ()

    def __init__(self, email: str, key: str, line: int = 0, **given: object) -> None:
        unknown = set(given) - set(KEYS)
        if unknown:
            raise TypeError(f"Reader has no setting {sorted(unknown)[0]!r}")
        values: dict[str, object] = {"key": key, "line": line}
        values.update({s.name: given.get(s.name, None if s.env else s.fixed) for s in SETTINGS})
        values["email"] = email
        super().__init__(values)

    def address(self) -> Address:
        """The reader's address with `name` as its display name (the first of several, for the
        reader of DIGEST_TO: its message goes to settings.recipients)."""
        from email.headerregistry import Address

        found = addresses(self.email, "DIGEST_TO" if not self.key else "email")
        if not found:
            raise ConfigError("the reader has no address; set DIGEST_TO or DIGEST_READERS")
        first = found[0]
        return Address(self.name or first.display_name, first.username, first.domain)


class Resolved(_Values):
    """What a run uses for one reader: their own values, the DIGEST_* settings for the rest
    (RESOLVED names them; those not given here have their value when nothing is set)."""

    __slots__ = ()

    def __init__(self, **values: object) -> None:
        unknown = set(values) - set(RESOLVED)
        if unknown:
            raise TypeError(f"Resolved has no setting {sorted(unknown)[0]!r}")
        if set(values) != set(RESOLVED):  # the rest: what nothing set at all gives them
            usual = Settings()
            values = {n: values[n] if n in values else BY_NAME[n].usual(usual) for n in RESOLVED}
        super().__init__({n: values[n] for n in RESOLVED})

    def replace(self, **changed: object) -> Resolved:
        """The same with some values changed."""
        return Resolved(**{**dict(self), **changed})

    def signature(self) -> tuple[object, ...]:
        """Equal for readers whose digests of the same papers render the same."""
        return tuple(getattr(self, s.name) for s in SETTINGS if s.renders)


def effective(reader: Reader, settings: Settings) -> Resolved:
    """The reader's values over the DIGEST_* settings (and the fixed defaults)."""
    values = {}
    for name in RESOLVED:
        own = getattr(reader, name)
        values[name] = BY_NAME[name].usual(settings) if own is None else own
    return Resolved(**values)


def resolve(reader: Reader, settings: Settings, state: ReaderState | None) -> Resolved:
    """What a run uses for a reader: the readers file over the DIGEST_* settings, and what
    they changed themselves (kept in the state) over both. Unsubscribed counts as paused."""
    resolved = effective(reader, settings)
    chose = theirs(state)
    return resolved.replace(**chose) if chose else resolved


def theirs(state: ReaderState | None) -> dict[str, object]:
    """What a reader chose themselves and wins over the readers file: the values they set of
    the settings they may change (kept as text), and `paused` when they paused, resumed or
    unsubscribed."""
    prefs = state.prefs if state is not None else {}
    if not prefs:
        return {}
    chose: dict[str, object] = {
        s.name: s.web.parse(str(prefs[s.name]))
        for s in WEB
        if s.web is not None and isinstance(prefs.get(s.name), str)
    }
    if "paused" in prefs or prefs.get("unsubscribed"):
        chose["paused"] = bool(prefs.get("paused")) or bool(prefs.get("unsubscribed"))
    return chose
