"""The dump formats by their exact papers: every field of every paper of the real days and the
sample dumps (a golden file), the same papers through each format, and each bound of what one
dump may hold at exactly the limit and one past it."""

from __future__ import annotations

import hashlib
import html
import json
from pathlib import Path

import pytest

from digest.errors import ParseError
from digest.formats import parse
from digest.formats.common import (
    ARXIV_ID,
    MAX_DEPTH,
    MAX_ITEM_BYTES,
    MAX_ITEMS,
    MAX_VALUES,
    PAGE_ID,
    TITLE_MAX,
    clean,
    decode,
    depth,
    iso_date,
    json_int,
    looks_binary,
    most_common,
    short_date,
)
from digest.models import Paper

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
REAL = sorted((FIXTURES / "real").glob("*.json"))
SEEDS = sorted((FIXTURES.parent.parent / "seeds").glob("*.txt"))


def read(path: Path) -> list[Paper]:
    return list(parse(path.read_bytes(), path.name).papers)


def described(paper: Paper) -> dict[str, object]:
    """Every field a paper has (those it has not are None or empty), its abstract by its
    start, length and hash."""
    fields = {name: getattr(paper, name) for name in Paper.__dataclass_fields__}
    fields = {k: v for k, v in fields.items() if v not in (None, (), "") and k != "source"}
    abstract = str(fields.pop("abstract", ""))
    fields["abstract"] = [
        abstract[:50],
        len(abstract),
        hashlib.sha256(abstract.encode()).hexdigest()[:16],
    ]
    return fields


def test_every_field_of_every_paper_of_the_real_days_and_samples(golden: object) -> None:
    lines = []
    for path in [*REAL, *SEEDS]:
        dump = parse(path.read_bytes(), path.name)
        said = {k: getattr(dump, k) for k in ("format", "listing_date", "listed", "warnings")}
        lines.append(json.dumps({"file": path.name, **said}, ensure_ascii=False))
        lines += (json.dumps(described(p), ensure_ascii=False) for p in dump.papers)
    golden("real-papers.jsonl", "\n".join(lines) + "\n")  # type: ignore[operator]


# Facts read off the real responses by hand, each where a parser could go wrong.
@pytest.mark.parametrize(
    ("name", "index", "field", "value"),
    [
        # The paper's own title over the item's, which keeps TeX markup.
        (
            "2024-05-27.json",
            9,
            "title",
            "AutoCoder: Enhancing Code Large Language Model with AIEV-Instruct",
        ),
        # The day it was put on the listing (submittedOnDailyAt), not the item's publishedAt.
        ("2025-03-18.json", 8, "listed", "2025-03-18"),
        ("2025-03-18.json", 8, "listing_date", "Mar 18"),
        # The paper's own publishedAt, not the item's (hours apart, here over midnight).
        ("2025-03-18.json", 8, "published", "2025-03-08"),
        # Older responses: the item's publishedAt is the day it was listed.
        ("2024-08-16.json", 7, "listed", "2024-08-16"),
        # A wrapper's date is the listing's, whatever its items' times (the eve's here).
        ("2025-01-10.json", 0, "listed", "2025-01-10"),
        ("2025-01-10.json", 0, "published", "2025-01-09"),
        # An organization by its full name.
        ("2025-12-10.json", 0, "organization", "TongyiLab"),
        ("2025-12-10.json", 0, "github_stars", 42),
        ("2025-12-10.json", 0, "upvotes", 74),
        ("2025-12-10.json", 0, "comments", 2),
        ("2025-12-10.json", 0, "code_url", "https://github.com/ali-vilab/Wan-Move"),
        ("2025-12-10.json", 0, "arxiv_id", "2512.08765"),
        ("2025-12-10.json", 0, "page_url", "https://huggingface.co/papers/2512.08765"),
        ("2026-04-29.json", 18, "github_stars", 0),  # a count of 0 is a count
        ("2024-05-27.json", 12, "comments", 0),
    ],
)
def test_fields_read_off_the_real_responses(
    name: str, index: int, field: str, value: object
) -> None:
    assert getattr(read(FIXTURES / "real" / name)[index], field) == value


def test_authors_are_every_name_in_order_from_an_item_stored_as_a_string() -> None:
    authors = read(FIXTURES / "real" / "2024-12-20.json")[0].authors
    assert len(authors) == 42
    assert authors[:3] == ("Qwen", "An Yang", "Baosong Yang")
    assert authors[-2:] == ("Zhenru Zhang", "Zihan Qiu")


def _items(path: Path) -> list[dict[str, object]]:
    """A real response's items as objects (some store them as Python-repr strings)."""
    import ast

    data = json.loads(path.read_text())
    items = data["data"] if isinstance(data, dict) else data
    return [ast.literal_eval(i) if isinstance(i, str) else i for i in items]


PAGE = """<!DOCTYPE html>
<html><head><link rel="canonical" href="https://huggingface.co/papers/date/{day}"></head>
<body><div data-props="{props}"></div>
<section>{cards}</section></body></html>"""


def _card(paper_id: str, title: str, abstract: str, votes: int, comments: int) -> str:
    return (
        f'<article><h3><a href="/papers/{paper_id}">{html.escape(title)}</a></h3>'
        f'<div class="leading-none">{votes}</div><a href="/papers/{paper_id}#community">'
        f"{comments}</a><p>by someone</p><p>{html.escape(abstract)}</p></article>"
    )


@pytest.mark.parametrize("path", REAL[-4:], ids=lambda p: p.name)
def test_a_saved_page_holds_the_same_papers_as_the_api(path: Path) -> None:
    """The page embeds the API's items: read from it, each paper is the API's, every field."""
    items = _items(path)
    props = html.escape(json.dumps({"dailyPapers": items, "date": f"{path.stem}T00:00:00Z"}))
    page = PAGE.format(day=path.stem, props=props, cards="")
    dump = parse(page.encode(), path.name)
    assert dump.format == "html"
    assert list(dump.papers) == read(path)
    assert dump.listed == path.stem


def test_the_cards_of_a_page_give_what_they_show() -> None:
    path = FIXTURES / "real" / "2026-08-21.json"
    papers = read(path)
    cards = "".join(
        _card(p.arxiv_id or "", p.title, p.abstract, p.upvotes or 0, p.comments or 0)
        for p in papers
    )
    dump = parse(PAGE.format(day=path.stem, props="{}", cards=cards).encode(), "page.html")
    assert [(p.title, p.abstract, p.arxiv_id, p.upvotes, p.comments) for p in dump.papers] == [
        (p.title, p.abstract, p.arxiv_id, p.upvotes, p.comments) for p in papers
    ]
    assert all(p.page_url == f"https://huggingface.co/papers/{p.arxiv_id}" for p in dump.papers)
    assert all(p.listed == "2026-08-21" and p.authors == () for p in dump.papers)


@pytest.mark.parametrize("path", REAL[-3:], ids=lambda p: p.name)
def test_a_listing_copied_as_text_holds_the_same_titles_and_abstracts(path: Path) -> None:
    papers = read(path)
    text = "Daily Papers\n\nby AK and the research community\n\n"
    text += "".join(f"{p.title}\n\n{p.abstract}\n\n" for p in papers)
    dump = parse(text.encode(), "copied.txt")
    assert dump.format == "text"
    assert [(p.title, p.abstract) for p in dump.papers] == [(p.title, p.abstract) for p in papers]


# -- what the JSON reader takes, field by field -------------------------------------------------


def one(item: dict[str, object], **wrapper: object) -> Paper:
    data: object = {**wrapper, "data": [item]} if wrapper else [item]
    (paper,) = parse(json.dumps(data).encode(), "d.json").papers
    return paper


@pytest.mark.parametrize(
    ("item", "field", "value"),
    [
        # The paper's own values first; the item's when the paper's is missing or empty.
        (
            {"paper": {"id": "2501.00001", "summary": "inner"}, "summary": "outer"},
            "abstract",
            "inner",
        ),
        ({"paper": {"id": "2501.00001", "summary": ""}, "summary": "outer"}, "abstract", "outer"),
        ({"paper": {"id": "2501.00001", "upvotes": None}, "upvotes": 4}, "upvotes", 4),
        (
            {"paper": {"id": "2501.00001", "githubRepo": ""}, "githubRepo": "https://g.com/x"},
            "code_url",
            "https://g.com/x",
        ),
        ({"paper": {"title": "T", "id": ""}, "id": "2501.00002"}, "arxiv_id", "2501.00002"),
        # An id alone makes the title.
        ({"paper": {"id": "2501.00001"}}, "title", "arXiv:2501.00001"),
        ({"paper": {"id": "some-page_1"}}, "title", "some-page_1"),
        ({"paper": {"id": "some-page_1"}}, "arxiv_id", None),
        ({"paper": {"id": "some-page_1"}}, "page_url", "https://huggingface.co/papers/some-page_1"),
        # Counts: a whole number of at least 0.
        ({"paper": {"id": "2501.00001", "upvotes": 0}}, "upvotes", 0),
        ({"paper": {"id": "2501.00001", "upvotes": -1}}, "upvotes", None),
        ({"paper": {"id": "2501.00001", "upvotes": True}}, "upvotes", None),
        ({"paper": {"id": "2501.00001", "upvotes": 2.5}}, "upvotes", None),
        ({"paper": {"id": "2501.00001", "numComments": 7, "upvotes": 9}}, "comments", 7),
        ({"paper": {"id": "2501.00001"}, "numComments": 7}, "comments", 7),
        # Links: http(s) only, nothing that could end an attribute.
        (
            {"paper": {"id": "2501.00001", "projectPage": "HTTPS://x.org/a?b=1"}},
            "project_url",
            "HTTPS://x.org/a?b=1",
        ),
        (
            {"paper": {"id": "2501.00001", "projectPage": "javascript:alert(1)"}},
            "project_url",
            None,
        ),
        (
            {"paper": {"id": "2501.00001", "projectPage": 'https://x.org/"onload'}},
            "project_url",
            None,
        ),
        ({"paper": {"id": "2501.00001", "projectPage": "https://x.org/<b>"}}, "project_url", None),
        ({"paper": {"id": "2501.00001", "projectPage": "https://"}}, "project_url", None),
        # An organization by its full name, else its handle, else as a string.
        (
            {"paper": {"id": "2501.00001"}, "organization": {"name": "g", "fullname": "Google"}},
            "organization",
            "Google",
        ),
        (
            {"paper": {"id": "2501.00001"}, "organization": {"name": "g", "fullname": ""}},
            "organization",
            "g",
        ),
        ({"paper": {"id": "2501.00001"}, "organization": "Lab"}, "organization", "Lab"),
        # Authors: names in order, empty ones and others left out.
        (
            {
                "paper": {
                    "id": "2501.00001",
                    "authors": [{"name": " Ann "}, {"name": ""}, "Bo", 3, {}],
                }
            },
            "authors",
            ("Ann", "Bo"),
        ),
        (
            {"paper": {"id": "2501.00001", "ai_keywords": ["a", "", 1, " b "]}},
            "ai_keywords",
            ("a", "b"),
        ),
        ({"paper": {"id": "2501.00001", "ai_keywords": "a, b"}}, "ai_keywords", ()),
        # Dates: the day of an ISO timestamp, a real one.
        (
            {"paper": {"id": "2501.00001", "publishedAt": "2025-02-28T23:59:59Z"}},
            "published",
            "2025-02-28",
        ),
        ({"paper": {"id": "2501.00001", "publishedAt": "2025-02-29T00:00:00Z"}}, "published", None),
        (
            {
                "paper": {"id": "2501.00001", "submittedOnDailyAt": "2025-03-02T01:00:00Z"},
                "publishedAt": "2025-03-01T01:00:00Z",
            },
            "listed",
            "2025-03-02",
        ),
        (
            {"paper": {"id": "2501.00001"}, "publishedAt": "2025-03-01T01:00:00Z"},
            "listed",
            "2025-03-01",
        ),
        (
            {"paper": {"id": "2501.00001"}, "publishedAt": "2025-03-01T01:00:00Z"},
            "listing_date",
            "Mar 1",
        ),
    ],
)
def test_each_field_of_an_item(item: dict[str, object], field: str, value: object) -> None:
    assert getattr(one(item), field) == value


def test_an_id_that_cannot_be_part_of_an_address_makes_no_link() -> None:
    paper = one({"paper": {"id": "../../admin", "title": "T"}})
    assert (paper.page_url, paper.arxiv_id) == (None, None)
    with pytest.raises(ParseError, match="no item has an id or a title"):
        parse(json.dumps([{"paper": {"id": "../../x"}}]).encode(), "d.json")


@pytest.mark.parametrize(("length", "linked"), [(64, True), (65, False)])
def test_a_page_id_is_at_most_64_characters(length: int, linked: bool) -> None:
    page = "p" * length
    assert (one({"paper": {"id": page, "title": "T"}}).page_url is not None) is linked
    assert bool(PAGE_ID.match(page)) is linked


def test_a_wrapper_s_date_is_the_listing_s() -> None:
    item = {"paper": {"id": "2501.00001", "submittedOnDailyAt": "2025-01-09T22:00:00Z"}}
    assert one(item, date="2025-01-10T00:00:00Z").listed == "2025-01-10"
    assert one(item, date="not a date").listed == "2025-01-09"
    assert one(item).listed == "2025-01-09"


@pytest.mark.parametrize("key", ["dailyPapers", "papers", "data"])
def test_each_wrapping_key(key: str) -> None:
    data = {key: [{"paper": {"id": "2501.00001"}}], "other": [1, 2]}
    assert [p.arxiv_id for p in parse(json.dumps(data).encode(), "d.json").papers] == ["2501.00001"]


def test_the_listing_s_day_is_the_one_most_of_its_papers_give() -> None:
    days = ["2025-01-03", "2025-01-02", "2025-01-01", "2025-01-02", "2025-01-01"]
    items = [{"paper": {"id": f"2501.0000{n}"}, "publishedAt": d} for n, d in enumerate(days)]
    dump = parse(json.dumps(items).encode(), "d.json")
    # Two days given twice: the first of them met; not the first paper's.
    assert (dump.listed, dump.listing_date) == ("2025-01-02", "Jan 2")


def test_an_item_stored_as_a_string_may_start_with_spaces() -> None:
    item = "  {'paper': {'id': '2501.00001', 'title': 'Repr'}}"
    (paper,) = parse(json.dumps([item]).encode(), "d.json").papers
    assert (paper.title, paper.arxiv_id) == ("Repr", "2501.00001")


# -- bounds: at the limit, and one past ----------------------------------------------------------


@pytest.mark.parametrize(("count", "ok"), [(MAX_ITEMS, True), (MAX_ITEMS + 1, False)])
def test_items_up_to_the_limit(count: int, ok: bool) -> None:
    data = json.dumps([{"title": f"P{n}"} for n in range(count)]).encode()
    if ok:
        assert len(parse(data, "d.json").papers) == count
    else:
        with pytest.raises(ParseError) as e:
            parse(data, "d.json")
        assert e.value.why == (
            "5,001 items, more than the 5,000 papers one listing file may hold (a day's listing has"
            " under 100); split the file"
        )


def test_a_download_cut_short_keeps_at_most_the_limit() -> None:
    text = "[" + ",".join('{"title": "P"}' for _ in range(MAX_ITEMS + 2)) + ',{"ti'
    with pytest.raises(ParseError, match="5,001 items, more than the 5,000"):
        parse(text.encode(), "d.json")
    text = "[" + ",".join('{"title": "P"}' for _ in range(MAX_ITEMS)) + ',{"ti'
    dump = parse(text.encode(), "d.json")
    assert len(dump.papers) == MAX_ITEMS
    assert dump.warnings[0].endswith(f"read the {MAX_ITEMS} complete papers before it")


def nested(levels: int) -> str:
    """A listing whose one paper holds a value nested so that the text is `levels` deep."""
    inner = "[" * (levels - 2) + "]" * (levels - 2)
    return f'[{{"title": "T", "extra": {inner}}}]'


@pytest.mark.parametrize(("levels", "ok"), [(MAX_DEPTH, True), (MAX_DEPTH + 1, False)])
def test_nesting_up_to_the_limit(levels: int, ok: bool) -> None:
    text = nested(levels)
    assert depth(text) == levels
    if ok:
        assert [p.title for p in parse(text.encode(), "d.json").papers] == ["T"]
    else:
        with pytest.raises(ParseError) as e:
            parse(text.encode(), "d.json")
        assert e.value.why == (
            "nested 65 levels deep, more than the 64 digest reads (a Daily Papers listing is"
            " nested about 6 deep)"
        )


@pytest.mark.parametrize(("levels", "ok"), [(MAX_DEPTH, True), (MAX_DEPTH + 1, False)])
def test_an_item_stored_as_a_string_nested_up_to_the_limit(levels: int, ok: bool) -> None:
    item = "{'title': 'T', 'x': " + "[" * (levels - 1) + "]" * (levels - 1) + "}"
    dump = parse(json.dumps([item, {"title": "U"}]).encode(), "d.json")
    assert [p.title for p in dump.papers] == (["T", "U"] if ok else ["U"])
    assert dump.warnings == (
        () if ok else (f"item 1: a paper stored as a string nested {levels} levels deep; skipped",)
    )


@pytest.mark.parametrize(("size", "ok"), [(MAX_ITEM_BYTES, True), (MAX_ITEM_BYTES + 1, False)])
def test_an_item_stored_as_a_string_up_to_the_limit(size: int, ok: bool) -> None:
    head = "{'title': 'T', 'summary': '"
    item = head + "a" * (size - len(head) - 2) + "'}"
    assert len(item.encode()) == size
    dump = parse(json.dumps([item, {"title": "U"}]).encode(), "d.json")
    assert [p.title for p in dump.papers] == (["T", "U"] if ok else ["U"])
    if not ok:
        assert dump.warnings == (
            "item 1: a paper stored as a string of 1,000,001 bytes, more than 1,000,000; skipped",
        )


@pytest.mark.parametrize(("values", "ok"), [(MAX_VALUES, True), (MAX_VALUES + 1, False)])
def test_json_values_up_to_the_limit(values: int, ok: bool) -> None:
    """Counted as commas and openings: an array of n numbers is n values."""
    text = "[" + ",".join(["0"] * values) + "]"
    with pytest.raises(ParseError) as e:
        parse(text.encode(), "d.json")
    if ok:  # read, and refused for its items only
        assert e.value.why.startswith("1,000,000 items, more than the 5,000 papers")
    else:
        assert e.value.why == (
            "too big to read: up to 1,000,001 JSON values, more than the 1,000,000 one listing file"
            " may hold (a day's listing has a few thousand); split the file"
        )


def test_objects_count_as_values() -> None:
    """n empty objects in an array: n openings and n - 1 commas, and the array's opening."""
    text = "[" + ",".join(["{}"] * (MAX_VALUES // 2)) + "]"
    with pytest.raises(ParseError) as e:
        parse(text.encode(), "d.json")
    assert e.value.why.startswith("500,000 items, more than the 5,000 papers")
    text = "[" + ",".join(["{}"] * (MAX_VALUES // 2 + 1)) + "]"
    with pytest.raises(ParseError) as e:
        parse(text.encode(), "d.json")
    assert e.value.why.startswith("too big to read: up to 1,000,002 JSON values")


@pytest.mark.parametrize(("digits", "value"), [(30, 10**29), (31, None)])
def test_a_count_of_up_to_30_digits(digits: int, value: int | None) -> None:
    assert json_int("1" + "0" * (digits - 1)) == value


def test_depth_leaves_out_brackets_inside_strings() -> None:
    assert depth('[{"a": "[[[[{{{{"}]') == 2
    assert depth('["\\"[[[["]') == 1
    assert depth("[[[") == 3  # cut off: as deep as it got
    assert depth("") == 0


# -- text dumps: bounds of a title and an abstract --------------------------------------------


@pytest.mark.parametrize(("length", "titled"), [(TITLE_MAX, True), (TITLE_MAX + 1, False)])
def test_a_title_is_at_most_300_characters(length: int, titled: bool) -> None:
    title = "T" * length
    body = "B" * 250
    dump = parse(f"{title}\n\n{body}\n\nNext\n\n{'C' * 250}\n".encode(), "t.txt")
    got = [(p.title[:3], len(p.title), len(p.abstract)) for p in dump.papers]
    # Too long for a title with a long paragraph after it: the two are read as one paper
    # all the same (an overlong title followed by its abstract).
    assert got == [("TTT", length, 250), ("Nex", 4, 250)]
    lines = f"{title}\n{body}\n\nNext\n\n{'C' * 250}\n"
    glued = parse(lines.encode(), "t.txt")
    # A title line glued to its abstract: read apart while the title line fits; else the
    # block is no paper.
    if titled:
        assert [(len(p.title), len(p.abstract)) for p in glued.papers] == [(length, 250), (4, 250)]
        assert glued.warnings == ()
    else:
        assert [(len(p.title), len(p.abstract)) for p in glued.papers] == [(4, 250)]
        assert glued.warnings == ("line 1: a paragraph with no title before it; skipped",)


@pytest.mark.parametrize(("length", "read"), [(TITLE_MAX, True), (TITLE_MAX + 1, False)])
def test_a_title_of_300_characters_without_an_abstract_is_still_a_title(
    length: int, read: bool
) -> None:
    text = f"{'T' * length}\n\nNext\n\n{'C' * 250}\n"
    dump = parse(text.encode(), "t.txt")
    titles = [(len(p.title), len(p.abstract)) for p in dump.papers]
    assert titles == ([(length, 0), (4, 250)] if read else [(4, 250)])


@pytest.mark.parametrize(("length", "dated"), [(199, True), (200, False)])
def test_a_date_followed_by_an_abstract_is_a_paper_s_title(length: int, dated: bool) -> None:
    dump = parse(f"Mar 5\n\n{'a' * length}\n".encode(), "t.txt")
    if dated:  # the page's date, then a title
        assert dump.listing_date == "Mar 5"
        assert [(p.title[:1], p.abstract) for p in dump.papers] == [("a", "")]
    else:
        assert dump.listing_date is None
        assert [(p.title, len(p.abstract)) for p in dump.papers] == [("Mar 5", 200)]


def test_an_overlong_block_with_no_abstract_after_it_is_skipped_with_its_line() -> None:
    dump = parse(f"First\n\n{'x ' * 200}\n\n\n{'y ' * 151}\n\nLast\n".encode(), "t.txt")
    assert [(p.title, len(p.abstract)) for p in dump.papers] == [("First", 399), ("Last", 0)]
    assert dump.warnings == ("line 6: a paragraph with no title before it; skipped",)


@pytest.mark.parametrize(("length", "own"), [(199, False), (200, True)])
def test_a_paragraph_of_200_characters_is_an_abstract(length: int, own: bool) -> None:
    """Title, short paragraph, paragraph: the short one is the first title's abstract unless
    the one after it is long enough to be an abstract itself."""
    text = f"Alpha\n\nBeta\n\n{'c' * length}\n"
    dump = parse(text.encode(), "t.txt")
    if own:
        assert [(p.title, p.abstract[:1]) for p in dump.papers] == [("Alpha", ""), ("Beta", "c")]
    else:
        assert [(p.title, p.abstract[:1]) for p in dump.papers] == [
            ("Alpha", "B"),
            ("c" * length, ""),
        ]


@pytest.mark.parametrize(
    ("head", "date"),
    [
        ("Daily Papers\n\nMar 5\n\n", "Mar 5"),
        ("Subscribe\n\nThu, Mar 12, 2025\n\n", "Thu, Mar 12, 2025"),
        ("New\n\n12 March\n\n", "12 March"),
        ("Get trending papers in your email inbox!\n\n2025-03-12\n\n", "2025-03-12"),
    ],
)
def test_the_page_s_header_and_date_are_not_papers(head: str, date: str) -> None:
    dump = parse(f"{head}Title\n\n{'a' * 250}\n\nMar 13\n\n{'b' * 250}\n".encode(), "t.txt")
    assert dump.listing_date == date
    # A paper titled like a date, after the first, is a paper.
    assert [p.title for p in dump.papers] == ["Title", "Mar 13"]
    assert all(p.listing_date == date for p in dump.papers)


def test_the_page_has_one_date_a_second_is_a_title() -> None:
    dump = parse(f"Mar 12\n\nMar 13\n\nTitle\n\n{'a' * 250}\n".encode(), "t.txt")
    assert dump.listing_date == "Mar 12"
    assert [(p.title, len(p.abstract)) for p in dump.papers] == [("Mar 13", 0), ("Title", 250)]


def test_a_line_of_spaces_separates_paragraphs_and_lines_join_with_a_space() -> None:
    dump = parse(b"A title\n   \nAn abstract\nwrapped here\n\t\nNext\n", "t.txt")
    assert [(p.title, p.abstract) for p in dump.papers] == [
        ("A title", "An abstract wrapped here"),
        ("Next", ""),
    ]


def test_text_with_no_papers_names_its_first_line() -> None:
    with pytest.raises(ParseError) as e:
        parse(b"\n\nDaily Papers\n\n", "t.txt")
    assert (e.value.line, e.value.why) == (
        None,
        "no papers found: expected title and abstract paragraphs separated by blank lines",
    )
    with pytest.raises(ParseError) as e:
        parse(f"\n\n{'x ' * 200}\n".encode(), "t.txt")
    assert e.value.line == 3


# -- HTML pages ---------------------------------------------------------------------------------


def page(cards: str, head: str = "") -> bytes:
    return f"<!DOCTYPE html><html><head>{head}</head><body>{cards}</body></html>".encode()


@pytest.mark.parametrize(("length", "kept"), [(79, False), (80, True)])
def test_a_card_s_longest_paragraph_of_80_characters_is_its_abstract(
    length: int, kept: bool
) -> None:
    card = (
        '<article><h3><a href="/papers/2501.00001">T</a></h3>'
        f"<p>short</p><p>{'a' * length}</p><p>mid length caption</p></article>"
    )
    (paper,) = parse(page(card), "p.html").papers
    assert paper.abstract == ("a" * length if kept else "")


def test_a_card_is_its_article_and_its_first_counts() -> None:
    cards = (
        '<article><div><h1><a href="https://huggingface.co/papers/2501.00001?x=1">One</a></h1></div>'
        '<span class="leading-none">12</span><span class="leading-none">3</span>'
        '<a href="/papers/2501.00001#community">4</a></article>'
        '<article><h2><a href="/papers/trending">Trending</a></h2></article>'
        '<article><h2><a href="/papers/2501.00002">Two</a></h2></article>'
    )
    one, two = parse(page(cards), "p.html").papers
    assert (one.title, one.arxiv_id, one.upvotes, one.comments) == ("One", "2501.00001", 12, 4)
    assert (two.title, two.upvotes, two.comments) == ("Two", None, None)


def test_cards_side_by_side_in_one_block_lend_each_other_nothing() -> None:
    """Without an article a card each, a heading's parent holds the others' cards too: no
    paper takes another's abstract or votes."""
    cards = "".join(
        f'<h3><a href="/papers/2501.0000{n}">P{n}</a></h3><p>{str(n) * 90}</p>'
        f'<span class="leading-none">{n}</span>'
        for n in (1, 2)
    )
    alone = '<div><h3><a href="/papers/2501.00003">P3</a></h3><p>' + "3" * 90 + "</p></div>"
    papers = parse(page(f"<div>{cards}</div>{alone}"), "p.html").papers
    assert [(p.title, p.abstract[:1], p.upvotes) for p in papers] == [
        ("P1", "", None),
        ("P2", "", None),
        ("P3", "3", None),
    ]


@pytest.mark.slow
def test_many_cards_side_by_side_are_read_in_linear_time() -> None:
    import time

    cards = "".join(f'<h3><a href="/papers/p{n}">P{n}</a></h3><p>x</p>' for n in range(MAX_ITEMS))
    started = time.perf_counter()
    assert len(parse(page(f"<div>{cards}</div>"), "p.html").papers) == MAX_ITEMS
    assert time.perf_counter() - started < 20  # minutes when each card read the whole block


@pytest.mark.parametrize(
    ("shown", "count"),
    [
        (" 12 ", 12),
        ("0", 0),
        ("999999999", 999_999_999),
        ("²", None),
        ("1" * 5000, None),
        ("", None),
    ],
)
def test_a_card_s_counts_are_whole_numbers_in_ascii_digits(shown: str, count: int | None) -> None:
    """Anything else is no count, never an error: "²" is a digit to str.isdigit, not to int,
    and Python converts no more than 4,300 digits."""
    card = (
        f'<article><h3><a href="/papers/2501.00001">T</a></h3><span class="leading-none">{shown}'
        f'</span><a href="/papers/2501.00001#community">{shown}</a></article>'
    )
    (paper,) = parse(page(card), "p.html").papers
    assert (paper.upvotes, paper.comments) == (count, count)


def test_a_card_title_is_read_up_to_twice_the_longest_title() -> None:
    card = f'<h3><a href="/papers/2501.00001">{"t" * (TITLE_MAX * 3)}</a></h3>'
    (paper,) = parse(page(card), "p.html").papers
    assert len(paper.title) == TITLE_MAX * 2


def test_cards_already_in_the_embedded_listing_are_not_added_twice() -> None:
    props = html.escape(
        json.dumps({"dailyPapers": [{"paper": {"id": "2501.00001", "title": "One"}}]})
    )
    cards = (
        '<article><h3><a href="/papers/2501.00001">One, as the card says</a></h3></article>'
        '<article><h3><a href="/papers/2501.00009">One</a></h3></article>'
        '<article><h3><a href="/papers/2501.00002">Two</a></h3></article>'
    )
    dump = parse(page(f'<div data-props="{props}"></div>{cards}'), "p.html")
    assert [(p.title, p.arxiv_id) for p in dump.papers] == [
        ("One", "2501.00001"),
        ("Two", "2501.00002"),
    ]


def test_every_embedded_listing_of_a_page_is_read_past_one_that_is_not() -> None:
    """A page may carry several data-props: some of other widgets, one whose listing cannot
    be read; each listing read adds its papers, none is lost to another."""

    def props(*ids: str) -> str:
        items = [{"paper": {"id": i, "title": f"Paper {i}"}} for i in ids]
        return html.escape(json.dumps({"dailyPapers": items}))

    deep = '{"dailyPapers": ' + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1) + "}"
    blocks = (
        f'<div data-props="{html.escape(json.dumps({"user": 1}))}"></div>'
        f'<div data-props="{props("2501.00001")}"></div>'
        f'<div data-props="{html.escape(deep)}"></div>'  # too deep to be read
        f'<div data-props="{html.escape(json.dumps({"dailyPapers": 3}))}"></div>'
        '<div data-props="dailyPapers, not JSON"></div>'
        f'<div data-props="{props("2501.00002", "2501.00003")}"></div>'
    )
    dump = parse(page(blocks), "p.html")
    assert [p.arxiv_id for p in dump.papers] == ["2501.00001", "2501.00002", "2501.00003"]
    assert len(dump.warnings) == 1 and "read its cards instead" in dump.warnings[0]


def test_a_card_is_added_unless_its_address_or_its_title_is_listed_already() -> None:
    cards = "".join(
        f'<article><h3><a href="/papers/{i}">{title}</a></h3></article>'
        for i, title in [
            ("2501.00001", "One"),
            ("2501.00002", "Two"),
            ("2501.00001", "One again"),  # its address is listed
            ("2501.00003", "Two"),  # its title is listed
            ("2501.00004", "Four"),
        ]
    )
    dump = parse(page(cards), "p.html")
    assert [(p.arxiv_id, p.title) for p in dump.papers] == [
        ("2501.00001", "One"),
        ("2501.00002", "Two"),
        ("2501.00004", "Four"),
    ]


@pytest.mark.parametrize(("count", "warned"), [(MAX_ITEMS, False), (MAX_ITEMS + 1, True)])
def test_cards_up_to_the_limit(count: int, warned: bool) -> None:
    cards = "".join(f'<h3><a href="/papers/p{n}">P{n}</a></h3>' for n in range(count))
    dump = parse(page(cards), "p.html")
    assert len(dump.papers) == MAX_ITEMS
    assert dump.warnings == (
        ("more than 5,000 papers on the page; read the first",) if warned else ()
    )


@pytest.mark.parametrize(
    ("head", "listed"),
    [
        (
            '<link rel="canonical" href="https://huggingface.co/papers/date/2025-03-12">',
            "2025-03-12",
        ),
        (
            '<meta property="og:url" content="https://huggingface.co/papers?date=2025-03-13">',
            "2025-03-13",
        ),
        (
            "<!-- saved from url=(0048)https://huggingface.co/papers/date/2025-03-14 -->",
            "2025-03-14",
        ),
        ('<link rel="canonical" href="https://huggingface.co/papers/date/2025-02-30">', None),
        ("", None),
    ],
)
def test_the_page_s_own_address_gives_its_day(head: str, listed: str | None) -> None:
    card = '<h3><a href="/papers/2501.00001">T</a></h3>'
    dump = parse(page(card, head), "p.html")
    assert dump.listed == listed and dump.papers[0].listed == listed


@pytest.mark.parametrize(
    ("props", "listed"),
    [
        ({"date": "2025-03-12T00:00:00.000Z"}, "2025-03-12"),
        ({"dateString": "2025-03-13"}, "2025-03-13"),
    ],
)
def test_the_embedded_listing_s_day_when_the_address_has_none(
    props: dict[str, str], listed: str
) -> None:
    items = [{"paper": {"id": "2501.00001", "title": "T"}}]
    data = html.escape(json.dumps({"dailyPapers": items, **props}))
    head = '<link rel="canonical" href="https://huggingface.co/papers/date/2025-01-01">'
    assert parse(page(f'<div data-props="{data}"></div>'), "p.html").listed == listed
    # The page's own address says it first.
    assert parse(page(f'<div data-props="{data}"></div>', head), "p.html").listed == "2025-01-01"


def test_a_paper_is_dated_by_the_listing_it_is_in() -> None:
    # One day a listing: a paper put up on another day reads the page's day.
    items = [
        {"paper": {"id": "2501.00001", "title": "T", "submittedOnDailyAt": "2025-02-02T01:00:00Z"}}
    ]
    data = html.escape(json.dumps({"dailyPapers": items}))
    head = '<link rel="canonical" href="https://huggingface.co/papers/date/2025-01-01">'
    dump = parse(
        page(f'<div data-props="{data}"></div><h3><a href="/papers/x1">C</a></h3>', head), "p.html"
    )
    assert [(p.title, p.listed) for p in dump.papers] == [("T", "2025-01-01"), ("C", "2025-01-01")]


@pytest.mark.parametrize(
    ("name", "listed"),
    [
        ("2024-12-20.json", "2024-12-20"),  # as `digest fetch` names it: the day asked for
        ("daily-2024-12-20.json", "2024-12-20"),
        ("d.json", "2024-12-19"),  # no name's day: the one most papers give
        ("2025-06-01.json", "2024-12-19"),  # a name's day far from the papers' is not theirs
    ],
)
def test_every_paper_of_a_listing_reads_its_one_day(name: str, listed: str) -> None:
    # As the real listing of 2024-12-20 has it: 13 papers put up on the eve, 3 on the day.
    eve, day = "2024-12-19T22:00:00.000Z", "2024-12-20T01:00:00.000Z"
    items = [
        {"paper": {"id": f"2412.{n:05d}", "submittedOnDailyAt": eve if n < 13 else day}}
        for n in range(16)
    ]
    dump = parse(json.dumps(items).encode(), name)
    assert dump.listed == listed and {p.listed for p in dump.papers} == {listed}


@pytest.mark.parametrize(
    ("name", "listed"),
    [("2025-03-12.txt", "2025-03-12"), ("2026-03-13.txt", "2026-03-12"), ("inbox.txt", None)],
)
def test_a_text_listings_day_takes_its_year_from_the_files_name(
    name: str, listed: str | None
) -> None:
    text = "Daily Papers\n\nMar 12\n\nA Title\n\nAn abstract of it.\n"
    dump = parse(text.encode(), name)
    assert dump.listed == listed and dump.listing_date == "Mar 12"
    assert {p.listed for p in dump.papers} == {listed}


# -- what the formats share -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "text", "encoding"),
    [
        ("Ré".encode(), "Ré", "utf-8"),
        (b"\xef\xbb\xbf[1]", "[1]", "utf-8"),
        ("Ré".encode("utf-16"), "Ré", "utf-16"),
        (b"\xfe\xff" + "Ré".encode("utf-16-be"), "Ré", "utf-16"),
        ("Ré ok".encode("utf-16-le"), "Ré ok", "utf-16-le"),
        ("Ré ok".encode("utf-16-be"), "Ré ok", "utf-16-be"),
        ("R\u2019é".encode("cp1252"), "R\u2019é", "cp1252"),
        (b"R\x81", "R\x81", "latin-1"),  # a byte cp1252 leaves undefined
    ],
)
def test_decode(data: bytes, text: str, encoding: str) -> None:
    assert decode(data, "d") == (text, encoding)


def test_utf16_without_a_mark_needs_more_than_nine_zeros_in_ten() -> None:
    mostly = "abcdefghij\u0101".encode("utf-16-le")  # one wide character in eleven
    assert decode(mostly, "d") == ("abcdefghij\u0101", "utf-16-le")
    big = "abcdefghij\u0101".encode("utf-16-be")
    assert decode(big, "d") == ("abcdefghij\u0101", "utf-16-be")
    for text in ("abcdefghi\u0101", "abcd\u0101\u0101\u0101\u0101\u0101\u0101"):  # 90%, 40%
        with pytest.raises(ParseError, match="binary"):
            decode(text.encode("utf-16-le"), "d")


@pytest.mark.parametrize(("controls", "binary"), [(2, False), (3, True)])
def test_more_than_one_control_character_in_a_hundred_is_binary(
    controls: int, binary: bool
) -> None:
    text = "\x01" * controls + "a" * (200 - controls)
    assert looks_binary(text) is binary
    assert looks_binary("a" * 50) is False


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("e\u0301t\u00e9", "\u00e9t\u00e9"),  # NFC
        ("ﬁne", "ﬁne"),  # compatibility characters kept: NFC, not NFKC
        ("a\u202eb\u2066c\u200fd\ufeffe\x00f\x1bg\x85h", "abcdefgh"),
        ("a\u202ab\u202bc\u202cd\u202de", "abcde"),
        ("a\ud800b", "a\ufffdb"),
        ("  a \t\n b  ", "a b"),
    ],
)
def test_clean(raw: str, cleaned: str) -> None:
    assert clean(raw) == cleaned


@pytest.mark.parametrize(
    ("value", "day"),
    [
        ("2025-03-12T00:00:00.000Z", "2025-03-12"),
        ("2024-02-29", "2024-02-29"),
        ("2025-02-29T00:00:00Z", None),
        ("2025-13-01", None),
        ("12/03/2025", None),
        (20250312, None),
    ],
)
def test_iso_date(value: object, day: str | None) -> None:
    assert iso_date(value) == day


@pytest.mark.parametrize(
    ("iso", "shown"), [("2025-03-02", "Mar 2"), ("2025-12-31", "Dec 31"), ("2024-01-10", "Jan 10")]
)
def test_short_date(iso: str, shown: str) -> None:
    assert short_date(iso) == shown


def test_most_common_takes_the_first_of_a_tie_and_ignores_nothing() -> None:
    assert most_common(["b", "a", None, "a", "b", ""]) == "b"
    assert most_common(["b", "a", "a"]) == "a"
    assert most_common([None, ""]) is None


@pytest.mark.parametrize(
    ("raw", "found"),
    [
        ("2503.01234", "2503.01234"),
        ("2503.01234v2", "2503.01234"),
        ("arXiv:0704.0001", "0704.0001"),
        ("ARXIV:0704.0001v11", "0704.0001"),
        ("hep-th/9901001", "hep-th/9901001"),
        ("math.GT/0309136v1", "math.GT/0309136"),
        ("2503.012345", None),
        ("2503.123", None),
        ("some-page", None),
    ],
)
def test_arxiv_ids(raw: str, found: str | None) -> None:
    match = ARXIV_ID.match(raw)
    assert (match.group(1) if match else None) == found
