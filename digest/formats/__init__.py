"""Dump formats: read a dump's bytes into a Dump, whatever its format, told by its content.

Each format is one module with `NAME`, `detect(text) -> bool` and `parse(text, name)`;
FORMATS lists them in the order they are tried (the first that detects its format reads the
dump; text, which takes anything, comes last). A new format is one module and one entry here.
Pure: takes bytes and a name, returns values or raises ParseError. No file access here.
"""

from __future__ import annotations

import datetime
import re

from digest.errors import ParseError
from digest.formats import html, json, text
from digest.formats.common import BINARY, EMPTY, clean, decode, looks_binary
from digest.models import Dump, Paper

TYPE_CHECKING = False  # typing itself costs start-up time that cron pays on every run
if TYPE_CHECKING:
    from typing import Protocol

    from digest.formats.common import Read

    class Format(Protocol):
        """What a format module provides."""

        NAME: str

        def detect(self, text: str) -> bool: ...
        def parse(self, text: str, name: str) -> Read: ...


__all__ = ["FORMATS", "clean", "detect", "parse", "sha256"]

FORMATS: tuple[Format, ...] = (json, html, text)


def sha256(data: bytes) -> str:
    """A dump's content hash, computed once by whoever read its bytes."""
    import hashlib  # here, not at the top: a run with no dumps to read never needs it

    return hashlib.sha256(data).hexdigest()


NEAR = 3  # days between a file name's date and its papers' within which the name dates them


def one_day(
    name: str,
    papers: list[Paper],
    listing_date: str | None,
    listed: str | None = None,
    found: datetime.date | None = None,
) -> tuple[list[Paper], str | None, str | None]:
    """A listing is of one day, and every paper of it is dated by that day: the date in the
    file's name (`digest fetch` saves 2025-03-12.json) when it agrees with what the listing
    says, within NEAR days; else the day the listing gives (`listed`: a page's address, a
    wrapper's date), else the day most of its papers give. A listing's day without a year
    ("Mar 12") takes the year of the name's date, else that of the day the file was written
    (`found`): the latest such day not after it. Returns the papers, the listing's date as
    written, its ISO day."""

    from digest.formats.common import most_common, short_date, with_date

    def dated(year: int) -> datetime.date | None:
        """The listing's day without a year ("Mar 12") in `year`."""
        try:
            return datetime.datetime.strptime(f"{listing_date} {year}", "%b %d %Y").date()
        except ValueError:
            return None

    in_name = re.search(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)", name)
    named: datetime.date | None = None
    if in_name:
        try:
            named = datetime.date(*map(int, in_name.groups()))
        except ValueError:
            named = None
    days = [datetime.date.fromisoformat(d) for d in {p.listed for p in papers if p.listed}]
    day = listed or most_common(p.listed for p in papers)
    if named is not None:
        if listing_date and not days:  # "Mar 12" in the name's year, or the next or last
            years = [dated(y) for y in (named.year, named.year - 1, named.year + 1)]
            near = [d for d in years if d is not None and abs((d - named).days) <= NEAR]
            day = near[0].isoformat() if near else day
        elif all(abs((d - named).days) <= NEAR for d in days):
            day = named.isoformat()
    if day is None and listing_date and found is not None:
        latest = found + datetime.timedelta(days=NEAR)
        years = [dated(y) for y in (found.year, found.year - 1)]
        before = [d for d in years if d is not None and d <= latest]
        day = before[0].isoformat() if before else None
    if day is None:
        return papers, listing_date, None
    return [p if p.listed == day else with_date(p, day) for p in papers], short_date(day), day


def detect(text: str) -> str:
    """The name of a dump's format, from its content: "json", "html" or "text"."""
    return next(f.NAME for f in FORMATS if f.detect(text))


def parse(
    data: bytes, name: str, sha: str | None = None, found: datetime.date | None = None
) -> Dump:
    """Parse a dump of any format. `sha` is its sha256 when the caller has it already (it
    is computed here otherwise); `found`, the day the file was written, dates a listing that
    gives its day without a year. Raises ParseError when the file holds no papers at all."""
    if not data.strip():
        raise ParseError(name, EMPTY)
    decoded, encoding = decode(data, name)
    if looks_binary(decoded):
        raise ParseError(name, BINARY)
    form = next(f for f in FORMATS if f.detect(decoded))
    papers, listing_date, listed, warnings = form.parse(decoded, name)
    papers, listing_date, listed = one_day(name, papers, listing_date, listed, found)
    return Dump(
        name=name,
        sha256=sha or sha256(data),
        papers=tuple(papers),
        listing_date=listing_date,
        listed=listed,
        encoding=encoding,
        format=form.NAME,
        warnings=tuple(warnings),
    )
