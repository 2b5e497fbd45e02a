"""Read a dump's bytes into a Dump, whatever its format, told by its content.

Three formats: text copied from the Daily Papers page (skip the page header, pair titles with
abstracts), the JSON the Daily Papers API returns, and the page saved from a browser as HTML.
Pure: takes bytes and a name, returns values or raises ParseError. No file access here.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

from digest.errors import ParseError
from digest.models import Dump, Paper

TYPE_CHECKING = False  # typing itself costs start-up time that cron pays on every run
if TYPE_CHECKING:
    from bs4 import BeautifulSoup, Tag

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


_SURROGATE = re.compile("[\ud800-\udfff]")


def clean(text: str) -> str:
    """Text safe to show and to put in a header: NFC, no control or bidi-override characters,
    no lone surrogates (an escaped half of a UTF-16 pair in JSON: no encoder takes it; it
    becomes U+FFFD), runs of white space folded to one space."""
    text = _SURROGATE.sub("\ufffd", text)
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
    """Parse a dump of any format (see `detect`). Raises ParseError when the file holds no
    papers at all."""
    if not data.strip():
        raise ParseError(name, EMPTY)
    text, encoding = decode(data, name)
    if _looks_binary(text):
        raise ParseError(name, BINARY)
    kind = detect(text)
    if kind != "text":
        read = parse_json if kind == "json" else parse_html
        found, listed, notes = read(text, name)
        date = _short_date(listed) if listed else None
        return _dump(data, name, found, date, encoding, notes, kind, listed)

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
    return _dump(data, name, papers, listing_date, encoding, warnings, "text")


def _dump(
    data: bytes,
    name: str,
    papers: list[Paper],
    listing_date: str | None,
    encoding: str,
    warnings: list[str],
    kind: str,
    listed: str | None = None,
) -> Dump:
    import hashlib  # here, not at the top: a run with no dumps to read never needs it

    return Dump(
        name=name,
        sha256=hashlib.sha256(data).hexdigest(),
        papers=tuple(papers),
        listing_date=listing_date,
        listed=listed,
        encoding=encoding,
        format=kind,
        warnings=tuple(warnings),
    )


# -- format detection -------------------------------------------------------------------------

# A JSON dump opens an array or object whose first token is JSON too; a text title that
# merely starts with a bracket ("[Re] ...") does not.
_JSON_START = re.compile(r'[\[{]\s*(?:["{\[\]}]|$)')
# A saved page opens with a doctype, a comment, an XML declaration or a common HTML tag.
_HTML_START = re.compile(
    r"<(?:!doctype\s+html|!--|\?xml|(?:html|head|body|meta|title|div|main|section|article)\b)",
    re.IGNORECASE,
)


def detect(text: str) -> str:
    """The format of a dump, from its content: "json", "html" or "text"."""
    head = text.lstrip()[:1024]
    if _JSON_START.match(head) or _whole_json(text):
        return "json"
    if _HTML_START.match(head):
        return "html"
    return "text"


def _whole_json(text: str) -> bool:
    """Whether the whole text is one JSON value (`42`, `[1, 2]`, `"x"`): never a listing
    copied as text, so it is read as JSON and told apart there. Fails fast on text."""
    import json

    stripped = text.strip()
    if stripped[:1] not in _JSON_FIRST:
        return False
    try:
        json.loads(stripped, parse_int=_int)
    except RecursionError:
        return True  # nested past Python's limit: the JSON reader says so, in one line
    except ValueError:
        return False
    return True


_JSON_FIRST = frozenset('[{"-0123456789tfn')


# -- the Daily Papers API (JSON) ---------------------------------------------------------------

# arXiv identifiers, new style (2503.01234v2) and old (hep-th/9901001), the version dropped.
_ARXIV_ID = re.compile(r"(?i)^(?:arxiv:)?(\d{4}\.\d{4,5}|[a-z-]+(?:\.[a-z]{2})?/\d{7})(?:v\d+)?$")
_PAGE_ID = re.compile(r"^\w[\w.\-]{0,63}$")  # what may go into a paper page's address
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")
HF_PAPERS = "https://huggingface.co/papers/"

Read = tuple[list[Paper], str | None, list[str]]  # papers, ISO listing date, warnings


def parse_json(text: str, name: str) -> Read:
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
        data = _salvage(text, name)
        if not data:
            raise ParseError(name, f"not valid JSON: {e.msg}", line=e.lineno) from None
        warnings.append(
            f"line {e.lineno}: the JSON breaks off ({e.msg}); read the {len(data)} complete"
            " papers before it"
        )
    items = _json_items(data)
    if items is None:
        raise ParseError(name, "JSON, but not a Daily Papers list: expected an array of papers")
    papers = _papers_of_items(items, name, warnings)
    if items and not papers:  # an empty list is a day without papers, not a broken file
        raise ParseError(name, "no papers found in the JSON: no item has an id or a title")
    day = _iso_date(data.get("date")) if isinstance(data, dict) else None
    if day:  # a wrapper's own date is the listing's: its items' times may be the eve's
        papers = [_with_date(p, day) for p in papers]
    return papers, _most_common(p.listed for p in papers), warnings


# Bounds on what one dump may make digest hold in memory. A day's listing has under 100
# papers, a few thousand JSON values, nested 6 deep; a dump past these is rejected whole,
# before anything is decoded, with a line that names the limit.
MAX_ITEMS = 5_000  # papers (items) in one dump
MAX_VALUES = 1_000_000  # JSON values in one dump (with those of items stored as strings)
MAX_DEPTH = 64  # nesting of arrays and objects
MAX_ITEM_BYTES = 1_000_000  # one item stored as a string

_STRINGS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_REPR_STRINGS = re.compile(r"'[^'\\]*(?:\\.[^'\\]*)*'|" + _STRINGS.pattern)
_NOT_BRACKET = re.compile(r"[^\[\]{}()]")
_STEP = {ord("["): 1, ord("{"): 1, ord("("): 1, ord("]"): -1, ord("}"): -1, ord(")"): -1}


def depth(text: str, strings: re.Pattern[str] = _STRINGS) -> int:
    """How deep brackets nest in JSON (or a Python literal, with `_REPR_STRINGS`), outside
    its strings; the depth reached so far when the text is cut off."""
    from itertools import accumulate

    brackets = _NOT_BRACKET.sub("", strings.sub("", text)).encode()
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def decode_json(text: str, name: str) -> object:
    """The one place JSON is decoded: bounded in size and depth before decoding, so that
    no input costs more than MAX_VALUES values or reaches Python's recursion limit. Raises
    ParseError past a bound; json.JSONDecodeError when the text is not valid JSON."""
    import json

    _check_bounds(text, name)
    try:
        return json.loads(text, parse_int=_int)
    except RecursionError:  # cannot happen within MAX_DEPTH; one line all the same
        raise ParseError(name, _too_deep(MAX_DEPTH + 1)) from None


def _int(digits: str) -> int | None:
    """A JSON integer; None for one too long to be a count (Python refuses to convert
    thousands of digits, and no field of a listing needs more than a few)."""
    return int(digits) if len(digits) <= 30 else None


def _check_bounds(text: str, name: str) -> None:
    # Every value but the first in an array or object follows a comma, so commas and
    # openings bound the values: C-speed counts, whatever the size. Commas inside strings
    # count too, which keeps this an upper bound when items are strings holding values.
    values = text.count(",") + text.count("[") + text.count("{")
    if values > MAX_VALUES:
        raise ParseError(
            name,
            f"too big to read: up to {values:,} JSON values, more than the {MAX_VALUES:,} one"
            " dump may hold (a day's listing has a few thousand); split the file",
        )
    deepest = depth(text)
    if deepest > MAX_DEPTH:
        raise ParseError(name, _too_deep(deepest))


def _too_deep(levels: int) -> str:
    return (
        f"nested {levels:,} levels deep, more than the {MAX_DEPTH} digest reads"
        " (a Daily Papers listing is nested about 6 deep)"
    )


def _salvage(text: str, name: str) -> list[object]:
    """The complete items at the start of a JSON array whose end is missing or broken."""
    import json

    decoder = json.JSONDecoder(parse_int=_int)
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


def _papers_of_items(items: list[object], name: str, warnings: list[str]) -> list[Paper]:
    if len(items) > MAX_ITEMS:
        raise ParseError(
            name,
            f"{len(items):,} items, more than the {MAX_ITEMS:,} papers one dump may hold"
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
    deepest = depth(item, _REPR_STRINGS)
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

    raw_id = _text(field("id")) or ""
    page_id = raw_id if _PAGE_ID.match(raw_id) else ""
    arxiv = _ARXIV_ID.match(raw_id)
    title = _text(paper.get("title")) or _text(item.get("title"))
    if not title:
        if not page_id:
            return None
        title = f"arXiv:{raw_id}" if arxiv else raw_id
    keywords = field("ai_keywords")
    # The day it was listed: when it was put on Daily Papers; older responses only have
    # the item's own publishedAt, which is that day too.
    listed = _iso_date(field("submittedOnDailyAt")) or _iso_date(item.get("publishedAt"))
    return Paper(
        title=title,
        abstract=_text(paper.get("summary")) or _text(item.get("summary")) or "",
        source=name,
        listing_date=_short_date(listed) if listed else None,
        listed=listed,
        arxiv_id=arxiv.group(1) if arxiv else None,
        authors=_authors(field("authors")),
        upvotes=_count(field("upvotes")),
        page_url=HF_PAPERS + page_id if page_id else None,
        code_url=_url(field("githubRepo")),
        project_url=_url(field("projectPage")),
        published=_iso_date(paper.get("publishedAt")),
        comments=_count(field("numComments")),
        ai_summary=_text(field("ai_summary")),
        ai_keywords=tuple(
            k for k in (_text(k) for k in (keywords if isinstance(keywords, list) else [])) if k
        ),
        organization=_organization(field("organization")),
        github_stars=_count(field("githubStars")),
    )


def _text(value: object) -> str | None:
    return (clean(value) or None) if isinstance(value, str) else None


def _count(value: object) -> int | None:
    # bool is an int in Python, never a count here.
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _organization(value: object) -> str | None:
    """The name an organization is shown by: its full name, else its handle."""
    if not isinstance(value, dict):
        return _text(value)
    return _text(value.get("fullname")) or _text(value.get("name"))


def _url(value: object) -> str | None:
    """A web address safe to link to: http(s) only, so no javascript: or data: links."""
    text = _text(value)
    if text and re.match(r"(?i)^https?://[^\s\"'<>]+$", text):
        return text
    return None


def _authors(value: object) -> tuple[str, ...]:
    names = []
    for author in value if isinstance(value, list) else []:
        name = _text(author.get("name")) if isinstance(author, dict) else _text(author)
        if name:
            names.append(name)
    return tuple(names)


def _iso_date(value: object) -> str | None:
    """The date part of an ISO timestamp ("2025-03-12T00:00:00.000Z" -> "2025-03-12")."""
    match = _ISO_DATE.match(value) if isinstance(value, str) else None
    if not match:
        return None
    import datetime

    try:
        return datetime.date(*map(int, match.groups())).isoformat()
    except ValueError:
        return None


def _short_date(iso: str) -> str:
    """A listing date as the page shows it: "2025-03-12" -> "Mar 12"."""
    import datetime

    day = datetime.date.fromisoformat(iso)
    return f"{day:%b} {day.day}"


def _most_common(values: Iterator[str | None] | list[str | None]) -> str | None:
    counts: dict[str, int] = {}
    for value in values:
        if value:
            counts[value] = counts.get(value, 0) + 1
    return max(counts, key=counts.__getitem__) if counts else None


# -- a page saved from a browser (HTML) --------------------------------------------------------

_PAPER_HREF = re.compile(r"(?:^|//[^/]+)/papers/([\w.\-]*\d[\w.\-]*)/?(?:[?#].*)?$")
_PAGE_DATE = re.compile(r"/papers(?:/date/|\?date=)(\d{4}-\d{2}-\d{2})")
_ABSTRACT_IN_CARD = 80  # shorter paragraphs in a card are captions, not an abstract


def parse_html(text: str, name: str) -> Read:
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
        papers += _papers_of_items(props["dailyPapers"], name, warnings)
        # Newer pages carry the day as `dateString` beside a `date` timestamp.
        listing_date = (
            listing_date or _iso_date(props.get("date")) or _iso_date(props.get("dateString"))
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
        papers = [p if p.listed else _with_date(p, listing_date) for p in papers]
    return papers, listing_date or _most_common(p.listed for p in papers), warnings


def _with_date(paper: Paper, iso: str) -> Paper:
    import dataclasses

    return dataclasses.replace(paper, listed=iso, listing_date=_short_date(iso))


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
        if match and _iso_date(match.group(1)):
            return match.group(1)
    return None


def _cards(soup: BeautifulSoup, name: str) -> Iterator[Paper]:
    """Papers read from the page's cards: a heading whose link goes to a paper page."""
    from bs4 import Tag

    for heading in soup.find_all(["h3", "h2", "h1"]):
        link = heading.find("a", href=True)
        if not isinstance(link, Tag):
            continue
        match = _PAPER_HREF.search(str(link["href"]))
        title = _tag_text(link, _TITLE_MAX * 2)
        if not match or not title:
            continue
        paper_id = match.group(1)
        card = heading.find_parent("article") or heading.parent or heading
        arxiv = _ARXIV_ID.match(paper_id)
        # A few paragraphs, each read up to a bound: markup nested without end costs no more.
        paragraphs = [_tag_text(p, _CARD_TEXT_MAX) for p in card.find_all("p", limit=8)]
        abstract = max(paragraphs, key=len, default="")
        votes = [
            t.get_text(strip=True)
            for t in card.find_all(class_="leading-none", limit=4)
            if t.get_text(strip=True).isdigit()
        ]
        comments = [
            a.get_text(strip=True)
            for a in card.find_all("a", href=re.compile(r"#community$"), limit=4)
            if a.get_text(strip=True).isdigit()
        ]
        yield Paper(
            title=title,
            abstract=abstract if len(abstract) >= _ABSTRACT_IN_CARD else "",
            source=name,
            arxiv_id=arxiv.group(1) if arxiv else None,
            upvotes=int(votes[0]) if votes else None,
            page_url=HF_PAPERS + paper_id,
            comments=int(comments[0]) if comments else None,
        )


_CARD_TEXT_MAX = 10_000  # characters read from one paragraph of a card


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
