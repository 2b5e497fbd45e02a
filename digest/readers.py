"""The readers file (DIGEST_READERS): one `[[reader]]` table per reader, each with its own
interests, schedule and format over the DIGEST_* settings.

`load` reads the file once and turns it into Reader values; a bad entry costs only itself, as
one error line naming the file, the line and the key. Each key is a reader setting declared in
digest.reader_settings, which reads and checks its value; `effective` (there) resolves a
reader over the settings into what a run uses. `address_key` is a reader's identity: their
address in one normal form. Nothing here touches the state or sends anything.

tomllib gives no line numbers, so `_layout` finds them by reading the text once more: the line
of each `[[reader]]` header and of each key in its table.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from digest.addresses import address_key as address_key
from digest.addresses import respelled as respelled
from digest.errors import ConfigError
from digest.printable import printable
from digest.reader_settings import (
    BY_NAME,
    FORMATS,
    KEYS,
    SETTINGS,
    Bad,
    Memo,
    Reader,
    Resolved,
    effective,
    joined,
    kind,
)
from digest.settings import Settings

TYPE_CHECKING = False  # typing itself costs start-up time that cron pays on every run
if TYPE_CHECKING:
    from digest.models import ReaderState

__all__ = [
    "FORMATS",
    "KEYS",
    "Loaded",
    "Reader",
    "Rejection",
    "Resolved",
    "address_key",
    "checked",
    "default_reader",
    "effective",
    "joined",
    "listed",
    "listing",
    "load",
    "respelled",
]


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


def default_reader(settings: Settings) -> Reader:
    """The one reader without a readers file: DIGEST_TO (all its addresses), all else settings."""
    return Reader(email=settings.to, key="")


_last: tuple[tuple[str, bytes], Loaded] | None = None  # the file last read, and what it gave


def load(path: Path) -> Loaded:
    """The readers in a file. Raises ConfigError only for a file that cannot be read or is not
    TOML; each bad entry is an error line in the result, and the others load. A file read
    before and not changed since (the same bytes) is not read into readers again: a run and
    the chats of its readers both ask for it."""
    import tomllib

    global _last
    file = printable(str(path))
    try:
        raw = path.read_bytes()
        if _last is not None and _last[0] == (str(path), raw):
            return _last[1]
        text = raw.decode("utf-8-sig")
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
    loaded = _readers(data, top, tables, file)
    _last = ((str(path), raw), loaded)
    return loaded


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
    memo: Memo = {}
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
    memo: Memo,
) -> tuple[Reader | None, list[tuple[int, str]], tuple[str, datetime.date | None] | None]:
    """One [[reader]] table as a Reader, or the (line, text) of everything wrong with it and,
    when its address could be read and is its own, that reader's key and `since`."""
    if not isinstance(entry, dict):
        problem = (table.line, f"reader {number}: expected a table, got {kind(entry)}")
        return None, [problem], None
    email = entry.get("email")
    label = f"reader {number} ({email})" if isinstance(email, str) and email else f"reader {number}"
    problems: list[tuple[int, str]] = []
    values: dict[str, object] = {}
    if "email" not in entry:
        problems.append((table.line, f'{label}: email: missing; add email = "name@example.org"'))
    for key, value in entry.items():
        line = table.keys.get(key, table.line)
        setting = BY_NAME.get(key)
        if setting is None:
            import difflib  # only for a file with a mistake

            close = difflib.get_close_matches(key, KEYS, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"the keys are {', '.join(KEYS)}"
            problems.append((line, f"{label}: {key!r} is not a known key; {hint}"))
            continue
        try:
            values[key] = setting.read(key, value, memo)
        except Bad as e:
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
    email = str(values.pop("email"))
    return Reader(email, key, table.line, **values), [], None


# -- what `digest readers` says -----------------------------------------------------------------

_WHEN = ("schedule", "timezone", "paused")  # said in a listing's own words
THEIRS = "(theirs)"  # marks a value the reader chose on their own pages, over the file's


def checked(loaded: Loaded) -> str:
    """`digest readers check` in one line: readers taken and left out, counted as readers."""
    tables = sum(1 for r in loaded.rejected if r.table)
    paused = sum(1 for r in loaded.readers if r.paused)
    said = f"{_count(len(loaded.readers), 'reader')} ok ({paused} paused), {tables} with errors"
    if outside := len(loaded.rejected) - tables:
        said += f", and {_count(outside, 'mistake')} outside the [[reader]] tables"
    return said


def listing(
    readers: Iterable[Reader],
    settings: Settings,
    known: Iterable[ReaderState],
    outbox: Mapping[int, Mapping[str, object]],
    end: int,
) -> list[str]:
    """`digest readers`: a line for each reader of the file (see `listed`), from what the
    state holds of the readers (`known`), of their digests (`outbox`, by reader id) and of
    the catalogue (`end`, its last position); a last line says what marks their own."""
    by_key = {r.key: r for r in known}
    lines = []
    for reader in readers:
        kept = by_key.get(reader.key)
        done = outbox.get(kept.id, {}) if kept is not None else {}
        lines.append(listed(reader, settings, kept, done, end))
    if any(THEIRS in line for line in lines):
        lines.append(f"{THEIRS}: chosen by the reader on their own pages, over the readers file")
    return lines


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
    from digest.reader_settings import resolve, theirs

    resolved = resolve(reader, settings, state)
    chose = theirs(state)
    usual = effective(Reader(reader.email, reader.key), settings)  # the DIGEST_* settings'

    def mark(name: str) -> str:
        return f" {THEIRS}" if name in chose else ""

    line = f"{reader.email}: {resolved.schedule}{mark('schedule')}"
    if resolved.timezone:
        line += f" ({resolved.timezone})"
    for s in SETTINGS:  # when and whether (said above and below) apart, every setting of theirs
        if s.about or s.name in _WHEN:
            continue
        value = getattr(resolved, s.name)
        if value != getattr(usual, s.name) or s.name in chose:
            line += f", {s.name}: {value or 'none'}{mark(s.name)}"
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


def chosen(
    loaded: Loaded, emails: Iterable[str], settings: Settings, where: object
) -> tuple[list[Reader], list[str]]:
    """The readers of the readers file (`where`) that these addresses name (`--reader`), and
    the addresses of those paused, left out; ConfigError for one not in the file."""
    by_key = {r.key: r for r in loaded.readers}
    taken: list[Reader] = []
    paused: list[str] = []
    for email in emails:
        reader = by_key.get(address_key(email))
        if reader is None:
            raise ConfigError(f"--reader {email}: no such reader in {where}")
        if effective(reader, settings).paused:
            paused.append(email)
        else:
            taken.append(reader)
    return taken, paused


def state_of(states: Iterable[ReaderState], email: str) -> ReaderState | None:
    """The reader of this address among those a state holds, however it is spelt ("" is the
    reader of DIGEST_TO)."""
    key = address_key(email)
    return next((state for state in states if state.key == key), None)


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


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
