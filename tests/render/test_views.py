"""Richer digests: authors, upvotes and links when a dump has them, the reader's highlights
marked, the capped rest listed compactly, exclusions counted; and none of it when absent."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from digest.interests import Interests, select
from digest.models import Digest, Dump, Paper
from digest.patterns import terms
from digest.render import render, summary
from digest.render.views import days, listing_date, mark, short_authors, short_name

WHEN = datetime(2025, 4, 1, 7, 0, tzinfo=UTC)

NOPROP = Paper(
    "NoProp: Training Neural Networks without Back-propagation or Forward-propagation",
    "We introduce a new learning method named NoProp, inspired by diffusion and flow matching.",
    source="2025-04-01.json",
    listing_date="Apr 1",
    arxiv_id="2503.24322",
    authors=("Qinyu Li", "Yee Whye Teh", "Razvan Pascanu"),
    upvotes=57,
    page_url="https://huggingface.co/papers/2503.24322",
    comments=5,
    published="2025-03-31",
    ai_summary="Each layer learns to denoise on its own.",
    ai_keywords=("diffusion", "flow matching"),
    listed="2025-04-01",
)
SMOL = Paper(
    "SmolLM2: When Smol Goes Big -- Data-Centric Training of a Small Language Model",
    "We document the development of SmolLM2, a small language model.",
    source="2025-04-01.json",
    listing_date="Apr 1",
    arxiv_id="2502.02737",
    authors=("Loubna Ben Allal", "Anton Lozhkov", "Elie Bakouch", "Leandro von Werra"),
    upvotes=1,
    page_url="https://huggingface.co/papers/2502.02737",
    code_url="https://github.com/huggingface/smollm",
    project_url="https://huggingface.co/collections/HuggingFaceTB/smollm2",
    comments=1,
    organization="Hugging Face Smol Models Research",
    github_stars=2300,
    listed="2025-03-31",
)
TEXT_ONLY = Paper("A Plain Text Listing", "Its abstract, and nothing more.", source="day.txt")
FLUID = Paper("Fluid Benchmarks", "CFD.", source="2025-04-01.json", arxiv_id="2310.05963")


def rich() -> Digest:
    papers = (TEXT_ONLY, SMOL, NOPROP, FLUID)
    wants = Interests(
        terms("diffusion, small language model", "H"), terms("fluid", "E"), "highlights", 2
    )
    chosen = select(papers, wants)
    return Digest(
        papers=chosen.full,
        more=chosen.more,
        excluded=chosen.excluded,
        highlights=chosen.highlights,
        highlight=wants.highlight,
        dumps=(
            Dump("2025-04-01.json", "ab" * 32, papers, "Apr 1", format="json", listed="2025-04-01"),
        ),
        created=WHEN,
        detail="full",
    )


@pytest.mark.parametrize(
    ("fmt", "name"),
    [("text", "digest-rich.txt"), ("markdown", "digest-rich.md"), ("json", "digest-rich.json")],
)
def test_golden_rich(fmt: str, name: str, golden: Any) -> None:
    golden(name, render(rich(), fmt))


def test_rich_fields_in_every_format() -> None:
    text, md = render(rich(), "text"), render(rich(), "markdown")
    for out in (text, md):
        assert "L. B. Allal, A. Lozhkov et al." in out
        assert "Q. Li, Y. W. Teh, R. Pascanu" in out
        assert "57 upvotes" in out and "1 upvote " in out
        assert "https://huggingface.co/papers/2503.24322" in out
        assert "https://arxiv.org/abs/2503.24322" in out
        assert "https://github.com/huggingface/smollm" in out
        assert "https://huggingface.co/collections/HuggingFaceTB/smollm2" in out
        assert "Fluid Benchmarks" not in out  # excluded
        assert "1 new paper was left out by your exclusions" in out
    assert "*diffusion*" in text and "**diffusion**" in md
    assert "**Small Language Model**" in md
    data = json.loads(render(rich(), "json"))
    first = data["papers"][0]
    assert first["title"].startswith("SmolLM2")  # highlighted first
    assert first["highlights"] == ["small language model"]
    assert first["authors"][3] == "Leandro von Werra"
    assert data["papers"][1]["ai_keywords"] == ["diffusion", "flow matching"]
    assert [p["title"] for p in data["more"]] == ["A Plain Text Listing"]
    assert [p["title"] for p in data["excluded"]] == ["Fluid Benchmarks"]
    assert data["stats"]["excluded"] == 1 and data["stats"]["new"] == 3


def test_the_rest_past_the_cap_is_shown_by_its_tldr_and_a_search_for_its_whole_title() -> None:
    text = render(rich(), "text")
    rest = text[text.index("  3. A Plain Text Listing") :]
    assert "TL;DR: Its abstract, and nothing more." in rest
    whole = "https://arxiv.org/search/?searchtype=title&query=A+Plain+Text+Listing"
    assert f"Search arXiv:\n     {whole}\n" in rest
    # Within 72 columns, but for a link: cut, it would search for something else.
    long = [line for line in text.splitlines() if len(line) > 72]
    assert all(re.fullmatch(r" *https://\S+", line) for line in long), long


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_a_text_dump_renders_without_any_richer_field(fmt: str) -> None:
    digest = Digest(
        papers=(TEXT_ONLY,), dumps=(Dump("day.txt", "cd" * 32, (TEXT_ONLY,)),), created=WHEN
    )
    out = render(digest, fmt)
    for absent in (
        "upvote",
        "Paper:",
        "Paper page",
        "Code",
        "Project",
        "Matches",
        "None",
        "[]",
        "et al",
        "Also new",
        "exclusions",
    ):
        assert absent not in out, absent
    assert "arxiv.org/search" in out


@pytest.mark.parametrize(
    ("name", "short"),
    [
        ("Yee Whye Teh", "Y. W. Teh"),
        ("Leandro von Werra", "L. von Werra"),
        ("Jean-Pierre de la Tour", "J.-P. de la Tour"),
        ("Martin Luther King Jr.", "M. L. King Jr."),
        ("DeepSeek-AI", "DeepSeek-AI"),
        ("张三", "张三"),
        ("Quoc V. Le", "Q. V. Le"),
    ],
)
def test_short_name(name: str, short: str) -> None:
    assert short_name(name) == short


@pytest.mark.parametrize(
    ("authors", "line"),
    [
        ((), ""),
        (("Ada Lovelace",), "A. Lovelace"),
        (("Ada Lovelace", "Alan Turing", "Grace Hopper"), "A. Lovelace, A. Turing, G. Hopper"),
        (("Ada Lovelace", "Alan Turing", "Grace Hopper", "X Y"), "A. Lovelace, A. Turing et al."),
    ],
)
def test_short_authors(authors: tuple[str, ...], line: str) -> None:
    assert short_authors(authors) == line


WORDS = terms(r"llm, diff\w*, l{2}", "DIGEST_HIGHLIGHT")


@pytest.mark.parametrize(
    ("fmt", "text", "out"),
    [
        ("text", "LLM <b> and diffusion", "*LLM* <b> and *diffusion*"),
        ("markdown", "# LLM *x* diffusion_y", r"\# **LLM** \*x\* **diffusion_y**"),
        ("markdown", "LLM first", "**LLM** first"),
        ("markdown", "- a list? no LLM", r"\- a list? no **LLM**"),
        (
            "html",
            "<i>LLM</i> & diffusion",
            '&lt;i&gt;<b class="hl" style="border-bottom:2px solid">LLM</b>&lt;/i&gt;'
            ' &amp; <b class="hl" style="border-bottom:2px solid">diffusion</b>',
        ),
        ("text", "nothing to see", "nothing to see"),
        ("text", "smaLLM", "sma*LL*M"),  # overlapping terms merge into one mark
        # TeX as Unicode, its emphasis kept, the reader's words marked in the Unicode text.
        ("text", r"an {\em LLM} on $\mu$-law", r"an *LLM* on μ-law"),
        ("text", r"on {\em entropy drift} via diffusion", "on _entropy drift_ via *diffusion*"),
        ("html", r"Poincar\'e {\emph disks}", "Poincaré <em>disks</em>"),
        ("markdown", r"\textsc{AIEV} {\em x} 54.6\% *y*", r"AIEV *x* 54.6% \*y\*"),
        ("heading", "An LLM title", "An *LLM* title"),  # a heading is bold already
    ],
)
def test_mark(fmt: str, text: str, out: str) -> None:
    assert str(mark(text, WORDS, fmt)) == out


def test_summary_counts_exclusions() -> None:
    assert summary(rich()) == "3 new papers of 4 in 1 dump; 1 excluded"


SNIPPET = Path(__file__).resolve().parent.parent / "fixtures" / "html-snippet"


def test_html_blocks_for_the_richer_fields_are_escaped_and_complete() -> None:
    hostile = Paper(
        "<script>x</script> Diffusion",
        "A <b>diffusion</b> abstract.",
        source="d.json",
        page_url="https://huggingface.co/papers/2501.00001",
        arxiv_id="2501.00001",
        authors=("Ada <Lovelace>",),
        upvotes=3,
    )
    digest = rich()
    digest = Digest(
        papers=(hostile, *digest.papers),
        more=digest.more,
        excluded=digest.excluded,
        highlights=digest.highlights,
        highlight=digest.highlight,
        dumps=digest.dumps,
        created=WHEN,
    )
    html = render(digest, "html", SNIPPET)
    assert "<script>" not in html and "&lt;script&gt;x&lt;/script&gt;" in html
    assert "A. &lt;Lovelace&gt;" in html
    assert '&lt;b&gt;<b class="hl"' in html and ">diffusion</b>&lt;/b&gt;" in html
    assert '<a href="https://github.com/huggingface/smollm"' in html
    assert "&#9650; 57" in html
    assert "Also new (1 more)" in html and "A Plain Text Listing" in html
    assert "1 new paper was left out by your exclusions" in html


@pytest.mark.parametrize(
    ("isos", "text"),
    [
        ([], ""),
        (["2025-03-10"], "Mon 10 Mar 2025"),
        (["2025-03-12", "2025-03-10", "2025-03-12"], "Mon 10 \N{EN DASH} Wed 12 Mar 2025"),
        (["2025-04-01", "2025-03-31"], "Mon 31 Mar \N{EN DASH} Tue 1 Apr 2025"),
        (["2025-01-01", "2024-12-31"], "Tue 31 Dec 2024 \N{EN DASH} Wed 1 Jan 2025"),
    ],
)
def test_days_read_as_one_day_or_a_range(isos: list[str], text: str) -> None:
    assert days(isos) == text


def test_the_digest_names_its_days_sorted_with_their_year() -> None:
    dumps = (
        Dump("b.json", "b" * 64, (SMOL,), "Mar 12", format="json", listed="2025-03-12"),
        Dump("a.json", "a" * 64, (NOPROP,), "Mar 10", format="json", listed="2025-03-10"),
        Dump("c.txt", "c" * 64, (TEXT_ONLY,), "Mar 13"),  # a text dump: no year given
    )
    digest = Digest(papers=(SMOL, NOPROP, TEXT_ONLY), dumps=dumps, created=WHEN)
    # Made within days of it, a text dump's day is dated in the digest's year.
    assert listing_date(digest) == "Mon 10 \N{EN DASH} Thu 13 Mar 2025"
    assert "(Mon 10 \N{EN DASH} Thu 13 Mar 2025)" in render(digest, "text").splitlines()[0]
    # Made long after, it is left as given rather than dated with a guess; sorted.
    later = dataclasses.replace(digest, created=datetime(2026, 1, 9, tzinfo=UTC))
    assert listing_date(later) == "Mon 10 \N{EN DASH} Wed 12 Mar 2025, Mar 13"
    old = (Dump("d.txt", "d" * 64, (), "Jun 2"), Dump("e.txt", "e" * 64, (), "Mar 14"))
    assert listing_date(dataclasses.replace(later, dumps=old)) == "Mar 14, Jun 2"
    dated = dataclasses.replace(later, dumps=(Dump("f.txt", "f" * 64, (), "Dec 30"),))
    assert listing_date(dated) == "Tue 30 Dec 2025"  # over the year's end


def test_the_real_fields_show_in_every_format() -> None:
    digest = Digest(papers=(SMOL, NOPROP), created=WHEN, detail="full")
    text, md, html = (render(digest, f) for f in ("text", "markdown", "html"))
    data = json.loads(render(digest, "json"))["papers"]
    assert data[0]["organization"] == "Hugging Face Smol Models Research"
    assert data[0]["github_stars"] == 2300 and data[0]["listed"] == "2025-03-31"
    assert data[1]["ai_summary"] == NOPROP.ai_summary and data[1]["comments"] == 5
    assert "TL;DR: Each layer learns to denoise on its own." in text
    assert "**TL;DR:** Each layer learns to denoise on its own." in md
    assert "<b>TL;DR</b> Each layer learns to denoise on its own." in html
    for body in (text, md, html):
        assert "Hugging Face Smol Models Research" in body
        assert "2,300" in body  # the code's stars
        assert "5 comments" in body and "1 comment " in body
        assert "diffusion, flow matching" in body or "diffusion · flow matching" in body
        assert "Tue 1 Apr 2025" in body and "Mon 31 Mar 2025" in body


@pytest.mark.parametrize(
    ("dumps", "name"),
    [
        ((("a.json", "Mar 12", "2025-03-12"),), "daily-papers-2025-03-12.md"),
        (
            (("b.json", "Mar 12", "2025-03-12"), ("a.json", "Mar 10", "2025-03-10")),
            "daily-papers-2025-03-10-to-2025-03-12.md",
        ),
        ((("c.txt", "Mar 31", None),), "daily-papers-2025-03-31.md"),  # dated: made days after
        (
            (("c.txt", "Jul 29", None), ("d.txt", "Mar 11", None)),
            "daily-papers-mar-11-to-jul-29.md",
        ),
        ((), "daily-papers-2025-04-01.md"),  # no listing day at all: the day it was made
    ],
)
def test_the_attachment_is_named_by_the_listings_days(
    dumps: tuple[tuple[str, str, str | None], ...], name: str
) -> None:
    from digest.render.views import attachment_name

    made = tuple(Dump(f, f * 32, (), given, listed=listed) for f, given, listed in dumps)
    assert attachment_name(Digest(papers=(), dumps=made, created=WHEN)) == name


def test_a_digest_of_papers_listed_before_says_their_days() -> None:
    """A weekly reader's digest: papers of listings read in earlier runs, none this run."""
    monday = dataclasses.replace(NOPROP, source="2025-03-31.json", listed="2025-03-31")
    tuesday = dataclasses.replace(SMOL, source="2025-04-01.json", listed="2025-04-01")
    weekly = Digest(papers=(monday, tuesday), dumps=(), created=datetime(2025, 4, 6, 7, tzinfo=UTC))
    assert listing_date(weekly) == days(["2025-03-31", "2025-04-01"])
    assert "Sun 6 Apr" not in listing_date(weekly)  # not the day it was sent


@pytest.mark.parametrize(
    ("term", "said"),
    [
        ("reward model\\w*", "reward model"),
        ("[Tt]ransformers?", "Transformers"),
        ("(video|image) generation", "video/image generation"),
        ("C\\+\\+", "C++"),
        ("self-play", "self-play"),
    ],
)
def test_the_subject_names_a_reader_s_terms_in_their_words_not_their_syntax(
    term: str, said: str
) -> None:
    from digest.render.views import readable, subject

    assert readable(term) == said
    title = "Scaling reward modeling and Transformers for C++ video generation by self-play"
    papers = (Paper(title, "a"),)
    wants = Interests(terms(term, "H"), (), "highlights", 0)
    chosen = select(papers, wants)
    shaped = Digest(papers=chosen.full, highlights=chosen.highlights, created=WHEN)
    assert subject(shaped).endswith(f"1 matches {said} (Tue 1 Apr 2025)")
