"""What the dump formats share: decoding bytes, cleaning text, bounded JSON, arXiv ids, dates.

Pure: values in, values out; ParseError(file, why) for what a reader can act on.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from digest.errors import ParseError
from digest.models import Paper

# Papers, the listing date as the page shows it ("Mar 12"), the ISO day it lists, warnings.
Read = tuple[list[Paper], str | None, str | None, list[str]]

# Errors a reader can act on; the file name is added by ParseError.
EMPTY = "file is empty"
BINARY = "not a listing: binary content"

# Control characters other than tab and newline, and the bidirectional overrides and isolates
# that can make a title display as something other than what it says.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")

# arXiv identifiers, new style (2503.01234v2) and old (hep-th/9901001), the version dropped.
ARXIV_ID = re.compile(r"(?i)^(?:arxiv:)?(\d{4}\.\d{4,5}|[a-z-]+(?:\.[a-z]{2})?/\d{7})(?:v\d+)?$")
PAGE_ID = re.compile(r"^\w[\w.\-]{0,63}$")  # what may go into a paper page's address
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")
HF_PAPERS = "https://huggingface.co/papers/"
TITLE_MAX = 300  # a block longer than this is never a title


def decode(data: bytes, name: str) -> tuple[str, str]:
    """Decode a dump's bytes, returning (text, encoding): UTF-8 (with or without BOM), UTF-16
    with a BOM, else the legacy single-byte cp1252 (latin-1 where cp1252 has holes)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as e:
            raise ParseError(name, f"invalid UTF-16 at byte {e.start}") from None
    if b"\x00" in data:
        # UTF-16 saved without a byte-order mark: every other byte of ASCII text is zero.
        sample = data[:4096]
        for encoding, zeros in (("utf-16-le", sample[1::2]), ("utf-16-be", sample[0::2])):
            if len(data) % 2 == 0 and zeros.count(0) > len(zeros) * 0.9:
                try:
                    return data.decode(encoding), encoding
                except UnicodeDecodeError:
                    break
        raise ParseError(name, BINARY)
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def looks_binary(text: str) -> bool:
    """Whether decoded text is mostly not text: more than 1% control characters."""
    sample = text[:4096]
    controls = sum(1 for c in sample if unicodedata.category(c) == "Cc" and c not in "\t\n\r\f")
    return controls > len(sample) // 100


_SURROGATE = re.compile("[\ud800-\udfff]")


def clean(text: str) -> str:
    """Text safe to show and to put in a header: NFC, no control or bidi-override characters,
    no lone surrogates (an escaped half of a UTF-16 pair in JSON: no encoder takes it; it
    becomes U+FFFD), runs of white space folded to one space."""
    text = _SURROGATE.sub("\ufffd", text)
    text = _UNSAFE.sub("", unicodedata.normalize("NFC", text))
    return " ".join(text.split())


def text_of(value: object) -> str | None:
    """A cleaned string value, None for anything else or nothing."""
    return (clean(value) or None) if isinstance(value, str) else None


def iso_date(value: object) -> str | None:
    """The date part of an ISO timestamp ("2025-03-12T00:00:00.000Z" -> "2025-03-12")."""
    match = _ISO_DATE.match(value) if isinstance(value, str) else None
    if not match:
        return None
    import datetime

    try:
        return datetime.date(*map(int, match.groups())).isoformat()
    except ValueError:
        return None


def short_date(iso: str) -> str:
    """A listing date as the page shows it: "2025-03-12" -> "Mar 12"."""
    import datetime

    day = datetime.date.fromisoformat(iso)
    return f"{day:%b} {day.day}"


def with_date(paper: Paper, iso: str) -> Paper:
    """The paper, listed on the day `iso`."""
    import dataclasses

    return dataclasses.replace(paper, listed=iso, listing_date=short_date(iso))


def most_common(values: Iterable[str | None]) -> str | None:
    """The value met most often (the first of those that tie), ignoring empty ones."""
    counts: dict[str, int] = {}
    for value in values:
        if value:
            counts[value] = counts.get(value, 0) + 1
    return max(counts, key=counts.__getitem__) if counts else None


# -- bounded JSON ------------------------------------------------------------------------------

# Bounds on what one dump may make digest hold in memory. A day's listing has under 100
# papers, a few thousand JSON values, nested 6 deep; a dump past these is rejected whole,
# before anything is decoded, with a line that names the limit.
MAX_ITEMS = 5_000  # papers (items) in one dump
MAX_VALUES = 1_000_000  # JSON values in one dump (with those of items stored as strings)
MAX_DEPTH = 64  # nesting of arrays and objects
MAX_ITEM_BYTES = 1_000_000  # one item stored as a string

STRINGS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
REPR_STRINGS = re.compile(r"'[^'\\]*(?:\\.[^'\\]*)*'|" + STRINGS.pattern)
_NOT_BRACKET = re.compile(r"[^\[\]{}()]")
_STEP = {ord("["): 1, ord("{"): 1, ord("("): 1, ord("]"): -1, ord("}"): -1, ord(")"): -1}


def depth(text: str, strings: re.Pattern[str] = STRINGS) -> int:
    """How deep brackets nest in JSON (or a Python literal, with `REPR_STRINGS`), outside
    its strings; the depth reached so far when the text is cut off."""
    from itertools import accumulate

    brackets = _NOT_BRACKET.sub("", strings.sub("", text)).encode()
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def decode_json(text: str, name: str) -> object:
    """The one place JSON is decoded: bounded in size and depth before decoding, so that
    no input costs more than MAX_VALUES values or reaches Python's recursion limit. Raises
    ParseError past a bound; json.JSONDecodeError when the text is not valid JSON."""
    import json

    _check_bounds(text, name)
    try:
        return json.loads(text, parse_int=json_int)
    except RecursionError:  # cannot happen within MAX_DEPTH; one line all the same
        raise ParseError(name, too_deep(MAX_DEPTH + 1)) from None


def json_int(digits: str) -> int | None:
    """A JSON integer; None for one too long to be a count (Python refuses to convert
    thousands of digits, and no field of a listing needs more than a few)."""
    return int(digits) if len(digits) <= 30 else None


def _check_bounds(text: str, name: str) -> None:
    # Every value but the first in an array or object follows a comma, so commas and
    # openings bound the values: C-speed counts, whatever the size. Commas inside strings
    # count too, which keeps this an upper bound when items are strings holding values.
    values = text.count(",") + text.count("[") + text.count("{")
    if values > MAX_VALUES:
        raise ParseError(
            name,
            f"too big to read: up to {values:,} JSON values, more than the {MAX_VALUES:,} one"
            " listing file may hold (a day's listing has a few thousand); split the file",
        )
    deepest = depth(text)
    if deepest > MAX_DEPTH:
        raise ParseError(name, too_deep(deepest))


def too_deep(levels: int) -> str:
    """Why a dump nested `levels` deep is not read."""
    return (
        f"nested {levels:,} levels deep, more than the {MAX_DEPTH} digest reads"
        " (a Daily Papers listing is nested about 6 deep)"
    )
