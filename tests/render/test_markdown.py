"""The Markdown digest reads the same in CommonMark, GitHub's flavour and Python-Markdown: the
same words, no escape or entity left showing, whatever the listing's text holds."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

import markdown
import pytest
from markdown_it import MarkdownIt

from digest.models import Digest, Paper
from digest.render import render
from tests.render.test_render import sample
from tests.render.test_views import rich

WHEN = datetime(2025, 4, 1, 7, 0, tzinfo=UTC)
TRICKY = Paper(
    r"A <b>tag</b>, a | pipe, ~tildes~ and snake_case: the $\mu$-law of {\em LLMs}",
    r"Costs fell ~30\% [see](x) and * stars * and `ticks`. 1. Not a list. # Not a heading."
    " We propose <Tool>, a -- dash and a_b_c and _under_.",
    source="x.txt",
    arxiv_id="2501.00001",
)


def renderers() -> dict[str, object]:
    commonmark = MarkdownIt("commonmark")
    github = MarkdownIt("commonmark").enable(["table", "strikethrough"])
    return {
        "CommonMark": commonmark.render,
        "GitHub": github.render,
        "Python-Markdown": markdown.markdown,
    }


def shown(markup: str) -> str:
    """What a reader sees of rendered HTML: its text, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


@pytest.mark.parametrize(
    "digest",
    [sample(), rich(), Digest(papers=(TRICKY,), created=WHEN)],
    ids=["sample", "rich", "tricky"],
)
def test_three_renderers_show_the_same_text(digest: Digest) -> None:
    md = render(digest, "markdown")
    seen = {name: shown(make(md)) for name, make in renderers().items()}  # type: ignore[operator]
    assert seen["CommonMark"] == seen["GitHub"] == seen["Python-Markdown"], seen
    text = seen["CommonMark"]
    assert "\\" not in text and "&lt;" not in text and "&#" not in text
    for paper in digest.papers:
        title = paper.title.replace(r"$\mu$", "μ").replace(r"{\em LLMs}", "LLMs")
        assert " ".join(title.split()) in text


def test_the_tricky_texts_are_shown_as_written() -> None:
    md = render(Digest(papers=(TRICKY,), created=WHEN), "markdown")
    for make in renderers().values():
        out = make(md)  # type: ignore[operator]
        text = shown(out)
        assert "A <b>tag</b>, a | pipe, ~tildes~ and snake_case: the μ-law of LLMs" in text
        assert "We propose <Tool>, a -- dash and a_b_c and _under_." in text
        assert "<del>" not in out and "<s>" not in out and "<table" not in out
        assert "<em>LLMs</em>" in out  # TeX's emphasis, as emphasis


HOSTILE_URLS = [
    "https://github.com/a/b)](javascript:alert(1)",
    "https://github.com/a/b) [x](javascript:alert(1))",
    'https://github.com/a/b "title") <javascript:alert(1)>',
    "https://example.org/a\\](javascript:alert(1))",
    "https://example.org/<script>alert(1)</script>",
]


@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_a_listings_address_never_becomes_another_link(url: str) -> None:
    paper = Paper("A Paper", "We propose x.", source="x.json", arxiv_id="2501.00001",
                  code_url=url, project_url=url)  # fmt: skip
    md = render(Digest(papers=(paper,), created=WHEN), "markdown")
    for name, make in renderers().items():
        out = make(md)  # type: ignore[operator]
        hrefs = re.findall(r'href="([^"]*)"', out)
        assert hrefs, name
        for href in hrefs:
            assert re.match(r"https?://", html.unescape(href)), (name, href)
        assert "<script" not in out, name
        code = re.search(r'<a href="([^"]*)">Code</a>', out)
        assert code is not None, (name, out)
        # The address is the listing's, whole: only encoded, not cut short.
        from urllib.parse import unquote

        assert unquote(html.unescape(code[1])) == url, name


@pytest.mark.parametrize("fmt", ["html", "text"])
def test_a_private_use_character_in_a_listing_is_never_taken_for_a_papers_number(
    fmt: str,
) -> None:
    papers = tuple(
        Paper(
            f"Title {n}\ue000end",
            f"We propose X{n}\ue000Y and more.",
            source="x.json",
            arxiv_id=f"2501.0000{n}",
        )
        for n in (1, 2)
    )
    out = render(Digest(papers=papers, created=WHEN), fmt)
    for n in (1, 2):
        assert f"X{n}\ufffdY" in out
        assert not re.search(rf"X{n}\s*\d+\s*Y", out)
