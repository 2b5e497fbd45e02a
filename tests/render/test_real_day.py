"""Reading a real day's digest: the overview and subject, every paper's TL;DR and reason in
every format, the mail's budget spent on TL;DRs first, and each paper's fragment rendered once
a run whatever the number of readers."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest import formats
from digest.interests import Interests, select
from digest.models import Digest, Dump
from digest.patterns import terms
from digest.render import Renderer, mail, render
from digest.render.tex import unicode

REAL = Path(__file__).resolve().parent.parent / "fixtures" / "real"
CREATED = datetime(2025, 12, 10, 8, 0, tzinfo=UTC)


def day(name: str = "2025-12-10.json") -> Dump:
    path = REAL / name
    return formats.parse(path.read_bytes(), path.name)


def reader_digest(dump: Dump, highlight: str = "", cap: int = 0, **more: object) -> Digest:
    """A digest of one real day for a reader with these interests."""
    wants = Interests(terms(highlight, "H"), (), "highlights", cap)
    chosen = select(dump.papers, wants)
    return Digest(
        papers=chosen.full,
        more=chosen.more,
        highlights=chosen.highlights,
        highlight=wants.highlight,
        dumps=(dump,),
        created=CREATED,
        **{"detail": "full", **more},  # type: ignore[arg-type]
    )


def test_the_overview_and_subject_say_what_matched() -> None:
    digest = reader_digest(day(), "diffusion, speech")
    matched = [p for p in digest.papers if p in digest.highlights]
    assert len(matched) >= 2
    renderer = Renderer(digest)
    subject = renderer.view.subject
    assert subject.startswith(f"Daily papers: {digest.stats.new} new · {len(matched)} match ")
    assert "diffusion" in subject and subject.endswith("(Wed 10 Dec 2025)")
    html, text, md = (renderer.render(f) for f in ("html", "text", "markdown"))
    assert f"Your matches ({len(matched)})" in html
    assert f"Your matches ({len(matched)})" in text and f"## Your matches ({len(matched)})" in md
    assert "Top papers" in html and "Top papers" in text
    # Each overview line links to its paper's section.
    for n in range(1, len(matched) + 1):
        assert f'href="#p{n}"' in html and f'id="p{n}"' in html
    # The top papers are the most upvoted of the rest.
    top = json.loads(renderer.render("json"))
    by_votes = sorted(
        (p for p in digest.papers if p not in digest.highlights), key=lambda p: -(p.upvotes or 0)
    )
    shown = text[text.index("Top papers") :]
    assert unicode(by_votes[0].title)[:40] in " ".join(shown.split())
    assert top["papers"][0]["why"].startswith("matches: ")


def test_a_reason_shows_in_every_format_and_with_the_score_in_the_json() -> None:
    dump = day()
    first, second = dump.papers[:2]
    digest = reader_digest(
        dump,
        reasons={first: "like: Diffusion Models Beat GANs", second: "matches: kv cache"},
        scores={first: 0.91, second: 0.42},
    )
    html, text, md = (render(digest, f) for f in ("html", "text", "markdown"))
    assert '<p class="why">like: Diffusion Models Beat GANs</p>' in html
    assert "(like: Diffusion Models Beat GANs)" in text
    assert "*like: Diffusion Models Beat GANs*" in md
    for out in (html, text, md):
        assert "matches: kv cache" in out
    data = json.loads(render(digest, "json"))
    views = {p["title"]: p for p in data["papers"]}
    assert views[first.title]["reason"] == "like: Diffusion Models Beat GANs"
    assert views[first.title]["score"] == 0.91 and views[second.title]["score"] == 0.42
    third = next(v for v in data["papers"] if v["title"] not in (first.title, second.title))
    assert third["reason"] == "" and third["score"] is None
    # Papers with a reason are the reader's matches, in the overview.
    assert "Your matches (2)" in html


@pytest.mark.parametrize("detail", ["full", "compact"])
def test_every_papers_tldr_is_said_once_in_every_format(detail: str) -> None:
    # With the abstracts, a TL;DR taken from the abstract is read there, not said again
    # above it nor in the overview; without, the top papers have theirs.
    digest = reader_digest(day("2025-03-18.json"), detail=detail)
    renderer = Renderer(digest)
    text = words(renderer.render("text")).lower()
    md = words(renderer.render("markdown")).lower()
    html = words(re.sub(r"<[^>]+>", " ", renderer.render("html"))).lower()
    shown = renderer.view.papers if detail == "full" else renderer.view.order[:5]
    for view in shown:
        assert view["tldr"] and view["tldr_source"] == "abstract"  # this day has no AI summary
        line = words(unicode(view["tldr"])).lower()[:50]  # its lead-in left out
        assert text.count(line) == md.count(line) == html.count(line) == 1, line


def words(text: str) -> str:
    """The text's words, without the marks of emphasis (_word_ in the text part)."""
    return " ".join(re.findall(r"[^\W_]+", text))


def many_days() -> Dump:
    """Four real days (with AI summaries) in one dump: more than the mail can show whole."""
    names = ("2025-07-22.json", "2025-12-10.json", "2026-04-29.json", "2026-08-21.json")
    return dataclasses.replace(day(), papers=tuple(p for n in names for p in day(n).papers))


def test_the_mail_gives_every_paper_its_tldr_before_any_abstract() -> None:
    digest = reader_digest(many_days())
    renderer = Renderer(digest)
    composed = mail.compose(renderer, mail.MailOptions(), "<1@example.org>")
    layout = composed.layout
    assert not layout.complete and layout.compact == 0 and layout.omitted == 0
    assert layout.short > 0 and layout.full > 0  # every TL;DR, then abstracts as fit
    assert mail.encoded_size(composed.html) <= mail.HTML_BUDGET
    html, text = composed.html, composed.text
    assert sum(1 for v in renderer.view.papers if v["tldr_source"] == "ai") > 50
    for view in renderer.view.papers:  # a TL;DR said by its abstract, its lead-in left out
        assert words(unicode(view["tldr"])).lower()[:40] in words(html).lower()
        assert words(unicode(view["tldr"])).lower()[:40] in words(text).lower()
    assert composed.attachment == "daily-papers-2025-12-10.md"  # the listing's day
    assert f"the first {layout.full} also with their abstract" in html


# -- one fragment a paper a run, whatever the number of readers -------------------------------


def test_a_papers_fragment_is_rendered_once_a_run_whatever_the_number_of_readers() -> None:
    dump = day()
    n = len(dump.papers)
    shared: dict[object, str] = {}
    plain = reader_digest(dump)
    first = Renderer(plain, fragments=shared)
    outputs = {f: first.render(f) for f in ("html", "text")}
    assert dict(first.fragment_renders) == {"html": n, "text": n}

    # Another reader: other order, other words, a reason and scores for some papers.
    papers = plain.papers[::-1]
    other = reader_digest(
        dataclasses.replace(dump, papers=papers),
        "diffusion",
        reasons={papers[0]: "like: a paper they liked"},
        scores={p: i / n for i, p in enumerate(papers)},
    )
    touched = {p for p in other.papers if p in other.highlights} | {papers[0]}
    second = Renderer(other, fragments=shared)
    for fmt in ("html", "text"):
        alone = Renderer(other).render(fmt)
        assert second.render(fmt) == alone  # the same output as without the shared cache
    # Only the papers that read otherwise to this reader (a reason, their words) are drawn.
    assert dict(second.fragment_renders) == {"html": len(touched), "text": len(touched)}
    assert 0 < len(touched) < n

    # A hundred more readers like the first cost no fragment at all, numbered their own way.
    for _ in range(100):
        again = Renderer(reader_digest(dump), fragments=shared)
        assert again.render("html") == outputs["html"]
        assert not again.fragment_renders
    assert re.search(r'id="p1"', outputs["html"])


def test_the_mail_sizes_papers_from_the_shared_fragments() -> None:
    dump = many_days()
    shared: dict[object, str] = {}
    renderers = [Renderer(reader_digest(dump), fragments=shared) for _ in range(3)]
    composed = [mail.compose(r, mail.MailOptions(), "<1@example.org>") for r in renderers]
    papers = len(dump.papers)
    # Three forms (full, TL;DR, title) of each paper for sizing, once; the text part's once.
    assert renderers[0].fragment_renders["html"] == 3 * papers
    assert all(not r.fragment_renders["html"] for r in renderers[1:])
    assert all(not r.fragment_renders["text"] for r in renderers[1:])
    assert composed[0].html == composed[1].html == composed[2].html


@pytest.mark.parametrize("fmt", ["html", "text"])
def test_a_user_fragment_template_is_keyed_apart(tmp_path: Path, fmt: str) -> None:
    (tmp_path / "_paper.txt.j2").write_text(
        "{% macro paper_block(entry) %}MINE {{ entry.number }}\n{% endmacro %}"
        "{% macro compact_line(entry) %}{% endmacro %}",
        encoding="utf-8",
    )
    (tmp_path / "_paper.html.j2").write_text(
        "{% macro paper_block(entry) %}<tr><td>MINE {{ entry.number }}</td></tr>"
        "{% endmacro %}{% macro compact_line(entry) %}{% endmacro %}",
        encoding="utf-8",
    )
    shared: dict[object, str] = {}
    digest = reader_digest(day())
    built_in = Renderer(digest, fragments=shared).render(fmt)
    mine = Renderer(digest, templates=tmp_path, fragments=shared).render(fmt)
    assert "MINE" not in built_in
    assert re.search(r"MINE +1\b", mine) and re.search(r"MINE +2\b", mine)
