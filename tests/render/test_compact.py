"""A compact digest (DIGEST_DETAIL=compact, the default), read on real days: the top papers
first with their TL;DR, every other paper on one linked line, the text part within a
phone's few screens; a reader who asks gets every abstract."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email import message_from_bytes, policy
from html import unescape
from pathlib import Path

import pytest

from digest import formats
from digest.identity.decide import decide
from digest.models import Digest, Dump
from digest.render import Renderer, mail
from digest.render.tex import unicode
from digest.render.views import LEAD, LINES

ROOT = Path(__file__).resolve().parent.parent.parent
REAL = ROOT / "tests" / "fixtures" / "real"
DAYS = sorted(REAL.glob("*.json"))
CREATED = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


def day_digest(path: Path, detail: str = "compact") -> Digest:
    dump = formats.parse(path.read_bytes(), path.name)
    return Digest(dump.papers, dumps=(dump,), created=CREATED, detail=detail)


def seeds_digest() -> Digest:
    dumps = tuple(
        formats.parse(p.read_bytes(), p.name) for p in sorted((ROOT / "seeds").glob("*.txt"))
    )
    decision = decide([p for d in dumps for p in d.papers], {})
    return Digest(decision.new, decision.skipped, dumps=dumps, created=CREATED)


def composed(digest: Digest) -> mail.Composed:
    return mail.compose(Renderer(digest), mail.MailOptions(), "<1@example.org>")


def words(text: str) -> str:
    return " ".join(re.findall(r"\w+", unicode(text)))


def visible(html: str) -> str:
    """The words a reader sees: neither the head nor the preheader (a client's preview)."""
    html = re.sub(r"(?s)<head>.*?</head>|<div class=\"preheader\".*?</div>", "", html)
    return words(unescape(re.sub(r"<[^>]+>", " ", html)))


@pytest.mark.parametrize("path", DAYS, ids=[p.stem for p in DAYS])
def test_a_real_day_is_short_its_top_papers_first_every_other_on_one_line(path: Path) -> None:
    digest = day_digest(path)
    made = composed(digest)
    assert len(made.text.splitlines()) <= 150
    assert made.attachment is None  # every paper is in the mail
    shown = digest.papers
    top = sorted(shown, key=lambda p: -(p.upvotes or 0))[:LEAD]
    html, text = visible(made.html), words(re.sub(r"https?://\S+", " ", made.text))
    for paper in shown:
        # Every paper once, its title linked to its page, in both parts.
        assert html.count(words(paper.title)) == 1 and text.count(words(paper.title)) == 1
        href = paper.page_url or paper.arxiv_url
        assert f'href="{href}"' in made.html and href in made.text
        if paper not in top:  # no abstract in a compact mail, nor a TL;DR past the top
            first = words(paper.abstract)[:60]
            assert first not in html and first not in text
    for paper in top:  # the most upvoted, with their TL;DR and why they are there
        line = words(Renderer(digest).view.order[top.index(paper)]["tldr"])
        assert html.count(line) == 1 and text.count(line) == 1
        assert html.index(words(paper.title)) < min(
            html.index(words(p.title)) for p in shown if p not in top
        )
    assert "by upvotes" in made.text and "Top papers" in made.text


def test_a_reader_who_asks_gets_every_abstract_and_each_sentence_once() -> None:
    digest = day_digest(REAL / "2026-04-29.json", detail="full")
    made = composed(digest)
    html, text = visible(made.html), words(made.text)
    for paper in digest.papers:
        first = words(paper.abstract)[:60]
        assert html.count(first) == 1 and text.count(first) == 1


def test_the_seeds_at_once_link_every_title_they_list_and_attach_the_rest() -> None:
    digest = seeds_digest()
    made = composed(digest)
    assert made.layout.short == LEAD and made.layout.compact == LINES
    assert made.attachment and made.layout.omitted == digest.stats.new - LEAD - LINES
    assert len(made.text.splitlines()) <= 2 * 150
    # No title without a link: every row of the list is an anchor.
    assert '<p class="crow"' not in made.html
    assert made.html.count('class="crow"') == LINES
    # Each search is for the whole title, the same link in both parts.
    eml = message_from_bytes(made.eml, policy=policy.default)
    [attached] = [p for p in eml.walk() if p.get_content_disposition() == "attachment"]
    listed = words(attached.get_content())
    assert all(words(paper.title) in listed for paper in digest.papers)
    for view in Renderer(digest).view.order[: LEAD + LINES]:
        link = view["href"]
        assert link.startswith("https://arxiv.org/search/?searchtype=title&query=")
        assert link in made.text
        assert link.replace("&", "&amp;") in made.html


@pytest.mark.parametrize(("detail", "blocks"), [("compact", LEAD), ("full", 19)])
def test_code_and_project_links_are_the_same_in_both_parts_past_the_readers_cap(
    detail: str, blocks: int
) -> None:
    dump = formats.parse((REAL / "2026-04-29.json").read_bytes(), "2026-04-29.json")
    # A cap of one: every paper but the first is past it, shown by its TL;DR alone.
    digest = Digest(
        dump.papers[:1], more=dump.papers[1:], dumps=(dump,), created=CREATED, detail=detail
    )
    made = composed(digest)
    urls = [
        url
        for view in Renderer(digest).view.order[:blocks]
        for url in (view["code_url"], view["project_url"])
        if url
    ]
    assert len(urls) > 2
    for url in urls:
        assert url in made.text and f'href="{url}"' in made.html


def test_no_empty_stars() -> None:
    dump = formats.parse((REAL / "2026-04-29.json").read_bytes(), "2026-04-29.json")
    zero = [p for p in dump.papers if p.github_stars == 0]
    assert zero  # the day has code with no star yet
    digest = Digest(tuple(zero), dumps=(dump,), created=CREATED, detail="full")
    renderer = Renderer(digest)
    for fmt in ("html", "text", "markdown"):
        out = renderer.render(fmt)
        assert not re.search(r"(★|&#9733;)(&nbsp;|\s)*0\b", out), fmt


def test_the_lead_papers_follow_the_readers_ranking_when_there_is_one() -> None:
    dump = formats.parse((REAL / "2026-04-29.json").read_bytes(), "2026-04-29.json")
    papers = dump.papers
    scores = {p: float(i) for i, p in enumerate(papers)}  # the last listed, the most relevant
    digest = Digest(papers, dumps=(dump,), created=CREATED, scores=scores)
    order = [v["title"] for v in Renderer(digest).view.order[:LEAD]]
    assert order == [p.title for p in reversed(papers)][:LEAD]
    assert "1st of 19 by relevance" in composed(digest).text


def test_a_day_without_ranks_shows_its_first_papers_without_a_top_heading() -> None:
    dump = Dump("d.txt", "d" * 64, seeds_digest().papers[:8], "Mar 12")
    digest = Digest(dump.papers, dumps=(dump,), created=CREATED)
    made = composed(digest)
    assert "Top papers" not in made.text and "Top papers" not in made.html
    assert [v["title"] for v in Renderer(digest).view.order] == [p.title for p in dump.papers]


@pytest.mark.parametrize("form", ["html", "text"])
@pytest.mark.parametrize("detail", ["compact", "full"])
def test_the_stand_ins_a_mail_holds_are_counted_on_what_went_into_it(
    form: str, detail: str
) -> None:
    """A reader's token is put in for its stand-in only where every stand-in survived the
    mail's encoding: the count made from the message's parts as composed is the count read
    back from the message, whether it has the HTML, the text alone, or an attachment."""
    from digest.envelope import Marks
    from tests.mailserver import held

    marks = Marks.new()
    link = marks.unsubscribe("https://papers.example.org/unsubscribe/{token}")
    options = mail.MailOptions(unsubscribe=link, form=form)
    for digest in (day_digest(DAYS[0], detail), seeds_digest()):
        made = mail.compose(Renderer(digest), options, "<1@example.org>", budget=30_000)
        # The links in the footer and beside each paper, and List-Unsubscribe.
        assert made.holds(marks.token) == held(made.eml, marks.token) > 2
    assert made.attachment is not None  # the seeds' 268 papers do not fit in 30 kB
