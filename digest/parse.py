"""Read a dump's bytes into a Dump: decode, skip the page header, pair titles with abstracts.

Pure: takes bytes and a name, returns values or raises ParseError. No file access here.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

from digest.errors import ParseError
from digest.models import Dump, Paper

# Lines the Daily Papers page shows above the listing; matched whole, case-insensitively.
_HEADER = re.compile(
    r"""(?ix)^(?:
        new
      | get\ trending\ papers\ in\ your\ email\ inbox!?
      | subscribe
      | daily\ papers
      | by\s*ak(?:\ and\ the\ research\ community)?
    )$"""
)
_MONTHS = "jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec"
_DATE = re.compile(
    rf"""(?ix)^(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*,?\s+)?
        (?:(?:{_MONTHS})[a-z]*\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?
         | \d{{1,2}}\s+(?:{_MONTHS})[a-z]*\.?(?:\s+\d{{4}})?
         | \d{{4}}-\d{{2}}-\d{{2}})$"""
)
# Control characters other than tab and newline, and the bidirectional overrides and isolates
# that can make a title display as something other than what it says.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_TITLE_MAX = 300  # a block longer than this is never a title
_ABSTRACT_MIN = 200  # a block at least this long after a title is its abstract

# Errors a reader can act on; the file name is added by ParseError.
EMPTY = "file is empty"
BINARY = "not a text dump (binary content)"
NO_PAPERS = "no papers found: expected title and abstract paragraphs separated by blank lines"


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


def clean(text: str) -> str:
    """Text safe to show and to put in a header: NFC, no control or bidi-override characters,
    runs of white space folded to one space."""
    text = _UNSAFE.sub("", unicodedata.normalize("NFC", text))
    return " ".join(text.split())


def _blocks(text: str) -> Iterator[tuple[int, list[str]]]:
    """Paragraphs separated by blank lines, as (first line number, cleaned non-empty lines)."""
    start, lines = 0, list[str]()
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            if not lines:
                start = number
            lines.append(line)
        elif lines:
            yield start, [c for c in map(clean, lines) if c]
            lines = []
    if lines:
        yield start, [c for c in map(clean, lines) if c]




def _looks_binary(text: str) -> bool:
    sample = text[:4096]
    controls = sum(1 for c in sample if unicodedata.category(c) == "Cc" and c not in "\t\n\r\f")
    return controls > len(sample) // 100


def parse(data: bytes, name: str) -> Dump:
    """Parse a text dump. Raises ParseError when the file holds no papers at all."""
    if not data.strip():
        raise ParseError(name, EMPTY)
    text, encoding = decode(data, name)
    if _looks_binary(text):
        raise ParseError(name, BINARY)

    blocks = [(start, " ".join(lines), lines) for start, lines in _blocks(text) if lines]
    listing_date = None
    skip = 0
    for _, block, _ in blocks:
        if _HEADER.match(block):
            skip += 1
        elif listing_date is None and _DATE.match(block):
            listing_date = block
            skip += 1
        else:
            break
    blocks = blocks[skip:]

    papers: list[Paper] = []
    warnings: list[str] = []
    i = 0
    while i < len(blocks):
        start, title, lines = blocks[i]
        i += 1
        if len(title) > _TITLE_MAX:
            rest = " ".join(lines[1:])
            if len(lines[0]) <= _TITLE_MAX and len(rest) >= _ABSTRACT_MIN:
                # A title line with its abstract right below it, no blank line between.
                papers.append(Paper(lines[0], rest, source=name, listing_date=listing_date))
            elif i < len(blocks) and len(blocks[i][1]) >= _ABSTRACT_MIN:
                # An overlong title, followed by its abstract.
                papers.append(Paper(title, blocks[i][1], source=name, listing_date=listing_date))
                i += 1
            else:
                warnings.append(f"line {start}: a paragraph with no title before it; skipped")
            continue
        abstract = ""
        if i < len(blocks):
            following = blocks[i][1]
            # A long paragraph after a title is its abstract. A short one is too, unless the
            # paragraph after it is long: then this title has no abstract and the short one
            # is the next title.
            if len(following) >= _ABSTRACT_MIN or (
                i + 1 >= len(blocks) or len(blocks[i + 1][1]) < _ABSTRACT_MIN
            ):
                abstract = following
                i += 1
        papers.append(Paper(title, abstract, source=name, listing_date=listing_date))
    if not papers:
        raise ParseError(name, NO_PAPERS, line=blocks[0][0] if blocks else None)
    import hashlib  # here, not at the top: a run with no dumps to read never needs it

    return Dump(
        name=name,
        sha256=hashlib.sha256(data).hexdigest(),
        papers=tuple(papers),
        listing_date=listing_date,
        encoding=encoding,
        warnings=tuple(warnings),
    )
