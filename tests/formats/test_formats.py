"""Dump formats told by content: the Daily Papers API's JSON (several years of it), the page
saved from a browser, and text; what each yields and how it fails."""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from digest.errors import ParseError
from digest.formats import clean, detect, parse
from digest.models import Dump

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ('[{"paper": {"id": "2503.24322"}}]', "json"),
        ('  \n{"dailyPapers": []}', "json"),
        ("[]", "json"),
        ("<!DOCTYPE html><html><body></body></html>", "html"),
        ("<!-- saved from url=(0030)https://huggingface.co/papers -->\n<html>", "html"),
        ("<html lang=en>", "html"),
        ("[Re] Reproducing a Study\n\nAn abstract.", "text"),
        ("{Math} Titles in Braces\n\nAn abstract.", "text"),
        ("<think> Tokens Considered Harmful\n\nAn abstract.", "text"),
        ("Daily Papers\n\nMar 12\n\nA Title\n\nAn abstract.", "text"),
    ],
)
def test_detect_by_content(text: str, kind: str) -> None:
    assert detect(text) == kind


@pytest.mark.parametrize(
    ("name", "titles", "date"),
    [
        (
            "daily_papers_2023.json",
            [
                "QLoRA: Efficient Finetuning of Quantized LLMs",
                "Textbooks Are All You Need",
                "Llama 2: Open Foundation and Fine-Tuned Chat Models",
            ],
            "May 24",
        ),
        (
            "daily_papers_2024.json",
            [
                "The Era of 1-bit LLMs: All Large Language Models are in 1.58 Bits",
                "Genie: Generative Interactive Environments",
                "Forward Learning of Graph Neural Networks",
            ],
            "Feb 28",
        ),
        (
            "daily_papers_2025.json",
            [
                "DeepSeek-R1: Incentivizing Reasoning Capability in LLMs via Reinforcement"
                " Learning",
                "NoProp: Training Neural Networks without Back-propagation or Forward-propagation",
                "SmolLM2: When Smol Goes Big -- Data-Centric Training of a Small Language Model",
            ],
            "Apr 1",
        ),
        (
            "daily_papers_page.html",
            [
                "NoProp: Training Neural Networks without Back-propagation or Forward-propagation",
                "SmolLM2: When Smol Goes Big -- Data-Centric Training of a Small Language Model",
                "Mix-LN: Unleashing the Power of Deeper Layers by Combining Pre-LN and Post-LN",
            ],
            "Apr 1",
        ),
        (
            "daily_papers_cards.html",
            [
                "NoProp: Training Neural Networks without Back-propagation or Forward-propagation",
                "SmolLM2: When Smol Goes Big -- Data-Centric Training of a Small Language Model",
                "Mix-LN: Unleashing the Power of Deeper Layers by Combining Pre-LN and Post-LN",
            ],
            "Feb 28",
        ),
    ],
)
def test_fixtures_parse_to_their_papers(name: str, titles: list[str], date: str) -> None:
    dump = parse(fixture(name), name)
    assert dump.format == name.rsplit(".", 1)[1]
    assert [p.title for p in dump.papers] == titles  # hard-wrapped titles unwrapped
    assert dump.listing_date == date
    assert all(p.source == name and p.page_url and p.arxiv_id for p in dump.papers)


def test_json_2023_older_fields_only() -> None:
    qlora, textbooks, llama = parse(fixture("daily_papers_2023.json"), "d.json").papers
    assert qlora.arxiv_id == "2305.14314"
    assert qlora.authors[:2] == ("Tim Dettmers", "Artidoro Pagnoni")
    assert qlora.upvotes == 41 and qlora.comments == 3
    assert qlora.published == "2023-05-23"
    assert qlora.abstract.startswith("We present QLoRA, an efficient")
    assert "\n" not in qlora.abstract
    assert textbooks.upvotes is None  # not in that item: absent, not zero
    assert llama.arxiv_id == "2307.09288"  # version suffix dropped
    assert llama.link == "https://arxiv.org/abs/2307.09288"
    assert llama.page_url == "https://huggingface.co/papers/2307.09288v2"
    for paper in (qlora, textbooks, llama):
        assert paper.code_url is None and paper.project_url is None and paper.ai_summary is None


def test_json_2024_broken_items_are_skipped_with_a_warning() -> None:
    dump = parse(fixture("daily_papers_2024.json"), "d.json")
    assert len(dump.papers) == 3
    assert dump.warnings == (
        "item 3: not a paper object (NoneType); skipped",
        "item 4: no paper id or title; skipped",
    )
    bitnet = dump.papers[0]
    assert bitnet.listing_date == "Feb 28"  # the day it was on Daily Papers
    assert bitnet.published == "2024-02-27"
    assert bitnet.upvotes == 612 and bitnet.comments == 37
    assert len(bitnet.authors) == 10


def test_json_2025_newest_fields() -> None:
    r1, noprop, smol = parse(fixture("daily_papers_2025.json"), "d.json").papers
    assert r1.code_url == "https://github.com/deepseek-ai/DeepSeek-R1"
    assert r1.ai_keywords == ("reinforcement learning", "reasoning", "distillation")
    assert r1.ai_summary and r1.ai_summary.startswith("DeepSeek-R1 uses")
    assert noprop.code_url is None and noprop.project_url is None
    assert smol.project_url == "https://huggingface.co/collections/HuggingFaceTB/smollm2"
    assert smol.authors[-1] == "Thomas Wolf"


def test_html_reads_the_embedded_listing_then_the_cards() -> None:
    noprop, smol, mixln = parse(fixture("daily_papers_page.html"), "p.html").papers
    # From the page's embedded JSON: every field.
    assert noprop.authors == ("Qinyu Li", "Yee Whye Teh", "Razvan Pascanu")
    assert noprop.ai_keywords and noprop.upvotes == 57
    assert smol.code_url == "https://github.com/huggingface/smollm"
    # From a card alone: what the card shows.
    assert mixln.arxiv_id == "2412.13795"
    assert mixln.page_url == "https://huggingface.co/papers/2412.13795"
    assert mixln.upvotes == 19 and mixln.comments == 2
    assert mixln.authors == ()  # its avatars are labelled with user names, not authors
    assert mixln.abstract == ""
    assert mixln.listing_date == "Apr 1"  # the page's own date, not its Previous/Next links


def test_html_cards_only_with_an_abstract() -> None:
    papers = parse(fixture("daily_papers_cards.html"), "p.html").papers
    assert [p.upvotes for p in papers] == [57, 128, 19]
    assert papers[0].abstract == ""
    assert papers[2].abstract.startswith("Large Language Models (LLMs) have achieved")
    assert papers[2].code_url is None


def test_html_tolerates_minimal_markup() -> None:
    page = (
        b"<html><body><h3><a href='/papers/2501.00001'>A  Bare\n Title</a></h3>"
        b"<h3><a href='/papers?date=2025-01-02'>Not a paper</a></h3>"
        b"<h2><a href='https://huggingface.co/papers/date/2025-01-02'>Nor this</a></h2>"
        b"<h3><a href='https://hf-mirror.com/papers/2501.00003#community'>Mirrored</a></h3>"
        b"<h3><a href='/papers/2501.00002'>Unclosed <b>markup"
    )
    papers = parse(page, "bare.html").papers
    assert [(p.title, p.arxiv_id) for p in papers] == [
        ("A Bare Title", "2501.00001"),
        ("Mirrored", "2501.00003"),
        ("Unclosed markup", "2501.00002"),
    ]


def test_links_are_only_http() -> None:
    item = {
        "paper": {
            "id": "2501.00001",
            "title": "T",
            "githubRepo": "javascript:alert(1)",
            "projectPage": "https://example.org/p",
        }
    }
    (paper,) = parse(json.dumps([item]).encode(), "x.json").papers
    assert paper.code_url is None and paper.project_url == "https://example.org/p"


@pytest.mark.parametrize(
    ("item", "title", "arxiv_id", "page_url"),
    [
        ({"paper": {"id": "2501.00001"}}, "arXiv:2501.00001", "2501.00001", True),
        ({"title": "Only\n  a Title"}, "Only a Title", None, False),
        ({"id": "2501.00002v3", "title": "Flat item"}, "Flat item", "2501.00002", True),
        ({"paper": {"id": "../../etc", "title": "Odd id"}}, "Odd id", None, False),
        ({"paper": {"id": "2501.00003-b", "title": "Odd id"}}, "Odd id", None, True),
        ({"paper": {"id": "a b<c>", "title": "Unsafe id"}}, "Unsafe id", None, False),
    ],
)
def test_an_id_or_a_title_is_enough(
    item: dict[str, object], title: str, arxiv_id: str | None, page_url: bool
) -> None:
    (paper,) = parse(json.dumps([item]).encode(), "x.json").papers
    assert (paper.title, paper.arxiv_id, paper.page_url is not None) == (
        title,
        arxiv_id,
        page_url,
    )


def test_a_download_cut_short_keeps_the_complete_items() -> None:
    data = fixture("daily_papers_2025.json")
    cut = data[: data.index(b'"2502.02737"') + 40]
    dump = parse(cut, "cut.json")
    assert len(dump.papers) == 2
    assert "breaks off" in dump.warnings[0]


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b'[{"paper": {"upvotes": 3}}]', "no papers found in the JSON"),
        (b'{"error": "Invalid"}', "JSON, but not a Daily Papers list"),
        (b'{"title": ', "not valid JSON"),
        # The whole file one JSON value that is no listing: never read as a text dump.
        (b"42\n", "JSON, but not a Daily Papers list"),
        (b"[1, 2, 3]", "no item has an id or a title"),
        (b'"a string"', "JSON, but not a Daily Papers list"),
        (b"<html><body><p>Nothing here</p></body></html>", "no papers found in this HTML page"),
    ],
)
def test_unusable_files_fail_with_one_line(data: bytes, why: str) -> None:
    with pytest.raises(ParseError) as e:
        parse(data, "bad.json")
    assert e.value.file == "bad.json"
    assert why in e.value.why
    assert "\n" not in str(e.value)


def test_text_titles_in_json_are_cleaned() -> None:
    item = {"paper": {"id": "2501.00001", "title": "Bidi \u202eevil\u202c\x07 title"}}
    (paper,) = parse(json.dumps([item]).encode(), "x.json").papers
    assert paper.title == "Bidi evil title"


def test_an_empty_list_is_a_day_without_papers() -> None:
    dump = parse(b"[]\n", "weekend.json")
    assert (dump.format, dump.papers, dump.warnings) == ("json", (), ())


# Any JSON at all, shaped like the API or not: a Dump or a one-line ParseError, never a crash.
_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
_JSON = st.recursive(
    _SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "paper",
                    "id",
                    "title",
                    "summary",
                    "authors",
                    "name",
                    "upvotes",
                    "publishedAt",
                    "submittedOnDailyAt",
                    "githubRepo",
                    "projectPage",
                    "ai_keywords",
                    "numComments",
                    "dailyPapers",
                    "papers",
                ]
            )
            | st.text(max_size=5),
            children,
            max_size=6,
        )
    ),
    max_leaves=25,
)


def _parsed_or_one_line_error(data: bytes, name: str) -> Dump | None:
    """The dump, every paper titled; or None when parse failed with a one-line ParseError."""
    try:
        dump = parse(data, name)
    except ParseError as e:
        assert "\n" not in str(e)
        return None
    assert all(p.title for p in dump.papers)
    return dump


@given(_JSON)
def test_any_json_parses_or_fails_with_a_parse_error(value: object) -> None:
    _parsed_or_one_line_error(json.dumps(value).encode(), "any.json")


_PAGE_PARTS = st.sampled_from(
    [
        "<article>",
        "</article>",
        "<h3>",
        "</h3>",
        "<h2 class='x'>",
        "<a href='/papers/2501.00001'>",
        "<a href='https://huggingface.co/papers/2501.00002v1#community'>",
        "</a>",
        "<p>",
        "<ul>",
        "<li title='Ada Lovelace'>",
        "<div class='leading-none'>",
        "12",
        "</div>",
        "&amp;",
        '<div data-props=\'{"dailyPapers": [{"paper": {"id": "2501.00003"}}]}\'>',
        "<div data-props='{\"dailyPapers\": 3}'>",
        "<div data-props='{\"dailyPapers\"'>",
        "<!-- c -->",
        "<script>",
        "</script>",
    ]
) | st.text(max_size=20)


@given(st.lists(_PAGE_PARTS, max_size=30))
def test_any_page_parses_or_fails_with_a_parse_error(parts: list[str]) -> None:
    try:
        dump = parse(("<html><body>" + "".join(parts)).encode(), "any.html")
    except ParseError as e:
        assert "\n" not in str(e)
    else:
        assert all(p.title and p.page_url for p in dump.papers)


# -- real responses of the Daily Papers API, saved unchanged ----------------------------------

REAL = sorted((FIXTURES / "real").glob("*.json"))
# An arXiv id inside an item, however it is stored: counted here without the parser.
_RAW_ID = re.compile(r"""["']id["']: ["'](\d{4}\.\d{4,5})["']""")


def _raw_items(path: Path) -> list[object]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return data if isinstance(data, list) else data["data"]


def _raw_id(item: object) -> str:
    text = item if isinstance(item, str) else json.dumps(item)
    match = _RAW_ID.search(text)
    assert match, text[:200]
    return match.group(1)


def test_the_ten_real_responses_are_all_here() -> None:
    assert [p.name for p in REAL] == [
        "2024-05-27.json",
        "2024-08-16.json",
        "2024-12-20.json",
        "2025-01-10.json",
        "2025-03-18.json",
        "2025-03-19.json",
        "2025-07-22.json",
        "2025-12-10.json",
        "2026-04-29.json",
        "2026-08-21.json",
    ]


@pytest.mark.parametrize("path", REAL, ids=lambda p: p.name)
def test_every_item_of_a_real_response_is_a_paper(path: Path) -> None:
    items = _raw_items(path)
    dump = parse(path.read_bytes(), path.name)
    assert dump.warnings == ()
    assert len(dump.papers) == len(items) > 0
    assert [p.arxiv_id for p in dump.papers] == [_raw_id(i) for i in items]
    assert all(p.title and p.abstract and p.authors and p.listed for p in dump.papers)
    # Every day carries its year; the days whose items only have a time keep it.
    assert dump.listed is not None and dump.listed[:4] == path.name[:4]
    if path.name != "2024-12-20.json":  # its items carry the eve's time, and no wrapper
        assert dump.listed == path.name[:10]


def test_items_stored_as_python_repr_strings() -> None:
    path = FIXTURES / "real" / "2024-12-20.json"
    assert all(isinstance(i, str) for i in _raw_items(path))
    qwen = parse(path.read_bytes(), path.name).papers[0]
    assert qwen.arxiv_id == "2412.15115"
    assert qwen.authors[:2] == ("Qwen", "An Yang")
    assert qwen.title.startswith("Qwen2.5 Technical Report")


def test_a_wrapping_object_gives_its_list_and_its_date() -> None:
    path = FIXTURES / "real" / "2025-01-10.json"
    dump = parse(path.read_bytes(), path.name)
    assert len(dump.papers) == json.loads(path.read_bytes())["count"] == 9
    assert {p.listed for p in dump.papers} == {"2025-01-10"}
    assert dump.listing_date == "Jan 10"


@pytest.mark.parametrize("key", ["data", "papers", "dailyPapers"])
def test_any_list_key_is_unwrapped(key: str) -> None:
    item = {"paper": {"id": "2501.00001", "title": "Wrapped"}}
    dump = parse(json.dumps({"status": "success", key: [item]}).encode(), "w.json")
    assert [p.title for p in dump.papers] == ["Wrapped"]


def test_the_latest_fields_are_read() -> None:
    path = FIXTURES / "real" / "2025-12-10.json"
    wan = parse(path.read_bytes(), path.name).papers[0]
    assert wan.organization == "TongyiLab"
    assert wan.github_stars == 42
    assert wan.comments == 2
    assert wan.ai_summary and wan.ai_summary.startswith("Wan-Move enhances motion control")
    assert wan.ai_keywords[:2] == ("motion control", "video generative models")
    assert wan.listed == "2025-12-10" and wan.listing_date == "Dec 10"


def test_each_string_item_that_cannot_be_read_is_named_with_why() -> None:
    good = repr({"paper": {"id": "2501.00001", "title": "Good"}})
    items = [
        good,
        "{'paper': __import__('os').system('touch /tmp/pwned')}",  # never run
        "{'paper': {'id': '2501.00002', 'title': 'Cut",
        "{'a': " + "[" * 200 + "]" * 200 + "}",
        "{'paper': {'title': '" + "x" * 1_000_001 + "'}}",
        "[1, 2]",
        "{1, 2}",
    ]
    dump = parse(json.dumps(items).encode(), "strings.json")
    assert [p.title for p in dump.papers] == ["Good"]
    assert dump.warnings == (
        "item 2: a string that is not a readable Python dict; skipped",
        "item 3: a string that is not a readable Python dict; skipped",
        "item 4: a paper stored as a string nested 201 levels deep; skipped",
        "item 5: a paper stored as a string of 1,000,025 bytes, more than 1,000,000; skipped",
        "item 6: not a paper object (str); skipped",
        "item 7: a string holding a set, not a paper; skipped",
    )


# -- nesting and size: a one-line error, never a crash ------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"[" * 1_000 + b"]" * 1_000,
        b"[" * 100_000 + b"]" * 100_000,
        b'{"dailyPapers": ' + b"[" * 5_000,  # cut off as well
        b'[{"paper": {"id": "2501.00001", "title": "T"}}, ' + b'{"a": ' * 3_000,
    ],
    ids=["1k", "100k", "cut-off", "cut-off-after-an-item"],
)
def test_deep_json_is_one_line_error(data: bytes) -> None:
    with pytest.raises(ParseError) as e:
        parse(data, "deep.json")
    assert e.value.file == "deep.json"
    assert "levels deep, more than the 64 digest reads" in e.value.why
    assert "\n" not in str(e.value)


def test_deep_embedded_listing_is_a_warning_and_the_cards_are_read() -> None:
    props = "{&quot;dailyPapers&quot;: " + "[" * 3_000 + "]" * 3_000 + "}"
    page = (
        f'<html><body><div data-props="{props}"></div>'
        "<h3><a href='/papers/2501.00001'>A Card</a></h3></body></html>"
    ).encode()
    dump = parse(page, "deep.html")
    assert [p.title for p in dump.papers] == ["A Card"]
    (warning,) = dump.warnings
    assert warning.startswith("its embedded listing is nested 3,001 levels deep, more than")
    with pytest.raises(ParseError) as e:
        parse(page.replace(b"<h3>", b"<p>"), "deep.html")
    assert e.value.why.startswith("no papers found in this HTML page: its embedded listing is")


def test_too_many_items_is_rejected_naming_the_limit() -> None:
    item = b'{"paper": {"id": "2501.00001", "title": "T"}}'
    with pytest.raises(ParseError) as e:
        parse(b"[" + b", ".join([item] * 5_001) + b"]", "many.json")
    assert e.value.why.startswith("5,001 items, more than the 5,000 papers one listing file")
    assert len(parse(b"[" + b", ".join([item] * 5_000) + b"]", "ok.json").papers) == 5_000


def test_a_million_tiny_items_are_refused_before_decoding() -> None:
    data = b"[" + b",".join([b'{"title":"t"}'] * 1_000_000) + b"]"
    with pytest.raises(ParseError) as e:
        parse(data, "huge.json")
    assert "too big to read: up to 2,000,000 JSON values" in e.value.why
    assert "more than the 1,000,000 one listing file may hold" in e.value.why


# -- saved pages as they are --------------------------------------------------------------------


def test_avatar_labels_are_never_authors() -> None:
    for name in ("daily_papers_page.html", "daily_papers_cards.html"):
        html = fixture(name).decode()
        labels = set(re.findall(r'<li title="([^"]*)"', html))
        assert labels  # the fixture has avatars, labelled with user names
        for paper in parse(fixture(name), name).papers:
            assert not labels & set(paper.authors), (name, paper.title)


def test_authors_keep_the_order_of_the_data() -> None:
    noprop, smol, _ = parse(fixture("daily_papers_page.html"), "p.html").papers
    assert noprop.authors == ("Qinyu Li", "Yee Whye Teh", "Razvan Pascanu")
    assert smol.authors[0] == "Loubna Ben Allal" and smol.authors[-1] == "Thomas Wolf"


@pytest.mark.parametrize(
    "props",
    [
        '{"dateString": "2025-03-10", "dailyPapers": []}',
        '{"date": "2025-03-10T00:00:00.000Z", "dailyPapers": []}',
        '{"date": null, "dateString": "2025-03-10", "dailyPapers": []}',
    ],
)
def test_a_page_date_from_either_key(props: str) -> None:
    escaped = props.replace('"', "&quot;")
    page = (
        f'<html><body><div data-props="{escaped}"></div>'
        "<h3><a href='/papers/2503.00001'>A Card</a></h3></body></html>"
    ).encode()
    dump = parse(page, "p.html")
    assert (dump.listed, dump.listing_date) == ("2025-03-10", "Mar 10")
    assert dump.papers[0].listed == "2025-03-10"


@pytest.mark.slow
def test_nested_markup_in_a_card_is_read_within_a_bound() -> None:
    import time

    page = "<html><body><article><h3><a href='/papers/2501.00001'>T</a></h3>" + "<p>x" * 50_000
    started = time.perf_counter()
    (paper,) = parse(page.encode(), "nested.html").papers
    assert paper.title == "T"
    assert time.perf_counter() - started < 20  # it took minutes when every paragraph was read


_REPR_PARTS = st.sampled_from(
    ["{", "}", "[", "]", "(", ")", "'paper'", "'id'", "'title'", ": ", ", ", "'2501.00001'",
     "1" * 5000, "1e999", "None", "True", "__import__('os')", "\\", "'", '"', "\x00", "set()"]
) | st.text(max_size=8)  # fmt: skip


@given(st.lists(st.lists(_REPR_PARTS, max_size=20).map(lambda p: "{" + "".join(p)), max_size=4))
def test_any_string_items_parse_or_fail_with_a_parse_error(items: list[str]) -> None:
    dump = _parsed_or_one_line_error(json.dumps(items).encode(), "strings.json")
    if dump is not None:  # every item is a paper or a warning, none lost unsaid
        assert len(dump.papers) + len(dump.warnings) == len(items)


words = st.text(alphabet=st.characters(categories=["L", "N"]), min_size=1, max_size=12)
titles = st.lists(words, min_size=2, max_size=14).map(" ".join)
abstracts = st.lists(words, min_size=60, max_size=120).map(lambda w: " ".join(w) + ".")
headers = st.lists(
    st.sampled_from(
        ["new", "Subscribe", "Daily Papers", "byAK", "by AK and the research community"]
    ),
    max_size=5,
)


@given(st.binary(max_size=4000))
@example(b"\xff\xfe\x00")  # a UTF-16 byte-order mark and half a character
@example(b"\xef\xbb\xbf")
@example(b"Title\n\n" + b"\x00" * 10)
def test_parse_arbitrary_bytes_never_crashes(data: bytes) -> None:
    try:
        dump = parse(data, "fuzz.txt")
    except ParseError as e:
        assert str(e).startswith("fuzz.txt") and "\n" not in str(e)
    else:
        assert dump.papers and all(p.title for p in dump.papers)


@given(st.text(max_size=3000))
def test_parse_arbitrary_text_never_crashes(text: str) -> None:
    for encoding in ("utf-8", "utf-16"):
        with contextlib.suppress(ParseError):
            parse(text.encode(encoding, "surrogatepass"), "fuzz.txt")


@given(
    st.lists(st.tuples(titles, abstracts), min_size=1, max_size=8),
    headers,
    st.sampled_from(["\n", "\r\n", "\r"]),
    st.integers(min_value=1, max_value=4),
    st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]),
)
@example([("0 DEC", "word " * 60)], [], "\n", 1, "utf-8")  # a title that looks like a date
@example([("0 DEC", "0 " * 60 + ".")], [], "\n", 1, "utf-8")  # no day 0: a title, not a date
@pytest.mark.slow
def test_parse_recovers_every_listed_paper(
    papers: list[tuple[str, str]], header: list[str], newline: str, blanks: int, encoding: str
) -> None:
    gap = newline * (blanks + 1)
    text = gap.join([*header, *(part for pair in papers for part in pair)]) + newline
    dump = parse(text.encode(encoding, "surrogatepass"), "day.txt")
    expected = [(clean(t), clean(a)) for t, a in papers]
    assert [(p.title, p.abstract) for p in dump.papers] == expected


def test_text_no_encoder_takes_becomes_a_replacement_character() -> None:
    # An escaped half of a UTF-16 pair is valid JSON, but no UTF-8 output can carry it.
    data = rb'[{"paper": {"id": "2503.99999", "title": "Fine \udc80 t", "summary": "x \udc80"}}]'
    (paper,) = parse(data, "a.json").papers
    assert paper.title == "Fine \ufffd t" and paper.abstract == "x \ufffd"
    paper.title.encode("utf-8")  # raises if a surrogate were left


def test_a_number_too_long_to_convert_costs_only_its_field() -> None:
    data = b'[{"title": "T", "upvotes": ' + b"9" * 5000 + b'}, {"title": "U", "upvotes": 3}]'
    papers = parse(data, "a.json").papers
    assert [(p.title, p.upvotes) for p in papers] == [("T", None), ("U", 3)]
