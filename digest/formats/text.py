"""Text copied from the Daily Papers page: skip the page header, pair titles with abstracts."""

from __future__ import annotations

import re
from collections.abc import Iterator

from digest.errors import ParseError
from digest.formats.common import TITLE_MAX, Read, clean
from digest.models import Paper

NAME = "text"

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
_DAY = r"(?:0?[1-9]|[12]\d|3[01])"  # a day of a month: "0 Dec" is no date
_DATE = re.compile(
    rf"""(?ix)^(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*,?\s+)?
        (?:(?:{_MONTHS})[a-z]*\.?\s+{_DAY}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?
         | {_DAY}\s+(?:{_MONTHS})[a-z]*\.?(?:\s+\d{{4}})?
         | \d{{4}}-\d{{2}}-\d{{2}})$"""
)
_ABSTRACT_MIN = 200  # a block at least this long after a title is its abstract

NO_PAPERS = "no papers found: expected title and abstract paragraphs separated by blank lines"


def detect(text: str) -> bool:
    """Any text may be a listing copied from the page: the format tried last."""
    return True


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


def parse(text: str, name: str) -> Read:
    """Papers of a listing copied as text: title and abstract paragraphs separated by blank
    lines, below the page's header and its date. Raises ParseError when it holds none."""
    blocks = [(start, " ".join(lines), lines) for start, lines in _blocks(text) if lines]
    listing_date = None
    skip = 0
    for at, (_, block, _) in enumerate(blocks):
        if _HEADER.match(block):
            skip += 1
        elif (
            listing_date is None
            and _DATE.match(block)
            # A date line is followed by a title; a paper titled like a date, by its abstract.
            and (at + 1 >= len(blocks) or len(blocks[at + 1][1]) < _ABSTRACT_MIN)
        ):
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
        if len(title) > TITLE_MAX:
            rest = " ".join(lines[1:])
            if len(lines[0]) <= TITLE_MAX and len(rest) >= _ABSTRACT_MIN:
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
    return papers, listing_date, None, warnings
