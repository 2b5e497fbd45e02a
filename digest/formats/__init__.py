"""Dump formats: read a dump's bytes into a Dump, whatever its format, told by its content.

Each format is one module with `NAME`, `detect(text) -> bool` and `parse(text, name)`;
FORMATS lists them in the order they are tried (the first that detects its format reads the
dump; text, which takes anything, comes last). A new format is one module and one entry here.
Pure: takes bytes and a name, returns values or raises ParseError. No file access here.
"""

from __future__ import annotations

from digest.errors import ParseError
from digest.formats import html, json, text
from digest.formats.common import BINARY, EMPTY, clean, decode, looks_binary
from digest.models import Dump

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


def detect(text: str) -> str:
    """The name of a dump's format, from its content: "json", "html" or "text"."""
    return next(f.NAME for f in FORMATS if f.detect(text))


def parse(data: bytes, name: str, sha: str | None = None) -> Dump:
    """Parse a dump of any format. `sha` is its sha256 when the caller has it already (it
    is computed here otherwise). Raises ParseError when the file holds no papers at all."""
    if not data.strip():
        raise ParseError(name, EMPTY)
    decoded, encoding = decode(data, name)
    if looks_binary(decoded):
        raise ParseError(name, BINARY)
    form = next(f for f in FORMATS if f.detect(decoded))
    papers, listing_date, listed, warnings = form.parse(decoded, name)
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
