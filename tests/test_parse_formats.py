"""Dump formats told by content: the Daily Papers API's JSON (several years of it), the page
saved from a browser, and text; what each yields and how it fails."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digest.errors import ParseError
from digest.parse import detect, parse

FIXTURES = Path(__file__).resolve().parent / "fixtures"


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
    assert set(mixln.authors) == {"Shiwei Liu", "Lu Yin", "Pengxiang Li"}
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


@settings(max_examples=300, deadline=None)
@given(_JSON)
def test_any_json_parses_or_fails_with_a_parse_error(value: object) -> None:
    try:
        dump = parse(json.dumps(value).encode(), "any.json")
    except ParseError as e:
        assert "\n" not in str(e)
    else:
        assert all(p.title for p in dump.papers)


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


@settings(max_examples=200, deadline=None)
@given(st.lists(_PAGE_PARTS, max_size=30))
def test_any_page_parses_or_fails_with_a_parse_error(parts: list[str]) -> None:
    try:
        dump = parse(("<html><body>" + "".join(parts)).encode(), "any.html")
    except ParseError as e:
        assert "\n" not in str(e)
    else:
        assert all(p.title and p.page_url for p in dump.papers)
