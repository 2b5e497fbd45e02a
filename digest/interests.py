"""Shape a digest to its reader: leave out what they exclude, put what they highlight first,
order the rest, and cap how many papers are shown in full.

Pure: the new papers and the reader's interests in, a Selection out. Knows nothing of
settings: the pipeline builds the Interests from them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from digest.errors import ConfigError
from digest.models import Paper

# A term of words alone (letters, digits, spaces, hyphens, apostrophes) matches whole words,
# so "RL" does not match "world"; anything else is a regular expression used as written.
_PLAIN = re.compile(r"[\w\s'-]+")


@dataclass(frozen=True, slots=True)
class Term:
    """One of the reader's words or regular expressions, as written and as compiled."""

    text: str
    pattern: re.Pattern[str]


@dataclass(frozen=True, slots=True)
class Interests:
    """What the reader wants: terms to highlight or exclude, an order, a cap (0: none)."""

    highlight: tuple[Term, ...] = ()
    exclude: tuple[Term, ...] = ()
    order: str = "highlights"
    max_papers: int = 0


@dataclass(frozen=True, slots=True)
class Selection:
    """The new papers, split: shown in full, listed compactly past the cap, or excluded."""

    full: tuple[Paper, ...]
    more: tuple[Paper, ...] = ()
    excluded: tuple[Paper, ...] = ()
    highlights: dict[Paper, tuple[str, ...]] = field(default_factory=dict)


def terms(raw: str, setting: str) -> tuple[Term, ...]:
    """The terms of a comma-separated setting, each a word or a regular expression, matched
    ignoring case. Raises ConfigError naming the setting for one that is not valid."""
    found = []
    for text in (t.strip() for t in raw.split(",")):
        if not text:
            continue
        if _PLAIN.fullmatch(text):
            source = r"(?<!\w)" + r"\s+".join(map(re.escape, text.split())) + r"(?!\w)"
        else:
            source = text
        try:
            pattern = re.compile(source, re.IGNORECASE)
        except re.error as e:
            why = f"{text!r} is not a valid regular expression: {e}"
            raise ConfigError(f"{setting}: {why}") from None
        if pattern.search(""):
            raise ConfigError(f"{setting}: {text!r} matches empty text, so it would match anything")
        found.append(Term(text, pattern))
    return tuple(found)


def searched(paper: Paper) -> str:
    """The text a paper's terms are looked for in: title, abstract, authors, keywords."""
    return "\n".join((paper.title, paper.abstract, *paper.authors, *paper.ai_keywords))


def matching(terms: Iterable[Term], paper: Paper) -> tuple[str, ...]:
    """The terms (as written) that occur in a paper."""
    text = searched(paper)
    return tuple(t.text for t in terms if t.pattern.search(text))


def select(papers: Iterable[Paper], wants: Interests) -> Selection:
    """Split and order the new papers by the reader's interests."""
    kept: list[Paper] = []
    excluded: list[Paper] = []
    highlights: dict[Paper, tuple[str, ...]] = {}
    for paper in papers:
        if matching(wants.exclude, paper):
            excluded.append(paper)
            continue
        kept.append(paper)
        found = matching(wants.highlight, paper)
        if found:
            highlights[paper] = found
    # sorted() is stable: papers that tie keep their listing order.
    if wants.order == "highlights":
        kept.sort(key=lambda p: p not in highlights)
    elif wants.order == "upvotes":
        kept.sort(key=lambda p: (p.upvotes is None, -(p.upvotes or 0)))
    cap = wants.max_papers or len(kept)
    return Selection(tuple(kept[:cap]), tuple(kept[cap:]), tuple(excluded), highlights)
