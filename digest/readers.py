"""The readers file (DIGEST_READERS): one `[[reader]]` table per reader, each with its own
interests, schedule and format over the DIGEST_* settings.

`load` reads the file once and turns it into Reader values; a bad entry costs only itself, as
one error line naming the file, the line and the key. `effective` resolves a reader over the
settings into what a run uses. `address_key` is a reader's identity: their address in one
normal form. Nothing here touches the state or sends anything.

tomllib gives no line numbers, so `_layout` finds them by reading the text once more: the line
of each `[[reader]]` header and of each key in its table.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

from digest.config import DETAILS, ORDERS, Settings, addresses
from digest.errors import ConfigError
from digest.printable import printable

TYPE_CHECKING = False  # typing itself costs start-up time that cron pays on every run
if TYPE_CHECKING:
    from email.headerregistry import Address

    from digest.models import ReaderState

FORMATS = ("html", "text")  # html: HTML with its text alternative
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# A plain address, nothing the mail parser would drop or rewrite (spaces, comments, a name):
# what is written is what is compared for uniqueness.
_PLAIN_ADDRESS = re.compile(r"[^\s<>()\[\],;:\\\"@]+@[^\s<>()\[\],;:\\\"@]+")


@dataclass(frozen=True, slots=True)
class Reader:
    """One reader: an address and what they want; None falls back to the DIGEST_* setting."""

    email: str
    key: str  # address_key(email): the reader's identity, unique in the file and the state
    line: int = 0  # of its [[reader]] header (0: not from a file)
    name: str = ""
    highlight: str | None = None  # comma-separated terms, as DIGEST_HIGHLIGHT
    exclude: str | None = None
    interests: str | None = None
    order: str | None = None
    max_papers: int | None = None
    detail: str | None = None  # compact or full (abstracts in the mail)
    schedule: str | None = None
    timezone: str | None = None
    format: str = "html"
    paused: bool = False
    since: datetime.date | None = None  # first listing date wanted; None: from when added
    notify: tuple[str, ...] = ()  # Apprise URLs

    def address(self) -> Address:
        """The reader's address with `name` as its display name (the first of several, for the
        reader of DIGEST_TO: its message goes to settings.recipients)."""
        from email.headerregistry import Address

        found = addresses(self.email, "DIGEST_TO" if not self.key else "email")
        if not found:
            raise ConfigError("the reader has no address; set DIGEST_TO or DIGEST_READERS")
        first = found[0]
        return Address(self.name or first.display_name, first.username, first.domain)


# The keys a [[reader]] table may hold: Reader's fields but those the file does not give.
KEYS = tuple(f.name for f in fields(Reader) if f.name not in ("key", "line"))


@dataclass(frozen=True, slots=True)
class Rejection:
    """A [[reader]] table left out (or a mistake outside any), as one line for a run's log.
    When its address could be read, the reader keeps their place meanwhile (`key`, with
    `since` if that was readable): fixed, they get what was listed while it was wrong."""

    line: int
    text: str
    key: str | None = None
    since: datetime.date | None = None
    table: bool = True  # False: a mistake outside any [[reader]] table


@dataclass(frozen=True, slots=True)
class Loaded:
    """A readers file read: the good readers in file order, one line per mistake (`errors`,
    for `digest readers check`) and one per table left out (`rejected`, for a run)."""

    readers: tuple[Reader, ...]
    errors: tuple[str, ...]
    rejected: tuple[Rejection, ...] = ()

    def waiting(self) -> dict[str, datetime.date | None]:
        """The readers of tables left out whose address could be read, with their `since`:
        they join the state as the others do, so that nothing is lost while it is wrong."""
        return {r.key: r.since for r in self.rejected if r.key is not None}


@dataclass(frozen=True, slots=True)
class Resolved:
    """What a run uses for one reader: their own values, the DIGEST_* settings for the rest."""

    highlight: str
    exclude: str
    interests: str
    order: str
    max_papers: int
    schedule: str
    timezone: str | None
    format: str
    paused: bool
    min_score: float = 0.0  # DIGEST_MIN_SCORE
    detail: str = "compact"  # DIGEST_DETAIL

    def signature(self) -> tuple[str | float, ...]:
        """Equal for readers whose digests of the same papers render the same."""
        return (
            self.highlight,
            self.exclude,
            self.interests,
            self.order,
            self.max_papers,
            self.format,
            self.min_score,
            self.detail,
        )


def default_reader(settings: Settings) -> Reader:
    """The one reader without a readers file: DIGEST_TO (all its addresses), all else settings."""
    return Reader(email=settings.to, key="")


def effective(reader: Reader, settings: Settings) -> Resolved:
    """The reader's values over the DIGEST_* settings."""
    interests: str = getattr(settings, "interests", "")
    return Resolved(
        highlight=joined(settings.highlight if reader.highlight is None else reader.highlight),
        exclude=joined(settings.exclude if reader.exclude is None else reader.exclude),
        interests=interests if reader.interests is None else reader.interests,
        order=settings.order if reader.order is None else reader.order,
        max_papers=settings.max_papers if reader.max_papers is None else reader.max_papers,
        schedule=settings.schedule if reader.schedule is None else reader.schedule,
        timezone=settings.timezone if reader.timezone is None else reader.timezone,
        format=reader.format,
        paused=reader.paused,
        min_score=settings.min_score,
        detail=settings.detail if reader.detail is None else reader.detail,
    )


def address_key(email: str) -> str:
    """An address in the one form readers are told apart by: the domain as IDNA ASCII (what
    mail is sent to), lower case and without a final dot; the local part in lower case too.
    Local parts may be case-sensitive by the letter of RFC 5321, but no mail service in use
    treats Ann@ and ann@ as two mailboxes, whereas two readers for one mailbox mean every
    digest twice, and an unsubscribed reader back by writing their address another way."""
    local, at, domain = email.strip().rpartition("@")
    if not at:
        return email.strip().lower()
    try:
        ascii_domain = domain.rstrip(".").encode("idna").decode("ascii")
    except UnicodeError:  # not an address a reader can have (refused on load): as written
        ascii_domain = domain
    return f"{local.lower()}@{ascii_domain.lower()}"


def respelled(found: Iterable[ReaderState]) -> list[tuple[ReaderState, list[int]]]:
    """The readers a state holds under another spelling of their address than address_key's
    (a Unicode domain, a final dot: as states before it kept them), as the one reader each
    address is, with the ids of the others it takes in. That reader is the first added,
    with their token; as far on as the furthest (every digest went to the one mailbox);
    with all of their own preferences (the first's first), and paused or unsubscribed if
    any of them was: no other spelling undoes an unsubscribe."""
    import dataclasses

    spellings: dict[str, list[ReaderState]] = {}
    for state in found:
        if state.key:  # "": the one reader of DIGEST_TO
            spellings.setdefault(address_key(state.key), []).append(state)
    merged = []
    for key, same in spellings.items():
        if [s.key for s in same] == [key]:
            continue
        same.sort(key=lambda s: s.id)
        prefs: dict[str, object] = {}
        for state in reversed(same):
            prefs.update(state.prefs)
        for flag in ("paused", "unsubscribed"):
            if any(s.prefs.get(flag) for s in same):
                prefs[flag] = True
        one = dataclasses.replace(
            same[0],
            key=key,
            upto=max(s.upto for s in same),
            token=next((s.token for s in same if s.token), None),
            prefs=prefs,
        )
        merged.append((one, [s.id for s in same[1:]]))
    return merged


def joined(terms: str) -> str:
    """Comma-separated terms in one spelling ("a,b " and "a, b" alike)."""
    return ", ".join(t for t in (t.strip() for t in terms.split(",")) if t)


def load(path: Path) -> Loaded:
    """The readers in a file. Raises ConfigError only for a file that cannot be read or is not
    TOML; each bad entry is an error line in the result, and the others load."""
    import tomllib

    file = printable(str(path))
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as e:
        raise ConfigError(
            f"cannot read the readers file {file}: {e.strerror or e}; check DIGEST_READERS"
        ) from None
    except UnicodeDecodeError as e:
        raise ConfigError(
            f"readers file {file} is not UTF-8 text (byte {e.start + 1}); save it as UTF-8"
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        why = str(e)
        m = re.search(r"\s*\(at line (\d+), column (\d+)\)$", why)
        where = f"{file}:{m[1]}" if m else file
        if m:
            why = f"{why[: m.start()]} at column {m[2]}"
        raise ConfigError(
            f"{where}: not valid TOML: {printable(why)}; fix it (see readers.example.toml)"
        ) from None
    top, tables = _layout(text)
    return _readers(data, top, tables, file)


class _Bad(Exception):
    """One thing wrong with an entry: its text after the reader's label."""


def _readers(
    data: dict[str, object], top: dict[str, int], tables: list[_Table], file: str
) -> Loaded:
    errors: list[tuple[int, str]] = []
    rejected: list[Rejection] = []

    def where(line: int, text: str) -> str:
        return printable(f"{file}:{line}: {text}" if line else f"{file}: {text}")

    def error(line: int, text: str) -> None:
        errors.append((line, where(line, text)))

    def outside(line: int, text: str) -> None:  # a mistake outside any [[reader]] table
        error(line, text)
        rejected.append(Rejection(line, where(line, f"{text}; it is ignored"), table=False))

    for name in data:
        if name != "reader":
            import difflib  # only for a file with a mistake

            hint = (
                "; did you mean [[reader]]?" if difflib.get_close_matches(name, ["reader"]) else ""
            )
            outside(
                top.get(name, 0),
                f"{name!r} is not allowed at the top level; the file holds only [[reader]]"
                f" tables{hint}",
            )
    entries = data.get("reader", [])
    if not isinstance(entries, list):
        outside(
            top.get("reader", 0),
            "reader: write each reader as a [[reader]] table (two brackets)",
        )
        entries = []
    readers: list[Reader] = []
    claimed: dict[str, tuple[int, str]] = {}  # key -> the line and label of the reader with it
    memo: dict[tuple[str, str], str] = {}
    for number, entry in enumerate(entries, 1):
        table = tables[number - 1] if number <= len(tables) else _Table(top.get("reader", 0))
        reader, problems, kept = _entry(entry, number, table, claimed, memo)
        for line, text in problems:
            error(line, text)
        if reader is not None:
            readers.append(reader)
        elif problems:
            rejected.append(_rejection(problems, kept, where, file))
    errors.sort(key=lambda e: e[0])  # stable: an entry's errors stay in their order
    rejected.sort(key=lambda r: r.line)
    return Loaded(tuple(readers), tuple(text for _, text in errors), tuple(rejected))


def _rejection(
    problems: list[tuple[int, str]],
    kept: tuple[str, datetime.date | None] | None,
    where: Callable[[int, str], str],
    file: str,
) -> Rejection:
    """One line for a [[reader]] table left out: its first mistake, how many more, and
    what to do."""
    line, text = problems[0]
    more = len(problems) - 1
    said = f"{text} (and {more} more {'mistake' if more == 1 else 'mistakes'})" if more else text
    fate = "gets nothing until it is fixed, and misses nothing" if kept else "is left out"
    said += f"; this reader {fate} (`digest readers check {file}` lists every mistake)"
    key, since = kept if kept else (None, None)
    return Rejection(line, where(line, said), key, since)


def _entry(
    entry: object,
    number: int,
    table: _Table,
    claimed: dict[str, tuple[int, str]],
    memo: dict[tuple[str, str], str],
) -> tuple[Reader | None, list[tuple[int, str]], tuple[str, datetime.date | None] | None]:
    """One [[reader]] table as a Reader, or the (line, text) of everything wrong with it and,
    when its address could be read and is its own, that reader's key and `since`."""
    if not isinstance(entry, dict):
        problem = (table.line, f"reader {number}: expected a table, got {_kind(entry)}")
        return None, [problem], None
    email = entry.get("email")
    label = f"reader {number} ({email})" if isinstance(email, str) and email else f"reader {number}"
    problems: list[tuple[int, str]] = []
    values: dict[str, object] = {}
    if "email" not in entry:
        problems.append((table.line, f'{label}: email: missing; add email = "name@example.org"'))
    for key, value in entry.items():
        line = table.keys.get(key, table.line)
        convert = _CONVERT.get(key)
        if convert is None:
            import difflib  # only for a file with a mistake

            close = difflib.get_close_matches(key, KEYS, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"the keys are {', '.join(KEYS)}"
            problems.append((line, f"{label}: {key!r} is not a known key; {hint}"))
            continue
        try:
            values[key] = convert(key, value, memo)
        except _Bad as e:
            problems.append((line, f"{label}: {e}"))
    address = values.get("email")
    kept = None
    if isinstance(address, str):
        key = address_key(address)
        if key in claimed:
            line, other = claimed[key]
            problems.append(
                (
                    table.keys.get("email", table.line),
                    f"{label}: email: {address!r} is also the address of {other} at line"
                    f" {line}; keep one [[reader]] table for them",
                )
            )
        else:
            claimed[key] = (table.line, label)
            since = values.get("since")
            # A `since` that cannot be read yet is theirs to say once fixed: not joined now.
            if "since" not in entry or isinstance(since, datetime.date):
                kept = (key, since if isinstance(since, datetime.date) else None)
    if problems:
        return None, problems, kept
    key = address_key(str(values["email"]))
    return Reader(key=key, line=table.line, **values), [], None  # type: ignore[arg-type]


# -- what `digest readers` says -----------------------------------------------------------------

THEIRS = "(theirs)"  # marks a value the reader chose on their own pages, over the file's


def checked(loaded: Loaded) -> str:
    """`digest readers check` in one line: readers taken and left out, counted as readers."""
    tables = sum(1 for r in loaded.rejected if r.table)
    paused = sum(1 for r in loaded.readers if r.paused)
    said = f"{_count(len(loaded.readers), 'reader')} ok ({paused} paused), {tables} with errors"
    if outside := len(loaded.rejected) - tables:
        said += f", and {_count(outside, 'mistake')} outside the [[reader]] tables"
    return said


def listed(
    reader: Reader,
    settings: Settings,
    state: ReaderState | None,
    outbox: Mapping[str, object],
    end: int,
) -> str:
    """`digest readers`: a reader as a run takes them (what they chose on their own pages,
    kept in the state, over the file, and marked), their last digest, what waits for them
    (`end`: the catalogue's last position) and their digests pending and failed (`outbox`)."""
    from digest.letters import OWN, resolve, theirs

    resolved = resolve(reader, settings, state)
    chose = theirs(state)
    usual = effective(Reader(reader.email, reader.key), settings)  # the DIGEST_* settings'

    def mark(name: str) -> str:
        return f" {THEIRS}" if name in chose else ""

    line = f"{reader.email}: {resolved.schedule}{mark('schedule')}"
    if resolved.timezone:
        line += f" ({resolved.timezone})"
    for name in OWN:
        value = getattr(resolved, name)
        if name != "schedule" and (value != getattr(usual, name) or name in chose):
            line += f", {name}: {value or 'none'}{mark(name)}"
    unsubscribed = bool(state is not None and state.prefs.get("unsubscribed"))
    if unsubscribed:
        line += f", unsubscribed {THEIRS}"
    elif resolved.paused:
        line += f", paused{mark('paused')}"
    if state is None:
        return f"{line}; no digest yet (joins at the next run)"
    last = str(outbox.get("last_sent") or "never")[:16].replace("T", " ")
    line += f"; last delivered: {last}"
    if not unsubscribed:  # nothing waits for them: nothing will be sent
        line += f"; {end - state.upto} new papers waiting"
    return f"{line}; pending: {outbox.get('pending') or 0}; failed: {outbox.get('failed') or 0}"


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


# -- the value of each key ----------------------------------------------------------------------


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


def _kind(value: object) -> str:
    """What a TOML value is, in the file's words."""
    return next((word for kind, word in _KINDS if isinstance(value, kind)), "a time")


def _string(key: str, value: object) -> str:
    if not isinstance(value, str):
        raise _Bad(f"{key}: expected a string, got {_kind(value)}")
    return value


def _strings(key: str, value: object) -> list[str]:
    """A string, or an array of strings."""
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        if isinstance(value, list):
            got = "an array holding " + next(_kind(v) for v in value if not isinstance(v, str))
        else:
            got = _kind(value)
        raise _Bad(f"{key}: expected a string or an array of strings, got {got}")
    return value


def _once(
    memo: dict[tuple[str, str], str], key: str, value: str, check: Callable[[], object]
) -> None:
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
        raise _Bad(found)


def _email(key: str, value: object, memo: dict[tuple[str, str], str]) -> str:
    text = _string(key, value).strip()
    try:
        found = addresses(text, key)
    except ConfigError:
        found = ()
    if len(found) > 1:
        raise _Bad(f"{key}: {text!r} holds {len(found)} addresses; give each its own [[reader]]")
    if len(found) != 1 or not _PLAIN_ADDRESS.fullmatch(text):
        raise _Bad(
            f"{key}: {text!r} is not an email address; write name@example.org"
            " (and the name in name = ...)"
        )
    return text


def _name(key: str, value: object, memo: dict[tuple[str, str], str]) -> str:
    text = _string(key, value)
    if printable(text) != text:
        raise _Bad(f"{key}: must be printable text on one line")
    return text


def _terms(key: str, value: object, memo: dict[tuple[str, str], str]) -> str:
    text = joined(",".join(_strings(key, value)))
    if text:
        from digest.patterns import terms

        _once(memo, key, text, lambda: terms(text, key))
    return text


def _interests(key: str, value: object, memo: dict[tuple[str, str], str]) -> str:
    return ", ".join(s.strip() for s in _strings(key, value) if s.strip())


def _choice(choices: tuple[str, ...]) -> Callable[[str, object, dict[tuple[str, str], str]], str]:
    def convert(key: str, value: object, memo: dict[tuple[str, str], str]) -> str:
        text = _string(key, value)
        if text not in choices:
            raise _Bad(f"{key}: {text!r} is not one of {', '.join(choices)}")
        return text

    return convert


def _max_papers(key: str, value: object, memo: dict[tuple[str, str], str]) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Bad(f"{key}: expected a whole number, got {_kind(value)}")
    # The range DIGEST_MAX_PAPERS declares, so both say the same.
    low, high, unit = next(f for f in fields(Settings) if f.name == key).metadata["range"]
    if not low <= value <= high:
        raise _Bad(f"{key}: {value} is out of range: use {low:,} to {high:,} {unit}")
    return value


def _schedule(key: str, value: object, memo: dict[tuple[str, str], str]) -> str:
    text = _string(key, value)

    def check() -> None:
        from datetime import UTC

        from digest.service.schedule import reader_schedule

        try:
            reader_schedule(text, UTC, key)  # the grammar does not depend on the zone
        except ConfigError as e:  # said as `schedule='x' is ...`, like a setting: say it as a key
            said = str(e)
            prefix = f"{key}={text!r}"
            raise ConfigError(
                f"{key}: {text!r}{said[len(prefix) :]}" if said.startswith(prefix) else said
            ) from None

    _once(memo, key, text, check)
    return text


def _timezone(key: str, value: object, memo: dict[tuple[str, str], str]) -> str:
    text = _string(key, value)

    def check() -> None:
        from digest.config import zone

        try:
            if not text:
                raise ConfigError  # zone("") would be the machine's own
            zone(text)
        except ConfigError:
            raise ConfigError(
                f"{key}: {text!r} is not a known time zone; use an IANA name such as"
                " Europe/Paris or UTC, or leave it out for DIGEST_TIMEZONE"
            ) from None

    _once(memo, key, text, check)
    return text


def _paused(key: str, value: object, memo: dict[tuple[str, str], str]) -> bool:
    if not isinstance(value, bool):
        raise _Bad(f"{key}: expected true or false, got {_kind(value)}")
    return value


def _since(key: str, value: object, memo: dict[tuple[str, str], str]) -> datetime.date:
    if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        return value
    if isinstance(value, str) and _DATE.fullmatch(value):
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            raise _Bad(f"{key}: {value!r} is not a date; write YYYY-MM-DD") from None
    shown = repr(value) if isinstance(value, str) else _kind(value)
    raise _Bad(f"{key}: expected a date like 2025-03-01, got {shown}")


def _notify(key: str, value: object, memo: dict[tuple[str, str], str]) -> tuple[str, ...]:
    urls = tuple(_strings(key, value))
    for url in urls:
        if "://" not in url or not url.split("://", 1)[0]:
            raise _Bad(f"{key}: {url!r} is not a notification URL like tgram://token/chat")
    return urls


_CONVERT: dict[str, Callable[[str, object, dict[tuple[str, str], str]], object]] = {
    "email": _email,
    "name": _name,
    "highlight": _terms,
    "exclude": _terms,
    "interests": _interests,
    "order": _choice(ORDERS),
    "max_papers": _max_papers,
    "detail": _choice(DETAILS),
    "schedule": _schedule,
    "timezone": _timezone,
    "format": _choice(FORMATS),
    "paused": _paused,
    "since": _since,
    "notify": _notify,
}


# -- where things are in the text ---------------------------------------------------------------


@dataclass(slots=True)
class _Table:
    """A [[reader]] header's line, and the line of each key given in its table."""

    line: int
    keys: dict[str, int] = field(default_factory=dict)


def _layout(text: str) -> tuple[dict[str, int], list[_Table]]:
    """The line of each top-level key or table, and each [[reader]] table in file order.

    The text is valid TOML (tomllib read it), so this follows only what can hide a line's
    meaning: strings (multi-line ones too), comments, and arrays or inline tables that span
    lines."""
    top: dict[str, int] = {}
    tables: list[_Table] = []
    keys = top  # where the keys of the current table go; {} for tables not followed
    depth, quote = 0, ""  # inside a value: brackets open, multi-line string open
    for number, line in enumerate(text.split("\n"), 1):
        if depth or quote:
            depth, quote = _rest(line, 0, depth, quote)
            continue
        start = len(line) - len(line.lstrip())
        if start == len(line) or line[start] == "#":
            continue
        if line[start] == "[":
            double = line.startswith("[[", start)
            first = start + (2 if double else 1)
            path = _path(line[first : _until(line, first, "]")])
            if double and path == ("reader",):
                tables.append(_Table(number))
                keys = tables[-1].keys
            else:
                if path[0] == "reader" and len(path) > 1 and tables:
                    tables[-1].keys.setdefault(path[1], number)
                else:
                    top.setdefault(path[0], number)
                keys = {}
            continue
        simple = _SIMPLE.match(line)
        if simple:  # most lines: taken in one step, as following them is most of the time
            keys.setdefault(simple[1], number)
            continue
        equals = _until(line, start, "=")
        keys.setdefault(_path(line[start:equals])[0], number)
        depth, quote = _rest(line, equals + 1, 0, "")
    return top, tables


# A bare key and a value complete on its line: a number, a date, true, a one-line string
# without escapes, or a flat one-line array of those; a comment may follow.
_SCALAR = r"""(?:"[^"\\\n]*"|'[^'\n]*'|[^\s"'\[\]{}#,=]+)"""
_SIMPLE = re.compile(
    rf"\s*([A-Za-z0-9_-]+)\s*=\s*(?:{_SCALAR}|\[\s*(?:{_SCALAR}\s*,\s*)*(?:{_SCALAR}\s*)?\])"
    r"\s*(?:#.*)?\r?$"
)


def _until(line: str, i: int, stop: str) -> int:
    """The index of `stop` in a line from i, outside quoted keys."""
    while i < len(line) and line[i] != stop:
        i = _past_string(line, i) if line[i] in "\"'" else i + 1
    return i


def _past_string(line: str, i: int) -> int:
    """The index after the one-line string that starts at i."""
    mark = line[i]
    i += 1
    while i < len(line) and line[i] != mark:
        i += 2 if mark == '"' and line[i] == "\\" else 1
    return i + 1


def _rest(line: str, i: int, depth: int, quote: str) -> tuple[int, str]:
    """Follow a value to the end of a line: the brackets and multi-line string left open."""
    n = len(line)
    while i < n:
        if quote:
            if quote == '"""' and line[i] == "\\":
                i += 2
            elif line.startswith(quote, i):
                i += 3
                while i < n and line[i] == quote[0]:  # up to two quotes end the text itself
                    i += 1
                quote = ""
            else:
                i += 1
            continue
        ch = line[i]
        if ch == "#":
            break
        if line.startswith(('"""', "'''"), i):
            quote = line[i : i + 3]
            i += 3
        elif ch in "\"'":
            i = _past_string(line, i)
        else:
            depth += (ch in "[{") - (ch in "]}")
            i += 1
    return depth, quote


def _path(raw: str) -> tuple[str, ...]:
    """A dotted key as its parts: `a."b.c"` is ("a", "b.c")."""
    if "'" not in raw and '"' not in raw:
        return tuple(part.strip() for part in raw.split("."))
    import tomllib

    try:
        found: object = tomllib.loads(f"{raw} = 0")
    except tomllib.TOMLDecodeError:
        return (raw.strip(),)
    parts = []
    while isinstance(found, dict):
        name, found = next(iter(found.items()))
        parts.append(name)
    return tuple(parts)
