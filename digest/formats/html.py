"""The Daily Papers page saved from a browser: its embedded listing, else its cards."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from itertools import islice

from digest.errors import ParseError
from digest.formats.common import (
    ARXIV_ID,
    HF_PAPERS,
    MAX_ITEMS,
    TITLE_MAX,
    Read,
    clean,
    decode_json,
    iso_date,
    most_common,
    short_date,
    with_date,
)
from digest.formats.json import papers_of_items
from digest.models import Paper

TYPE_CHECKING = False  # typing itself costs start-up time that cron pays on every run
if TYPE_CHECKING:
    from bs4 import BeautifulSoup, Tag

NAME = "html"

# A saved page opens with a doctype, a comment, an XML declaration or a common HTML tag.
_HTML_START = re.compile(
    r"<(?:!doctype\s+html|!--|\?xml|(?:html|head|body|meta|title|div|main|section|article)\b)",
    re.IGNORECASE,
)
_PAPER_HREF = re.compile(r"(?:^|//[^/]+)/papers/([\w.\-]*\d[\w.\-]*)/?(?:[?#].*)?$")
_PAGE_DATE = re.compile(r"/papers(?:/date/|\?date=)(\d{4}-\d{2}-\d{2})")
_ABSTRACT_IN_CARD = 80  # shorter paragraphs in a card are captions, not an abstract
_CARD_TEXT_MAX = 10_000  # characters read from one paragraph of a card
_CARD_LEVELS = 8  # how far above its heading a card may begin
_CARD_TAGS = 2_000  # elements of a card looked through (a real card has under 100)


def detect(text: str) -> bool:
    """Whether the dump opens like an HTML page."""
    return _HTML_START.match(text.lstrip()[:1024]) is not None


def parse(text: str, name: str) -> Read:
    """Papers of the Daily Papers page saved from a browser.

    The page carries the listing as JSON in its `data-props` attributes (the same items as
    the API): those are read first, for every field. The cards themselves (a heading
    linking to /papers/<id>) add any paper that JSON lacks, with what they show. A card's
    avatars are labelled with user names, not author names: authors come only from the data.
    """
    # html.parser: the standard library's tokenizer behind a maintained, forgiving API; no
    # compiled parser to install, and saved pages are small.
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(text, "html.parser")
    warnings: list[str] = []
    papers: list[Paper] = []
    unread = ""  # why the page's embedded listing could not be read, if it could not
    listing_date = _page_date(soup, text)
    for element in soup.select("[data-props]"):
        raw = element.get("data-props")
        if not isinstance(raw, str) or "dailyPapers" not in raw:
            continue
        try:
            props = decode_json(raw, name)
        except ParseError as e:
            unread = f"its embedded listing is {e.why}"
            warnings.append(f"{unread}; read its cards instead")
            continue
        except ValueError:
            continue  # not JSON after all: the cards still tell what the page shows
        if not isinstance(props, dict) or not isinstance(props.get("dailyPapers"), list):
            continue
        papers += papers_of_items(props["dailyPapers"], name, warnings)
        # Newer pages carry the day as `dateString` beside a `date` timestamp.
        listing_date = (
            listing_date or iso_date(props.get("date")) or iso_date(props.get("dateString"))
        )

    known = {p.page_url for p in papers} | {p.title for p in papers}
    for paper in _cards(soup, name):
        if paper.page_url not in known and paper.title not in known:
            if len(papers) >= MAX_ITEMS:
                warnings.append(f"more than {MAX_ITEMS:,} papers on the page; read the first")
                break
            papers.append(paper)
            known |= {paper.page_url, paper.title}
    if not papers:
        raise ParseError(
            name,
            f"no papers found in this HTML page: {unread}"
            if unread
            else "no papers found in this HTML page: expected Daily Papers cards (headings"
            " linking to /papers/<id>)",
        )
    if listing_date:
        papers = [p if p.listed else with_date(p, listing_date) for p in papers]
    listed = listing_date or most_common(p.listed for p in papers)
    return papers, short_date(listed) if listed else None, listed, warnings


def _page_date(soup: BeautifulSoup, text: str) -> str | None:
    """The day the page lists, from its own address: canonical link, og:url, or the
    "saved from url" comment browsers add. Not from other links: those go to other days."""
    candidates = [text[:2048]]
    from bs4 import Tag

    for tag in (soup.find("link", rel="canonical"), soup.find("meta", property="og:url")):
        if isinstance(tag, Tag):
            candidates.append(str(tag.get("href") or tag.get("content") or ""))
    for candidate in candidates:
        match = _PAGE_DATE.search(candidate)
        if match and iso_date(match.group(1)):
            return match.group(1)
    return None


def _cards(soup: BeautifulSoup, name: str) -> Iterator[Paper]:
    """Papers read from the page's cards: a heading whose link goes to a paper page."""
    from bs4 import Tag

    found: list[tuple[Tag, str, str, list[Tag]]] = []
    holds: Counter[int] = Counter()  # paper headings within _CARD_LEVELS below an element
    for heading in soup.find_all(["h3", "h2", "h1"]):
        link = heading.find("a", href=True)
        if not isinstance(link, Tag):
            continue
        match = _PAPER_HREF.search(str(link["href"]))
        title = _tag_text(link, TITLE_MAX * 2)
        if not match or not title:
            continue
        above = list(islice(heading.parents, _CARD_LEVELS))
        holds.update(id(tag) for tag in above)
        found.append((heading, match.group(1), title, above))
    for heading, paper_id, title, above in found:
        # Its card: the article around it, else its parent, if that holds no other paper's
        # heading; cards side by side in one block would each take the first one's abstract
        # and votes (and each would read the whole block again).
        card = next((tag for tag in above if tag.name == "article"), None)
        if card is None or holds[id(card)] > 1:
            card = above[0] if above and holds[id(above[0])] == 1 else heading
        arxiv = ARXIV_ID.match(paper_id)
        paragraphs, votes, comments = _card_parts(card)
        abstract = max(paragraphs, key=len, default="")
        yield Paper(
            title=title,
            abstract=abstract if len(abstract) >= _ABSTRACT_IN_CARD else "",
            source=name,
            arxiv_id=arxiv.group(1) if arxiv else None,
            upvotes=votes[0] if votes else None,
            page_url=HF_PAPERS + paper_id,
            comments=comments[0] if comments else None,
        )


def _card_parts(card: Tag) -> tuple[list[str], list[int], list[int]]:
    """A card's first paragraphs, vote counts and comment counts, found among its first
    _CARD_TAGS elements: markup without end in one card costs no more than a card."""
    from bs4 import Tag

    paragraphs: list[str] = []
    votes: list[int] = []
    comments: list[int] = []
    tags = (t for t in card.descendants if isinstance(t, Tag))
    for tag in islice(tags, _CARD_TAGS):
        if tag.name == "p":
            # Each read up to a bound: markup nested without end costs no more.
            paragraphs += [_tag_text(tag, _CARD_TEXT_MAX)] if len(paragraphs) < 8 else []
        if "leading-none" in (tag.get("class") or ()):
            counts = votes
        elif tag.name == "a" and str(tag.get("href", "")).endswith("#community"):
            counts = comments
        else:
            continue
        count = _count(tag) if len(counts) < 4 else None
        counts += [] if count is None else [count]
    return paragraphs, votes, comments


_COUNT = re.compile(r"[0-9]{1,9}")  # ASCII digits: "²" is a digit to str.isdigit, not to int


def _count(tag: Tag) -> int | None:
    """The count an element shows, None for anything else."""
    text = _tag_text(tag, 32)
    return int(text) if _COUNT.fullmatch(text) else None


def _tag_text(tag: Tag, limit: int) -> str:
    """An element's text, cleaned, read lazily up to about `limit` characters."""
    parts: list[str] = []
    size = 0
    for string in tag.strings:
        parts.append(string)
        size += len(string)
        if size >= limit:
            break
    return clean(" ".join(parts))[:limit]
