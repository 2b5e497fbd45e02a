"""Shape a digest to its reader: leave out what they exclude, put what they highlight first,
order the rest, and cap how many papers are shown in full.

Pure: the new papers and the reader's interests in, a Selection out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from digest.errors import ConfigError
from digest.models import Paper

TYPE_CHECKING = False  # typing itself costs start-up time that cron pays on every run
if TYPE_CHECKING:
    from digest.config import Settings
    from digest.identity.decide import Identified

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


def interests(settings: Settings) -> Interests:
    """The reader's interests as the settings give them."""
    return Interests(
        highlight=terms(settings.highlight, "DIGEST_HIGHLIGHT"),
        exclude=terms(settings.exclude, "DIGEST_EXCLUDE"),
        order=settings.order,
        max_papers=settings.max_papers,
    )


def searched(paper: Paper) -> str:
    """The text a paper's terms are looked for in: title, abstract, authors, keywords."""
    return "\n".join((paper.title, paper.abstract, *paper.authors, *paper.ai_keywords))


def matching(terms: Iterable[Term], paper: Paper) -> tuple[str, ...]:
    """The terms (as written) that occur in a paper."""
    text = searched(paper)
    return tuple(t.text for t in terms if t.pattern.search(text))


def enrich(
    new: Iterable[Paper],
    repeats: Iterable[Paper],
    identified: Callable[[Paper], Identified] | None = None,
) -> tuple[Paper, ...]:
    """The new papers, each completed with what a repeat of it in the same run knows and it
    does not (a text dump and the JSON of the same day: the JSON brings links and authors).
    `identified` gives a paper's identity when it is known already."""
    import dataclasses

    from digest.identity.decide import identify

    def keys_of(paper: Paper) -> tuple[str, ...]:
        return (identified or identify)(paper).keys

    papers = list(new)
    where = {key: i for i, paper in enumerate(papers) for key in keys_of(paper)}
    for repeat in repeats:
        i = next((where[k] for k in keys_of(repeat) if k in where), None)
        if i is None:
            continue
        missing = {
            f.name: getattr(repeat, f.name)
            for f in dataclasses.fields(Paper)
            if not getattr(papers[i], f.name) and getattr(repeat, f.name)
        }
        if missing:
            papers[i] = dataclasses.replace(papers[i], **missing)
            where.update((key, i) for key in keys_of(papers[i]))
    return tuple(papers)


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
