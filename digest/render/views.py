"""What a digest shows, as values the templates and the JSON output read: each paper's view,
the header's summary, the subject, the listing days. Pure: a Digest in, strings and dicts out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from digest.models import DEFAULT_SUBJECT, Digest, Paper, Skip, subject_line

# Characters that would start Markdown or inline HTML if left bare in a title or abstract.
# Parentheses stay bare: with brackets escaped they cannot form a link. An underscore only
# matters at a word's edge.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*\[\]<>|~]|(?<!\w)_|_(?!\w))")


def md_escape(text: str) -> str:
    """Escape Markdown syntax inside a line, so the text shows as written."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def md_block(text: str) -> str:
    """Escape a paragraph: inline syntax, and a leading `-`, `#` or `1.` that would make it a
    list or a heading."""
    text = md_escape(text)
    text = re.sub(r"^([-=+#])", r"\\\1", text)
    return re.sub(r"^(\d+)([.)])", r"\1\\\2", text)


# -- the richer fields: authors, links, highlights --------------------------------------------

# Lower-case words that belong to the surname that follows ("Leandro von Werra" -> "L. von
# Werra"), and suffixes that belong to the one before.
_PARTICLES = {
    "al",
    "bin",
    "da",
    "das",
    "de",
    "del",
    "della",
    "der",
    "di",
    "do",
    "dos",
    "du",
    "la",
    "le",
    "ten",
    "ter",
    "van",
    "von",
    "zu",
}
_SUFFIXES = {"jr", "jr.", "sr", "sr.", "ii", "iii", "iv"}


def short_name(name: str) -> str:
    """A name with its given names as initials: "Yee Whye Teh" -> "Y. W. Teh"."""
    parts = name.split()
    end = len(parts) - 1
    if end > 1 and parts[end].casefold() in _SUFFIXES:
        end -= 1
    start = end
    while start > 1 and parts[start - 1] in _PARTICLES:
        start -= 1
    if start < 1:
        return name  # one word: an organisation, or a name written in one piece
    initials = ["-".join(p[0] + "." for p in given.split("-") if p) for given in parts[:start]]
    return " ".join([*initials, *parts[start:]])


def short_authors(authors: Sequence[str], most: int = 3) -> str:
    """Up to `most` authors with initials, else the first two and "et al."."""
    if not authors:
        return ""
    shown = authors if len(authors) <= most else authors[:2]
    line = ", ".join(short_name(a) for a in shown)
    return line + (" et al." if len(shown) < len(authors) else "")


def spans(text: str, patterns: Iterable[re.Pattern[str]]) -> list[tuple[int, int]]:
    """Where the patterns occur in the text, overlapping matches merged, in order."""
    found = sorted(m.span() for p in patterns for m in p.finditer(text) if m.end() > m.start())
    merged: list[tuple[int, int]] = []
    for start, end in found:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


_MARKS = {
    "text": ("*", "*"),
    "markdown": ("**", "**"),
    "html": ('<mark style="background-color:#fff1a8;color:#1f2328;">', "</mark>"),
}


def mark(text: str, patterns: Iterable[re.Pattern[str]], fmt: str) -> str:
    """The text escaped for its format (markdown, html or text), with every occurrence of the
    reader's words marked: *word* in text, **word** in Markdown, <mark> in HTML."""
    import markupsafe

    if isinstance(patterns, tuple | list) and not patterns:  # no words to mark: escape only
        if fmt == "markdown":
            return md_block(text)
        return markupsafe.escape(text) if fmt == "html" else text
    escapes: dict[str, Callable[[str], str]] = {
        "markdown": md_escape,
        "html": markupsafe.escape,
        "text": str,
    }
    escape = escapes[fmt]
    opening, closing = _MARKS[fmt]
    out: list[str] = []
    at = 0
    for start, end in [*spans(text, patterns), (len(text), len(text))]:
        before = text[at:start]
        # Only the start of the text can make a Markdown paragraph a heading or a list.
        out.append(md_block(before) if fmt == "markdown" and at == 0 else escape(before))
        if end > start:
            out += [opening, escape(text[start:end]), closing]
        at = end
    joined = "".join(str(part) for part in out)
    return markupsafe.Markup(joined) if fmt == "html" else joined


def paper_view(paper: Paper, digest: Digest | None = None) -> dict[str, Any]:
    """What a template or the JSON output shows of a paper; every richer field is there,
    empty (None, "" or []) when the dump did not have it."""
    terms = digest.highlights.get(paper, ()) if digest else ()
    return {
        "title": paper.title,
        "abstract": paper.abstract,
        "source": paper.source,
        "listing_date": paper.listing_date,
        "listed": paper.listed,
        "date": day(paper.listed) if paper.listed else paper.listing_date,
        "link": paper.link,
        "arxiv_id": paper.arxiv_id,
        "arxiv_url": paper.arxiv_url,
        "page_url": paper.page_url,
        "code_url": paper.code_url,
        "project_url": paper.project_url,
        "authors": list(paper.authors),
        "authors_short": short_authors(paper.authors),
        "upvotes": paper.upvotes,
        "comments": paper.comments,
        "published": paper.published,
        "ai_summary": paper.ai_summary,
        "ai_keywords": list(paper.ai_keywords),
        "organization": paper.organization,
        "github_stars": paper.github_stars,
        "highlights": list(terms),
        # How well it fits the reader's interests and likes, and why (None: not scored).
        "score": digest.scores.get(paper) if digest else None,
        "reason": digest.reasons.get(paper) if digest else None,
    }


def summary(digest: Digest) -> str:
    """The header line: '12 new papers of 94 in 2 dumps; 82 seen before'."""
    s = digest.stats
    line = f"{_plural(s.new, 'new paper')} of {s.listed} in {_plural(s.dumps, 'dump')}"
    if s.seen_before:
        line += f"; {s.seen_before} seen before"
    if s.repeated:
        line += f"; {s.repeated} repeated"
    if s.excluded:
        line += f"; {s.excluded} excluded"
    return line


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def day(iso: str) -> str:
    """A day as the digest writes it: "2025-03-10" -> "Mon 10 Mar 2025"."""
    from datetime import date

    d = date.fromisoformat(iso)
    return f"{d:%a} {d.day} {d:%b %Y}"


def days(isos: Iterable[str]) -> str:
    """Days in order, as one day or as a range joined by an en dash: "Mon 10 - Wed 12 Mar
    2025", "Mon 31 Mar - Tue 1 Apr 2025", "Tue 31 Dec 2024 - Wed 1 Jan 2025"."""
    ordered = sorted(set(isos))
    if not ordered:
        return ""
    first, last = ordered[0], ordered[-1]
    if first == last:
        return day(first)
    start = day(first)
    if first[:7] == last[:7]:
        start = start.rsplit(" ", 2)[0]  # the month and year are said once, at the end
    elif first[:4] == last[:4]:
        start = start.rsplit(" ", 1)[0]
    return f"{start} \N{EN DASH} {day(last)}"


def listing_date(digest: Digest) -> str:
    """The listing days the digest covers ("Mon 10 - Wed 12 Mar 2025"); a text dump's date
    without a year as it gives it ("Mar 12"); else the day the digest was made."""
    dated = days(d.listed for d in digest.dumps if d.listed)
    undated = dict.fromkeys(d.listing_date for d in digest.dumps if d.listing_date and not d.listed)
    dates = [dated, *undated] if dated else list(undated)
    return ", ".join(dates) if dates else digest.created.strftime("%b %-d")


def subject(digest: Digest, template: str = DEFAULT_SUBJECT) -> str:
    """The digest's title from a DIGEST_SUBJECT template: 'Daily papers: 12 new (Mar 12)'."""
    return subject_line(template, digest.stats.new, listing_date(digest))


@dataclass(frozen=True, slots=True)
class Entry:
    """A paper as a template shows it: its number in the digest, and the abstract to print
    (shortened when the mail's size budget asks for it, see digest.render.mail)."""

    number: int
    paper: dict[str, Any]  # paper_view(): every field, richer ones included
    abstract: str
    shortened: bool = False


def preheader(digest: Digest, limit: int = 140) -> str:
    """The line mail clients show after the subject: the first titles of the digest."""
    if not digest.papers:
        return "Nothing new today."
    text = " · ".join(p.title for p in digest.papers[:3])
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


@dataclass(frozen=True, slots=True)
class DigestView:
    """A digest as the templates show it, computed once a run: every paper's view (shown in
    full, listed by title, excluded) and the header's lines."""

    digest: Digest
    papers: list[dict[str, Any]]
    more: list[dict[str, Any]]
    excluded: list[dict[str, Any]]
    subject: str
    summary: str
    date: str

    @classmethod
    def of(cls, digest: Digest, subject_template: str = DEFAULT_SUBJECT) -> DigestView:
        """The view of `digest`, its subject made from a DIGEST_SUBJECT template."""
        return cls(
            digest,
            [paper_view(p, digest) for p in digest.papers],
            [paper_view(p, digest) for p in digest.more],
            [paper_view(p, digest) for p in digest.excluded],
            subject(digest, subject_template),
            summary(digest),
            listing_date(digest),
        )

    def context(self) -> dict[str, Any]:
        """What every template is given. `entries` are the papers shown with their abstract,
        `compact` those listed by title only (past DIGEST_MAX_PAPERS, or the mail's size
        budget), `omitted` how many only the mail's attachment holds."""
        digest, papers = self.digest, self.papers
        return {
            "entries": [Entry(n, v, v["abstract"]) for n, v in enumerate(papers, 1)],
            "compact": [Entry(n, v, "") for n, v in enumerate(self.more, len(papers) + 1)],
            "omitted": 0,
            "attachment": None,
            "unsubscribe": None,
            "preheader": preheader(digest),
            "digest": digest,
            "papers": papers,
            "more": self.more,
            "excluded": self.excluded,
            "highlight": digest.highlight,
            "stats": digest.stats,
            "rejected": digest.rejected,
            "skipped": digest.skipped,
            "updated": digest.updated,
            "summary": self.summary,
            "subject": self.subject,
            "date": self.date,
            "created": digest.created,
        }


def _ids(*arxiv_ids: str | None) -> str:
    """ " [arXiv 2507.02592]" for a paper's ids when it has any, else nothing."""
    known = [i for i in arxiv_ids if i]
    return f" [arXiv {', '.join(known)}]" if known else ""


def explain(skipped: Sequence[Skip]) -> list[str]:
    """One paragraph per paper left out: what it matched, when that was first seen, the
    rule that decided and its score."""
    lines: list[str] = []
    for s in skipped:
        lines.append(
            f"left out: {s.paper.title!r}{_ids(s.paper.arxiv_id)} ({s.paper.source or 'no dump'})"
        )
        if s.matched is not None:
            m = s.matched
            lines.append(
                f"  seen before as {m.title!r}{_ids(*m.arxiv_ids)}, paper {m.id}, first seen"
                f" {m.first_seen:%Y-%m-%d %H:%M %Z} in {m.first_dump}"
            )
        elif s.repeats is not None:
            r = s.repeats
            lines.append(f"  repeats {r.title!r}{_ids(r.arxiv_id)} ({r.source}) of this run")
        updated = "; abstract changed" if s.revised else ""
        lines.append(f"  rule: {s.rule}, score {s.score:.0f}{updated}")
    return lines
