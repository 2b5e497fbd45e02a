"""The JSON the Daily Papers API returns: an array of items, each with a `paper` object."""

from __future__ import annotations

import re

from digest.errors import ParseError
from digest.formats.common import (
    ARXIV_ID,
    HF_PAPERS,
    MAX_DEPTH,
    MAX_ITEM_BYTES,
    MAX_ITEMS,
    PAGE_ID,
    REPR_STRINGS,
    Read,
    decode_json,
    depth,
    iso_date,
    json_int,
    most_common,
    short_date,
    text_of,
    with_date,
)
from digest.models import Paper

NAME = "json"

# A JSON dump opens an array or object whose first token is JSON too; a text title that
# merely starts with a bracket ("[Re] ...") does not.
_JSON_START = re.compile(r'[\[{]\s*(?:["{\[\]}]|$)')


def detect(text: str) -> bool:
    """Whether the dump is JSON: it opens like JSON, or the whole text is one JSON value."""
    return _JSON_START.match(text.lstrip()[:1024]) is not None or _whole_json(text)


def _whole_json(text: str) -> bool:
    """Whether the whole text is one JSON value (`42`, `[1, 2]`, `"x"`): never a listing
    copied as text, so it is read as JSON and told apart there. Fails fast on text."""
    import json

    stripped = text.strip()
    if stripped[:1] not in _JSON_FIRST:
        return False
    try:
        json.loads(stripped, parse_int=json_int)
    except RecursionError:
        return True  # nested past Python's limit: the JSON reader says so, in one line
    except ValueError:
        return False
    return True


_JSON_FIRST = frozenset('[{"-0123456789tfn')


def parse(text: str, name: str) -> Read:
    """Papers of a Daily Papers API response: an array of items, each with a `paper` object
    (or a Python-repr string of one), possibly wrapped in an object under `data`, `papers`
    or `dailyPapers`.

    Fields come and go between versions of the API: only an identifier or a title is
    required. An item that has neither is skipped with a warning; so is the broken end of a
    download cut short.
    """
    import json

    warnings: list[str] = []
    try:
        data = decode_json(text, name)
    except json.JSONDecodeError as e:
        data = _salvage(text)
        if not data:
            raise ParseError(name, f"not valid JSON: {e.msg}", line=e.lineno) from None
        warnings.append(
            f"line {e.lineno}: the JSON breaks off ({e.msg}); read the {len(data)} complete"
            " papers before it"
        )
    items = _json_items(data)
    if items is None:
        raise ParseError(name, "JSON, but not a Daily Papers list: expected an array of papers")
    papers = papers_of_items(items, name, warnings)
    if items and not papers:  # an empty list is a day without papers, not a broken file
        raise ParseError(name, "no papers found in the JSON: no item has an id or a title")
    day = iso_date(data.get("date")) if isinstance(data, dict) else None
    if day:  # a wrapper's own date is the listing's: its items' times may be the eve's
        papers = [with_date(p, day) for p in papers]
    listed = most_common(p.listed for p in papers)
    return papers, short_date(listed) if listed else None, listed, warnings


def _salvage(text: str) -> list[object]:
    """The complete items at the start of a JSON array whose end is missing or broken."""
    import json

    decoder = json.JSONDecoder(parse_int=json_int)
    start = text.find("[")
    if start < 0:
        return []
    items: list[object] = []
    i = start + 1
    while len(items) <= MAX_ITEMS:
        while i < len(text) and text[i] in " \t\r\n,":
            i += 1
        try:
            item, i = decoder.raw_decode(text, i)
        except (ValueError, RecursionError):
            return items
        items.append(item)
    return items


# Keys under which a wrapping object holds its list of papers.
_LIST_KEYS = ("dailyPapers", "papers", "data")


def _json_items(data: object) -> list[object] | None:
    """The list of paper items in a decoded response, whatever wraps it."""
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        for key in _LIST_KEYS:
            if isinstance(data.get(key), list):
                return list(data[key])
        if any(k in data for k in ("paper", "id", "title")):
            return [data]  # one paper on its own
    return None


def papers_of_items(items: list[object], name: str, warnings: list[str]) -> list[Paper]:
    """The papers of the API's items (the saved page embeds the same); a warning appended
    for each item skipped. Raises ParseError past MAX_ITEMS."""
    if len(items) > MAX_ITEMS:
        raise ParseError(
            name,
            f"{len(items):,} items, more than the {MAX_ITEMS:,} papers one listing file may hold"
            " (a day's listing has under 100); split the file",
        )
    papers = []
    for number, item in enumerate(items, 1):
        if isinstance(item, str) and item.lstrip().startswith("{"):
            try:
                item = _literal(item)
            except ValueError as e:
                warnings.append(f"item {number}: {e}; skipped")
                continue
        paper = _json_paper(item, name) if isinstance(item, dict) else None
        if paper is not None:
            papers.append(paper)
        elif isinstance(item, dict):
            warnings.append(f"item {number}: no paper id or title; skipped")
        else:
            warnings.append(f"item {number}: not a paper object ({type(item).__name__}); skipped")
    return papers


def _literal(item: str) -> dict[str, object]:
    """An item the API stored as the Python repr of a dict ("{'paper': {...}}"), read as a
    literal (never run as code), within a size and depth bound. Raises ValueError saying
    why it cannot be read."""
    import ast

    size = len(item.encode("utf-8", "surrogatepass"))
    if size > MAX_ITEM_BYTES:
        raise ValueError(
            f"a paper stored as a string of {size:,} bytes, more than {MAX_ITEM_BYTES:,}"
        )
    deepest = depth(item, REPR_STRINGS)
    if deepest > MAX_DEPTH:
        raise ValueError(f"a paper stored as a string nested {deepest:,} levels deep")
    try:
        value = ast.literal_eval(item)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise ValueError("a string that is not a readable Python dict") from None
    if not isinstance(value, dict):
        raise ValueError(f"a string holding a {type(value).__name__}, not a paper")
    return value


def _json_paper(item: dict[str, object], name: str) -> Paper | None:
    """One item of the API; None when it has neither an identifier nor a title."""
    inner = item.get("paper")
    paper: dict[str, object] = inner if isinstance(inner, dict) else {}

    def field(key: str) -> object:
        value = paper.get(key)
        return item.get(key) if value is None or value == "" else value

    raw_id = text_of(field("id")) or ""
    page_id = raw_id if PAGE_ID.match(raw_id) else ""
    arxiv = ARXIV_ID.match(raw_id)
    title = text_of(paper.get("title")) or text_of(item.get("title"))
    if not title:
        if not page_id:
            return None
        title = f"arXiv:{raw_id}" if arxiv else raw_id
    keywords = field("ai_keywords")
    # The day it was listed: when it was put on Daily Papers; older responses only have
    # the item's own publishedAt, which is that day too.
    listed = iso_date(field("submittedOnDailyAt")) or iso_date(item.get("publishedAt"))
    return Paper(
        title=title,
        abstract=text_of(paper.get("summary")) or text_of(item.get("summary")) or "",
        source=name,
        listing_date=short_date(listed) if listed else None,
        listed=listed,
        arxiv_id=arxiv.group(1) if arxiv else None,
        authors=_authors(field("authors")),
        upvotes=_count(field("upvotes")),
        page_url=HF_PAPERS + page_id if page_id else None,
        code_url=_url(field("githubRepo")),
        project_url=_url(field("projectPage")),
        published=iso_date(paper.get("publishedAt")),
        comments=_count(field("numComments")),
        ai_summary=text_of(field("ai_summary")),
        ai_keywords=tuple(
            k for k in (text_of(k) for k in (keywords if isinstance(keywords, list) else [])) if k
        ),
        organization=_organization(field("organization")),
        github_stars=_count(field("githubStars")),
    )


def _count(value: object) -> int | None:
    # bool is an int in Python, never a count here.
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _organization(value: object) -> str | None:
    """The name an organization is shown by: its full name, else its handle."""
    if not isinstance(value, dict):
        return text_of(value)
    return text_of(value.get("fullname")) or text_of(value.get("name"))


def _url(value: object) -> str | None:
    """A web address safe to link to: http(s) only, so no javascript: or data: links."""
    text = text_of(value)
    if text and re.match(r"(?i)^https?://[^\s\"'<>]+$", text):
        return text
    return None


def _authors(value: object) -> tuple[str, ...]:
    names = []
    for author in value if isinstance(value, list) else []:
        name = text_of(author.get("name")) if isinstance(author, dict) else text_of(author)
        if name:
            names.append(name)
    return tuple(names)
