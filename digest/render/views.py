"""What a digest shows, as values the templates and the JSON output read: each paper's view,
the header's summary, the subject, the listing days. Pure: a Digest in, strings and dicts out.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypeVar

from digest.models import DEFAULT_SUBJECT, Digest, Paper, Stats, subject_line
from digest.patterns import Term

T = TypeVar("T")

# Characters that would start Markdown or inline HTML if left bare in a title or abstract.
# Parentheses stay bare: with brackets escaped they cannot form a link. An underscore only
# matters at a word's edge. `<`, `>`, `|` and `~` become entities rather than backslash
# escapes, which Python-Markdown and other renderers that are not CommonMark would show.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*\[\]]|(?<!\w)_|_(?!\w))")
_MARKDOWN_ENTITIES = str.maketrans({"<": "&lt;", ">": "&gt;", "|": "&#124;", "~": "&#126;"})


def md_escape(text: str) -> str:
    """Escape Markdown syntax inside a line, so the text shows as written in CommonMark,
    GitHub and Python-Markdown alike."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text).translate(_MARKDOWN_ENTITIES)


def md_url(url: str) -> str:
    """A link's address for a Markdown link, `[text](address)`: http(s) only (anything else
    becomes `#`), with what could end the address or open another link percent-encoded, so no
    listing's address can become a `javascript:` link in any Markdown renderer."""
    from urllib.parse import quote

    if not re.match(r"(?i)https?://", url):
        return "#"
    return quote(url, safe=":/?#@!$&*+,;=%-._~")


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


def spans(text: str, terms: Iterable[Term]) -> list[tuple[int, int]]:
    """Where the terms occur in the text, overlapping matches merged, in order."""
    found = sorted(s for t in terms for s in t.spans(text) if s[1] > s[0])
    merged: list[tuple[int, int]] = []
    for start, end in found:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


# How each format marks the reader's words and TeX's emphasis. In HTML the reader's words are
# bold and underlined (a border): a background alone vanishes in forced dark mode. In a
# Markdown heading, already bold, they are italic.
_MARKS = {
    "text": (("*", "*"), ("_", "_")),
    "markdown": (("**", "**"), ("*", "*")),
    "heading": (("*", "*"), ("*", "*")),
    "html": (('<b class="hl" style="border-bottom:2px solid">', "</b>"), ("<em>", "</em>")),
}


def mark(text: str, terms: Iterable[Term], fmt: str) -> str:
    """The text with its TeX as Unicode, escaped for its format (markdown, heading: a
    Markdown heading's text, html or text), every occurrence of the reader's words marked
    (*word* in text, **word** in Markdown, bold and underlined in HTML) and TeX's emphasis
    kept (_word_, *word*, <em>)."""
    import markupsafe

    from digest.render.tex import detex

    detexed = detex(text)
    plain = detexed.text
    md = fmt in ("markdown", "heading")
    found = spans(plain, terms) if terms else []
    if not found and not detexed.emphasis:  # nothing to mark: escape only
        if md:
            return md_block(plain)
        return markupsafe.escape(plain) if fmt == "html" else plain
    escapes: dict[str, Callable[[str], str]] = {
        "markdown": md_escape,
        "heading": md_escape,
        "html": markupsafe.escape,
        "text": str,
    }
    escape = escapes[fmt]
    (hl_open, hl_close), (em_open, em_close) = _MARKS[fmt]
    cuts = sorted({0, len(plain), *(x for s in (*found, *detexed.emphasis) for x in s)})
    out: list[str] = []
    for start, end in itertools.pairwise(cuts):
        piece = plain[start:end]
        # Only the start of the text can make a Markdown paragraph a heading or a list.
        escaped = str(md_block(piece) if md and start == 0 else escape(piece))
        if any(s <= start and end <= e for s, e in found):
            out += [hl_open, escaped, hl_close]
        elif any(s <= start and end <= e for s, e in detexed.emphasis) and piece.strip():
            out += [em_open, escaped, em_close]
        else:
            out.append(escaped)
    joined = "".join(out)
    return markupsafe.Markup(joined) if fmt == "html" else joined


def infer_day(listing_date: str | None, created: datetime) -> str | None:
    """A listing day given without its year ("Mar 12") as an ISO day, when the digest was
    made near it: a listing is read within days of coming out, so the year is the one that
    puts it within RECENT days of the digest. An older listing keeps its date as given
    (None here): a guessed year could be wrong."""
    if not listing_date:
        return None
    from datetime import datetime as dt

    made = created.date()
    for year in (made.year, made.year - 1, made.year + 1):
        try:
            parsed = dt.strptime(f"{listing_date.strip()} {year}", "%b %d %Y").date()
        except ValueError:
            return None
        if abs((parsed - made).days) <= RECENT:
            return parsed.isoformat()
    return None


RECENT = 45  # days between a listing and its digest within which a year-less date is dated


def _month_day(text: str) -> tuple[int, int, str]:
    """A sort key for a date without a year ("Mar 12", "mar-12"); unreadable ones last."""
    from datetime import datetime as dt

    try:
        day_of = text.strip().replace("-", " ")
        parsed = dt.strptime(f"{day_of} 2000", "%b %d %Y")  # 2000: Feb 29 exists
    except ValueError:
        return (13, 0, text)
    return (parsed.month, parsed.day, text)


# A paper's number in a fragment shared between digests (each numbers it its own way): a
# character of Unicode's private use area, put in as the number when a digest places it. A
# paper's own text never holds it: paper_view makes one there U+FFFD.
NUMBER = "\ue000"


def _no_number(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace(NUMBER, "\ufffd") if NUMBER in value else value
    if isinstance(value, list | tuple):
        return type(value)(map(_no_number, value))
    return value


def paper_view(
    paper: Paper, digest: Digest | None = None, show_date: bool = False
) -> dict[str, Any]:
    """What a template or the JSON output shows of a paper; every richer field is there,
    empty (None, "" or []) when the dump did not have it."""
    from digest.render.tldr import tldr, within

    terms = digest.highlights.get(paper, ()) if digest else ()
    reason = digest.reasons.get(paper, "") if digest else ""
    listed = paper.listed or (infer_day(paper.listing_date, digest.created) if digest else None)
    line = tldr(paper.abstract, paper.ai_summary, paper.title)
    view = {
        "title": paper.title,
        "abstract": paper.abstract,
        "source": paper.source,
        "listing_date": paper.listing_date,
        "listed": paper.listed,
        "date": day(listed) if listed else paper.listing_date,
        # Said for each paper only when the digest's papers are of more than one day.
        "show_date": show_date,
        "link": paper.link,
        # Where the title links: the paper's page, its arXiv page, else an arXiv search for
        # its whole title: every title is a link, in every format.
        "href": paper.page_url or paper.arxiv_url or paper.link,
        "search_url": None if paper.arxiv_id else paper.link,
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
        "tldr": line.text,
        "tldr_source": line.source,
        # The abstract is that one sentence: shown once, as the TL;DR.
        "tldr_is_abstract": line.text == " ".join(paper.abstract.split()),
        # The TL;DR is a sentence of the abstract: where the abstract is shown, it says it.
        "tldr_in_abstract": within(line.text, paper.abstract),
        "reason": reason,
        "why": reason or (f"matches: {', '.join(terms)}" if terms else ""),
        "score": digest.scores.get(paper) if digest else None,
    }
    return {k: _no_number(v) for k, v in view.items()}


def kept(
    made: dict[Hashable, Any], key: tuple[Any, ...], owner: object, make: Callable[[], T]
) -> T:
    """`make()` once a run for `key`, in `made` (a run's cache), whose key holds `id(owner)`:
    the value is kept beside its owner, so the id in the key always names that owner, never
    another made after it died at the same address."""
    found = made.get(key)
    if found is None or found[0] is not owner:
        found = made[key] = (owner, make())
    return found[1]


def cached_view(
    made: dict[Hashable, Any] | None, paper: Paper, digest: Digest, show_date: bool = False
) -> dict[str, Any]:
    """paper_view(), made once a run for every digest that shows the paper alike (the same
    highlights, reason and score): `made` is the run's cache (None: none). No one changes
    a view: those who need another make a copy."""
    if made is None:
        return paper_view(paper, digest, show_date)
    terms = tuple(digest.highlights.get(paper, ()))
    shows = (id(paper), terms, digest.reasons.get(paper, ""), show_date, digest.created)

    def make() -> dict[str, Any]:
        view = paper_view(paper, digest, show_date)
        made[("drawn", id(view))] = (view, shows)  # what a fragment shows: no score
        return view

    return kept(made, ("view", *shows, digest.scores.get(paper)), paper, make)


def drawn(made: dict[Hashable, Any], view: dict[str, Any]) -> Hashable | None:
    """What a view made by `cached_view` shows, as a key (its score left out: no fragment
    shows it); None for a view made otherwise."""
    found = made.get(("drawn", id(view)))
    return found[1] if found is not None and found[0] is view else None


def _with_why(made: dict[Hashable, Any] | None, view: dict[str, Any], said: str) -> dict[str, Any]:
    """A paper's view saying why it leads a compact digest, when its own view says nothing;
    made once a run too."""
    if view["why"]:
        return view
    if made is None:
        return {**view, "why": said}

    def make() -> dict[str, Any]:
        led = {**view, "why": said}
        shown = drawn(made, view)
        if shown is not None:
            made[("drawn", id(led))] = (led, (shown, said))
        return led

    return kept(made, ("why", id(view), said), view, make)


def summary(digest: Digest) -> str:
    """The header line: '12 new papers of 94 in 2 dumps; 82 seen before'."""
    s = digest.stats
    return f"{_plural(s.new, 'new paper')} of {s.listed} in {_plural(s.dumps, 'dump')}" + _left(s)


def headline(digest: Digest, most: int = 3) -> str:
    """The digest in a line, in a reader's words, for a feed entry, a chat message and the
    archive's index: its counts and its top papers' titles ("16 new papers of 16 listed.
    Top: A; B; C"; "Among them:" when nothing ranks them)."""
    from digest.render.tex import unicode

    s = digest.stats
    line = f"{_plural(s.new, 'new paper')} of {s.listed} listed" + _left(s)
    first, why = lead(digest)
    titles = [" ".join(unicode(p.title).split()) for p in first[:most]]
    if not titles:
        return line
    said = "Top" if why or matches(digest) else "Among them"
    more = s.new - len(titles)
    return f"{line}. {said}: {'; '.join(titles)}" + (f"; and {more} more" if more else "")


def _left(s: Stats) -> str:
    """What the counts say of the papers left out: '; 82 seen before; 3 repeated'."""
    line = ""
    if s.seen_before:
        line += f"; {s.seen_before} seen before"
    if s.repeated:
        line += f"; {s.repeated} repeated"
    if s.excluded:
        line += f"; {s.excluded} excluded"
    return line


def counts(digest: Digest) -> str:
    """The digest's counts as its reader reads them: '12 new of 94 listed; 82 seen before;
    5 match diffusion'."""
    s = digest.stats
    line = f"{s.new} new of {s.listed} listed" + _left(s)
    said = matched(digest)
    return f"{line}; {said}" if said else line


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


def listed_days(digest: Digest) -> list[str]:
    """The ISO days of the listings the digest covers, sorted; a text dump's day without a
    year ("Mar 12") taken in the year the digest was made."""
    found = {d.listed or infer_day(d.listing_date, digest.created) for d in digest.dumps}
    if not digest.dumps:  # papers of listings read before (a weekly reader's): their days
        found = {p.listed for p in (*digest.papers, *digest.more) if p.listed}
    return sorted(d for d in found if d)


def listing_date(digest: Digest) -> str:
    """The listing days the digest covers ("Mon 10 - Wed 12 Mar 2025"); a date no day can
    be read from, as the listing gives it; else the day the digest was made."""
    dated = days(listed_days(digest))
    undated = sorted(
        {
            d.listing_date
            for d in digest.dumps
            if d.listing_date and not d.listed and not infer_day(d.listing_date, digest.created)
        },
        key=_month_day,
    )
    dates = [dated, *undated] if dated else list(undated)
    return ", ".join(dates) if dates else day(digest.created.date().isoformat())


def attachment_name(digest: Digest) -> str:
    """The mail attachment's file name, by the listing days it covers:
    daily-papers-2025-03-10.md, daily-papers-2025-03-10-to-2025-03-12.md; when a listing's
    year is not known, the days as the listings give them (daily-papers-mar-11-to-jul-29.md);
    else the day the digest was made."""
    found = listed_days(digest)
    undated = [d for d in digest.dumps if not d.listed and d.listing_date]
    if any(not infer_day(d.listing_date, digest.created) for d in undated):
        given = {d.listing_date for d in digest.dumps if d.listing_date}
        found = [re.sub(r"[^a-z0-9]+", "-", g.lower()).strip("-") for g in given]
        found = sorted((f for f in found if f), key=_month_day)
    found = found or [digest.created.date().isoformat()]
    span = found[0] if found[0] == found[-1] else f"{found[0]}-to-{found[-1]}"
    return f"daily-papers-{span}.md"


def matches(digest: Digest) -> list[Paper]:
    """The new papers that match the reader's interests (highlighted, or with a reason), in
    the digest's order."""
    return [p for p in digest.papers + digest.more if p in digest.highlights or p in digest.reasons]


def matched(digest: Digest, most: int = 3) -> str:
    """What matched, for the subject and the header: '5 match diffusion, speech' (the terms
    most papers matched); '' when nothing did."""
    found = matches(digest)
    if not found:
        return ""
    terms = Counter(t for p in found for t in digest.highlights.get(p, ()))
    named = list(dict.fromkeys(readable(t) for t, _ in terms.most_common(most)))
    verb = "matches" if len(found) == 1 else "match"
    return " ".join([str(len(found)), verb, ", ".join(named)]).strip()


def readable(term: str) -> str:
    """A highlight term in the reader's words: a regular expression without its syntax
    (`reward model\\w*` is "reward model", `[Tt]ransformers?` "Transformers", `(video|image)`
    "video/image"); plain words as they are."""
    if re.fullmatch(r"[\w\s'-]+", term):
        return term
    text = re.sub(r"\[\^?\\?(.)[^\]]*\]", r"\1", term)  # a class: its first letter
    text = re.sub(r"\\[A-Za-z]", " ", text)  # \w, \b, \s...
    text = re.sub(r"(?<!\\)[\^$.*+?(){}]", " ", text)  # the syntax; not what is escaped
    text = re.sub(r"(?<!\\)\|", "/", text)
    words = " ".join(re.sub(r"\\(.)", r"\1", text).split())
    return words.replace(" / ", "/") or term


def subject(digest: Digest, template: str = DEFAULT_SUBJECT) -> str:
    """The digest's title from a DIGEST_SUBJECT template: 'Daily papers: 56 new · 5 match
    diffusion, speech (Mon 10 Mar 2025)'."""
    said = matched(digest)
    return subject_line(
        template, digest.stats.new, listing_date(digest), f" · {said}" if said else ""
    )


@dataclass(frozen=True, slots=True)
class Entry:
    """A paper as a template shows it: its number in the digest, its view, and its form:
    "full" (TL;DR and abstract), "tldr" (its TL;DR, the abstract left to the attachment or
    past DIGEST_MAX_PAPERS) or "title" (a title line, when the mail has room for no more)."""

    number: int | str  # a placeholder (NUMBER) in a fragment shared between digests
    paper: dict[str, Any]  # paper_view(): every field, richer ones included
    abstract: str
    shortened: bool = False  # its abstract is left out here, and in the attachment
    form: str = "full"


TOP = 5  # papers the overview names beside the reader's matches
# A compact digest (DIGEST_DETAIL=compact): its first LEAD papers with their TL;DR, then every
# other paper on one line; the mail lists at most LINES of them, the rest only in its
# attachment, so that a big first run still reads in a few screens.
LEAD = 5
LINES = 60


def preheader(digest: Digest, limit: int = 140) -> str:
    """The line mail clients show after the subject: what matched, then the first titles."""
    from digest.render.tex import unicode

    if not digest.papers and not digest.more:
        return "Nothing new today."
    said = matched(digest)
    titles = [unicode(p.title) for p in (digest.papers + digest.more)[:3]]
    text = " · ".join([said, *titles] if said else titles)
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def _overview(
    digest: Digest, views: dict[Paper, dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The overview's lines, each a paper's view with its number: the reader's matches, and
    the top papers among the others when something ranks them."""
    shown = digest.papers + digest.more
    number = {p: n for n, p in enumerate(shown, 1)}
    found = matches(digest)
    known = set(found)
    rest = [p for p in shown if p not in known]
    top = _ranked(digest, rest)[:TOP] if _ranks(digest, shown) else []
    return [{**views[p], "number": number[p]} for p in found], [
        {**views[p], "number": number[p]} for p in top
    ]


def _ranks(digest: Digest, shown: Sequence[Paper]) -> bool:
    """Whether the digest can name its top papers: more papers than the overview's few, and
    a relevance score or upvotes to rank them by (a text listing has neither)."""
    return len(shown) > TOP and (bool(digest.scores) or any(p.upvotes for p in shown))


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def lead(digest: Digest) -> tuple[list[Paper], dict[Paper, str]]:
    """The papers a compact digest shows first, with their TL;DR: the reader's matches, then
    the most relevant (by relevance score, else by upvotes), at most LEAD; the digest's order
    when nothing ranks them. With them, why each ranked one is there ("2nd of 19 by
    upvotes"), for those without a reason of the reader's."""
    shown = list(digest.papers + digest.more)
    found = matches(digest)
    known = set(found)
    rest = [p for p in shown if p not in known]
    if not digest.scores and not any(p.upvotes for p in rest):
        return (found + rest)[:LEAD], {}
    ranked = _ranked(digest, rest)
    measure = "relevance" if digest.scores else "upvotes"
    why = {p: f"{_ordinal(n)} of {len(shown)} by {measure}" for n, p in enumerate(ranked, 1)}
    chosen = (found + ranked)[:LEAD]
    return chosen, {p: why[p] for p in chosen if p in why}


def _ranked(digest: Digest, papers: Sequence[Paper]) -> list[Paper]:
    """The papers by relevance score when the digest has scores, else by upvotes; the
    digest's order among equals."""
    if digest.scores:
        return sorted(papers, key=lambda p: -digest.scores.get(p, float("-inf")))
    return sorted(papers, key=lambda p: -(p.upvotes or 0))


@dataclass(frozen=True, slots=True)
class DigestView:
    """A digest as the templates show it, computed once a run: every paper's view (shown in
    full, listed by title, excluded), the overview and the header's lines."""

    digest: Digest
    papers: list[dict[str, Any]]
    more: list[dict[str, Any]]
    excluded: list[dict[str, Any]]
    subject: str
    summary: str
    date: str
    counts: str = ""
    matches: list[dict[str, Any]] = field(default_factory=list)
    top: list[dict[str, Any]] = field(default_factory=list)
    # Every paper in the order the message shows them: in a compact digest the `lead` first
    # papers (its top papers) come first, each with its TL;DR, the others after, a line each.
    order: list[dict[str, Any]] = field(default_factory=list)
    lead: int = 0
    brief: bool = False  # DIGEST_DETAIL=compact
    ranked: bool = False  # the lead papers were chosen by a ranking or the reader's matches
    preheader: str = ""  # what mail clients show after the subject

    @classmethod
    def of(
        cls,
        digest: Digest,
        subject_template: str = DEFAULT_SUBJECT,
        made: dict[Hashable, Any] | None = None,
    ) -> DigestView:
        """The view of `digest`, its subject made from a DIGEST_SUBJECT template; `made`, a
        run's cache of papers' views, shared by its digests (see `cached_view`)."""
        shown = digest.papers + digest.more
        dated = len({p.listed or p.listing_date for p in shown}) > 1
        papers = [cached_view(made, p, digest, dated) for p in digest.papers]
        more = [cached_view(made, p, digest, dated) for p in digest.more]
        views = dict(zip(shown, papers + more, strict=True))
        found, top = _overview(digest, views)  # of the papers' own views, before a lead's
        brief = digest.detail != "full"
        first, why = lead(digest) if brief else ([], {})
        for p, said in why.items():
            views[p] = _with_why(made, views[p], said)
        leading = set(first)
        order = [views[p] for p in first] + [views[p] for p in shown if p not in leading]
        return cls(
            digest,
            papers,
            more,
            [cached_view(made, p, digest) for p in digest.excluded],
            subject(digest, subject_template),
            headline(digest),
            listing_date(digest),
            counts(digest),
            found,
            top,
            order,
            len(first),
            brief,
            bool(why or found),
            preheader(digest),
        )

    def detailed(self, digest: Digest) -> DigestView:
        """This view of the same digest with every abstract (`digest`, its DIGEST_DETAIL
        "full"): its counts, subject and overview as they are, its papers in their order."""
        shown = self.papers + self.more
        found, top = _overview(digest, dict(zip(digest.papers + digest.more, shown, strict=True)))
        return replace(
            self,
            digest=digest,
            matches=found,
            top=top,
            order=shown,
            lead=0,
            brief=False,
            ranked=bool(found),
        )

    def entries(self) -> list[Entry]:
        """Every paper as the digest shows it whole: those within DIGEST_MAX_PAPERS in full,
        the rest by their TL;DR; in a compact digest, its lead papers by their TL;DR."""
        if self.brief:
            return [Entry(n, v, "", form="tldr") for n, v in enumerate(self.order[: self.lead], 1)]
        papers = self.papers
        return [Entry(n, v, v["abstract"]) for n, v in enumerate(papers, 1)] + [
            Entry(n, v, "", form="tldr") for n, v in enumerate(self.more, len(papers) + 1)
        ]

    def context(self) -> dict[str, Any]:
        """What every template is given. `entries` are the papers shown, each in its form,
        `compact` those listed by title only (when the mail's size budget asks for it),
        `omitted` how many only the mail's attachment holds."""
        digest, papers = self.digest, self.papers
        lines = self.order[self.lead :] if self.brief else []
        return {
            "entries": self.entries(),
            "compact": [Entry(n, v, "", form="title") for n, v in enumerate(lines, self.lead + 1)],
            "brief": self.brief,
            "ranked": self.ranked,
            "omitted": 0,
            "attachment": None,
            "unsubscribe": None,
            "preferences": None,
            "like": None,
            "preheader": self.preheader,
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
            "counts": self.counts,
            # In a compact digest its lead papers are the overview: it is not said twice.
            "matches": [] if self.brief else self.matches,
            "top": [] if self.brief else self.top,
            "subject": self.subject,
            "date": self.date,
            "created": digest.created,
        }
