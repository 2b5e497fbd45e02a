"""The digest as a mail: size budget plan (TL;DRs first, then abstracts), MIME structure and
headers."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from digest import config, formats
from digest.identity.decide import decide
from digest.letters import mail_options
from digest.models import Digest, Dump, Paper
from digest.patterns import terms
from digest.render import Renderer, mail
from digest.render.mail import Composed, Layout, plan
from digest.render.tex import unicode
from digest.render.views import attachment_name, mark

CREATED = datetime(2025, 3, 12, 7, 0, tzinfo=UTC)
ENV = {
    "DIGEST_FROM": "Zoë's Papers <papers@example.org>",
    "DIGEST_TO": '"Doe, Jane" <jane@example.org>, Björn <bjorn@example.org>',
    "DIGEST_DELIVER": "files",  # rendered here, not sent
}


def settings(**env: str) -> config.Settings:
    return config.load({}, {**ENV, **env})


def compose(digest: Digest, s: config.Settings, message_id: str) -> Composed:
    """The mail of a digest under these settings, as the pipeline makes it."""
    renderer = Renderer(digest, templates=s.templates, subject=s.subject)
    return mail.compose(renderer, mail_options(s, recipients=s.recipients), message_id)


def digest_of(
    papers: list[Paper] | tuple[Paper, ...], dumps: tuple[Dump, ...] = (), detail: str = "full"
) -> Digest:
    dumps = dumps or (Dump("001.txt", "0" * 64, tuple(papers), listing_date="Mar 12"),)
    return Digest(tuple(papers), dumps=dumps, created=CREATED, detail=detail)


def seeds_digest(seeds: list[Path], detail: str = "full") -> Digest:
    """The five seeds delivered at once: every distinct paper is new."""
    dumps = tuple(formats.parse(p.read_bytes(), p.name) for p in seeds)
    decision = decide([p for d in dumps for p in d.papers], {})
    return Digest(decision.new, decision.skipped, dumps=dumps, created=CREATED, detail=detail)


def parsed(eml: bytes) -> EmailMessage:
    msg = message_from_bytes(eml, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def part(msg: EmailMessage, subtype: str) -> str:
    found = msg.get_body(preferencelist=(subtype,))
    assert found is not None and found.get_content_subtype() == subtype
    content: str = found.get_content()
    return content


def visible_text(markup: str) -> str:
    body = markup.split("<body", 1)[1]
    body = re.sub(r'<div class="preheader".*?</div>', " ", body, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


# -- the plan -----------------------------------------------------------------------------


def cost_model(budget: int, full: int = 1000, short: int = 300, title: int = 100):
    def fits(layout: Layout) -> bool:
        size = 500 + layout.full * full + layout.short * short + layout.compact * title
        return size <= budget

    return fits


@pytest.mark.parametrize(
    ("total", "budget", "expected"),
    [
        (0, 20_000, Layout(0, 0)),
        (5, 20_000, Layout(5, 5)),
        (19, 20_000, Layout(19, 19)),
        # Every TL;DR fits: the first (most relevant) papers get their abstract as room allows.
        (30, 20_000, Layout(30, 15, 15, 0)),
        # Not every TL;DR fits: as many as fit, then titles; no abstract at all.
        (100, 20_000, Layout(100, 0, 47, 53)),
        # Not even every title fits: as many titles as fit, the rest attached.
        (1000, 20_000, Layout(1000, 0, 0, 195)),
        # Nothing fits beyond the frame.
        (10, 400, Layout(10, 0, 0, 0)),
    ],
)
def test_plan(total: int, budget: int, expected: Layout) -> None:
    assert plan(total, cost_model(budget)) == expected


def test_plan_keeps_every_paper_accounted_for() -> None:
    for total in (1, 7, 50, 333):
        for budget in (600, 5_000, 40_000):
            layout = plan(total, cost_model(budget))
            assert layout.full + layout.short + layout.compact + layout.omitted == total
            assert layout.omitted >= 0
            assert cost_model(budget)(layout) or layout == Layout(total, 0)


def test_a_huge_abstract_leaves_its_paper_to_its_tldr_rather_than_breaking_the_budget() -> None:
    assert plan(2, cost_model(20_000, full=50_000)) == Layout(2, 0, 2, 0)


def test_the_papers_past_the_readers_cap_get_their_tldr_and_never_an_abstract() -> None:
    assert plan(10, cost_model(20_000), abstracts=4) == Layout(10, 4, 6, 0, 4)
    assert plan(40, cost_model(20_000), abstracts=4) == Layout(40, 4, 36, 0, 4)
    assert plan(40, cost_model(20_000), abstracts=4).complete
    assert plan(60, cost_model(20_000), abstracts=30) == Layout(60, 2, 58, 0, 30)


# -- the message ----------------------------------------------------------------------------


def test_a_small_digest_is_text_and_html_alternatives_with_every_header() -> None:
    papers = [Paper("Mix-LN: Deeper Layers", "Large models. " * 10), Paper("Ünïcode tïtle", "x")]
    composed = compose(digest_of(papers), settings(), "<1.digest@example.org>")
    msg = parsed(composed.eml)
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert composed.attachment is None and composed.layout.complete
    assert msg["Subject"] == "Daily papers: 2 new (Wed 12 Mar 2025)"
    assert msg["From"].addresses[0].display_name == "Zoë's Papers"
    assert [a.addr_spec for a in msg["To"].addresses] == ["jane@example.org", "bjorn@example.org"]
    assert msg["To"].addresses[0].display_name == "Doe, Jane"
    assert msg["Date"].datetime == CREATED
    assert msg["Message-ID"] == "<1.digest@example.org>"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["List-Id"] == "Daily papers digest <daily-papers.example.org>"
    assert "List-Unsubscribe" not in msg
    for sub in ("plain", "html"):
        body = msg.get_body(preferencelist=(sub,))
        assert body is not None
        assert body["Content-Transfer-Encoding"] == "quoted-printable"
        assert body.get_content_charset() == "utf-8"
    assert "Ünïcode tïtle" in part(msg, "plain") and "Ünïcode tïtle" in part(msg, "html")


def test_raw_bytes_are_ascii_crlf_and_short_lines() -> None:
    papers = [Paper("Ünïcode " * 30, "ü" * 3000 + " " + "https://x.org/" + "a" * 200)]
    many = ", ".join(
        f"Réader Number {i} With A Long Name <reader{i}@example.org>" for i in range(9)
    )
    s = settings(DIGEST_TO=many, DIGEST_SUBJECT="Neue Artikel für heute – {count} ({date}) " * 3)
    eml = compose(digest_of(papers), s, "<1@example.org>").eml
    assert eml.isascii()  # non-ASCII only as RFC 2047 words and quoted-printable
    assert b"\n" not in eml.replace(b"\r\n", b"")
    assert max(len(line) for line in eml.split(b"\r\n")) <= 76
    assert b"Subject: Neue Artikel =?utf-8?q?f=C3=BCr" in eml
    assert b"=?utf-8?" in eml.split(b"\r\n\r\n")[0]  # the From display name
    msg = parsed(eml)
    assert len(msg["To"].addresses) == 9
    assert msg["To"].addresses[8].display_name == "Réader Number 8 With A Long Name"
    assert msg["Subject"].startswith("Neue Artikel für heute – 1 (Wed 12 Mar 2025) Neue")


def test_subject_template_and_list_headers() -> None:
    s = settings(
        DIGEST_SUBJECT="📚 {count} papers for {date}",
        DIGEST_UNSUBSCRIBE="https://example.org/unsubscribe?u=1",
        DIGEST_LIST_ID="papers.example.org",
    )
    msg = parsed(compose(digest_of([Paper("T", "A")]), s, "<1@example.org>").eml)
    assert msg["Subject"] == "📚 1 papers for Wed 12 Mar 2025"
    assert msg["List-Id"] == "Daily papers digest <papers.example.org>"
    assert msg["List-Unsubscribe"] == "<https://example.org/unsubscribe?u=1>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert 'href="https://example.org/unsubscribe?u=1"' in part(msg, "html")
    assert "Unsubscribe: https://example.org/unsubscribe?u=1" in part(msg, "plain")


def test_a_mailto_unsubscribe_has_no_one_click_header() -> None:
    s = settings(DIGEST_UNSUBSCRIBE="mailto:papers-off@example.org")
    msg = parsed(compose(digest_of([Paper("T", "A")]), s, "<1@example.org>").eml)
    assert msg["List-Unsubscribe"] == "<mailto:papers-off@example.org>"
    assert "List-Unsubscribe-Post" not in msg
    assert "Preferences" not in part(msg, "html") + part(msg, "plain")  # no page to link


@pytest.mark.parametrize(
    ("unsubscribe", "prefs"),
    [
        (
            "https://papers.example.org/unsubscribe/{token}",
            "https://papers.example.org/preferences/{token}",
        ),
        ("https://example.org/digest/unsubscribe/{token}", None),  # not digest web's page
        ("https://example.org/unsubscribe?u=1", None),
        ("mailto:off@example.org?subject=unsubscribe/{token}", None),
    ],
)
def test_the_mail_links_to_the_readers_own_pages_where_digest_web_serves_them(
    unsubscribe: str, prefs: str | None
) -> None:
    from digest.render.mail import reader_page

    assert reader_page(unsubscribe, "preferences") == prefs
    like = prefs.replace("/preferences/", "/like/") if prefs else None
    assert reader_page(unsubscribe, "like") == like
    s = settings(DIGEST_UNSUBSCRIBE=unsubscribe)
    papers = [Paper("T", "A", arxiv_id="2503.12345"), Paper("U", "B")]
    msg = parsed(compose(digest_of(papers), s, "<1@example.org>").eml)
    html, text = part(msg, "html"), part(msg, "plain")
    if prefs:
        assert f'href="{prefs}">Preferences</a>' in html and f"Preferences: {prefs}" in text
        # Each paper with an arXiv id: more or less like it, on the reader's own page.
        assert f'href="{like}?paper=2503.12345&amp;value=-1">Less like this</a>' in html
        assert f"More like this: {like}?paper=2503.12345&value=1" in text
        assert html.count("like this</a>") == 2  # the paper without an id has none
    else:
        assert "Preferences" not in html + text and "like this" not in html + text


def test_listing_text_cannot_reach_the_headers_or_the_markup() -> None:
    evil = Paper('<script>alert(1)</script> "q" & <b>', "<img src=x onerror=alert(1)>")
    dump = Dump("x.txt", "0" * 64, (evil,), listing_date="Mar 12\r\nBcc: victim@example.org")
    composed = compose(digest_of([evil], (dump,)), settings(), "<1@example.org>")
    msg = parsed(composed.eml)
    assert "Bcc" not in msg
    assert msg["Subject"] == "Daily papers: 1 new (Mar 12 Bcc: victim@example.org)"
    assert "<script>" not in composed.html and "<img" not in composed.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in composed.html


def test_html_is_inlined_email_markup_with_dark_mode_and_narrow_rules() -> None:
    composed = compose(digest_of([Paper("A title", "An abstract.")]), settings(), "<1@x.org>")
    markup = composed.html
    assert '<h2 class="ptitle">' in markup  # styled by class: the markup is not repeated styles
    assert 'class="card" width="100%"' in markup and "max-width:600px" in markup  # inline
    assert "@media (prefers-color-scheme:dark)" in markup
    assert "[data-ogsc] .ptitle" in markup and "[data-ogsb] .card" in markup  # Outlook's dark
    assert "@media screen and (max-width:480px)" in markup
    assert 'name="color-scheme" content="light dark"' in markup
    assert 'role="presentation"' in markup
    assert '<div class="preheader"' in markup and "A title" in markup.split("</div>")[0]
    assert "{{" not in markup and "{%" not in markup


def test_text_part_is_its_own_rendering_within_72_columns() -> None:
    papers = [
        Paper(
            f"A rather long title number {i} " * 3,
            "Words of an abstract. " * 30,
            arxiv_id=f"2503.0{i:04d}",
        )
        for i in range(1, 4)
    ]
    text = compose(digest_of(papers), settings(), "<1@x.org>").text
    assert "<" not in text  # not converted HTML
    assert all(len(line) <= 72 for line in text.splitlines())
    assert "  1. A rather long title number 1" in text
    assert "     arXiv:   https://arxiv.org/abs/2503.00003" in text


# -- the size budget: the five seeds at once --------------------------------------------------


def test_five_seeds_at_once_stay_under_the_clipping_size_and_keep_every_paper(
    seeds: list[Path],
) -> None:
    digest = seeds_digest(seeds)
    assert len(digest.papers) == 268
    composed = compose(digest, settings(), "<1@example.org>")
    msg = parsed(composed.eml)

    assert mail.encoded_size(composed.html) <= mail.HTML_BUDGET
    html_part = msg.get_body(preferencelist=("html",))
    assert html_part is not None
    assert len(html_part.get_payload().encode()) <= mail.HTML_BUDGET  # as sent, encoded

    layout = composed.layout
    assert layout.omitted == 0  # every title is in the mail
    shown = visible_text(part(msg, "html"))
    text = " ".join(part(msg, "plain").split())
    for paper in digest.papers:
        title = " ".join(unicode(paper.title).split())
        assert title in shown and title in text

    [attachment] = list(msg.iter_attachments())
    assert attachment.get_content_type() == "text/markdown"
    assert attachment.get_filename() == composed.attachment == "daily-papers-mar-11-to-jul-29.md"
    full = attachment.get_content().replace("\r\n", "\n")
    assert full == composed.markdown
    for paper in digest.papers:  # every abstract, complete, in the attachment
        assert mark(paper.abstract, (), "markdown") in full


def test_a_reader_who_asked_for_text_gets_the_mails_text_its_unsubscribe_and_attachment(
    seeds: list[Path],
) -> None:
    """The text form is the HTML mail without its HTML: the same text part (sized as the
    mail is, the unsubscribe link in it) and the same attachment of what does not fit."""
    s = settings(DIGEST_UNSUBSCRIBE="https://papers.example.org/u/1234")
    renderer = Renderer(seeds_digest(seeds), templates=s.templates, subject=s.subject)
    options = mail_options(s, recipients=s.recipients, form="text")
    composed = mail.compose(renderer, options, "<1@example.org>")
    msg = parsed(composed.eml)
    kinds = [p.get_content_type() for p in msg.walk()]
    assert kinds == ["multipart/mixed", "text/plain", "text/markdown"]
    assert part(msg, "plain").replace("\r\n", "\n") == composed.text
    assert "Unsubscribe: https://papers.example.org/u/1234" in composed.text
    [attachment] = list(msg.iter_attachments())
    assert attachment.get_content().replace("\r\n", "\n") == composed.markdown
    assert msg["List-Unsubscribe"] == "<https://papers.example.org/u/1234>"


@pytest.mark.slow
def test_any_number_of_papers_stays_under_budget_and_is_all_in_the_attachment() -> None:
    papers = [
        Paper(f"Synthetic paper {i} on " + "long words " * 8, "Abstract. " * 150)
        for i in range(1500)
    ]
    composed = compose(digest_of(papers), settings(), "<1@example.org>")
    assert mail.encoded_size(composed.html) <= mail.HTML_BUDGET
    layout = composed.layout
    assert layout.omitted > 0 and composed.attachment
    assert f"And {layout.omitted} more new papers" in composed.html
    assert f"And {layout.omitted} more new papers" in composed.text
    assert len(re.findall(r"^## \d+\. Synthetic paper", composed.markdown, re.M)) == 1500


def test_richer_fields_highlights_and_the_readers_cap_in_the_mail() -> None:
    rich = Paper(
        "NoProp: learning by diffusion",
        "We introduce a method inspired by diffusion.",
        page_url="https://huggingface.co/papers/2503.24322",
        arxiv_id="2503.24322",
        authors=("Qinyu Li", "Yee Whye Teh"),
        upvotes=57,
        code_url="https://github.com/example/noprop",
    )
    capped = Paper("A Plain Text Listing", "Its abstract, and nothing more.")
    dump = Dump("d.json", "0" * 64, (rich, capped), listing_date="Apr 1", format="json")
    digest = Digest(
        (rich,),
        more=(capped,),
        dumps=(dump,),
        created=CREATED,
        highlight=terms("diffusion", "DIGEST_HIGHLIGHT"),
        highlights={rich: ("diffusion",)},
    )
    composed = compose(digest, settings(), "<1@example.org>")
    assert composed.attachment is None  # past the cap is the reader's choice: nothing cut
    html, text = composed.html, composed.text
    assert "Q. Li, Y. W. Teh" in html and "Q. Li, Y. W. Teh" in text
    assert '<b class="hl" style="border-bottom:2px solid">diffusion</b>' in html
    assert "*diffusion*" in text
    assert 'href="https://huggingface.co/papers/2503.24322"' in html
    assert 'href="https://github.com/example/noprop"' in html
    assert "arXiv 2503.24322 · ▲ 57 upvotes" in text and "57" in visible_text(html)
    # Past the reader's cap: its TL;DR (here its one-sentence abstract), never more.
    assert "  2. A Plain Text Listing" in text and 'id="p2"' in html
    assert "TL;DR: Its abstract, and nothing more." in text
    # Its title links to an arXiv search for the whole title, the text part's link.
    search = "https://arxiv.org/search/?searchtype=title&query=A+Plain+Text+Listing"
    assert (
        f'href="{search.replace("&", "&amp;")}"' in html and f"Search arXiv:\n     {search}" in text
    )


# -- sizing from fragments: what it costs, and that it chooses as rendering every layout would --


def exact_layout(
    digest: Digest, budget: int = mail.HTML_BUDGET, templates: Path | None = None
) -> Layout:
    """The layout `plan` chooses when every layout it tries is rendered and measured."""
    renderer = Renderer(digest, templates=templates)
    page = mail.MailPage(renderer, None, attachment_name(digest))
    bare = sum(len(p.title.encode()) + len(p.abstract.encode()) for p in digest.papers)

    def fits(layout: Layout) -> bool:
        return not (layout.complete and bare > budget) and page.html(layout)[1] <= budget

    return plan(len(page.views), fits, len(digest.papers))


def test_the_five_seeds_take_at_most_three_renders_and_the_layout_of_exact_sizing(
    seeds: list[Path],
) -> None:
    digest = seeds_digest(seeds)
    renderer = Renderer(digest)
    composed = mail.compose(renderer, mail.MailOptions(), "<1@example.org>")
    assert not composed.layout.complete
    assert composed.html_renders <= 3 and renderer.renders["html"] == composed.html_renders
    assert renderer.renders["text"] == 1 and renderer.renders["markdown"] == 1
    assert composed.layout == exact_layout(digest)


@pytest.mark.slow
@pytest.mark.parametrize("count", [1, 40, 1500])
def test_any_size_takes_at_most_three_renders_and_the_layout_of_exact_sizing(count: int) -> None:
    papers = [
        Paper(f"Synthetic paper {i} on " + "long words " * 8, "Abstract. " * (5 + i % 200))
        for i in range(count)
    ]
    digest = digest_of(papers)
    renderer = Renderer(digest)
    composed = mail.compose(renderer, mail.MailOptions(), "<1@example.org>")
    assert composed.html_renders <= 3 and renderer.renders["html"] == composed.html_renders
    assert mail.encoded_size(composed.html) <= mail.HTML_BUDGET
    assert composed.layout == exact_layout(digest)


def test_a_digest_that_fits_is_rendered_once_and_that_render_is_the_html_file() -> None:
    digest = digest_of([Paper("A title", "An abstract.")])
    renderer = Renderer(digest)
    composed = mail.compose(renderer, mail.MailOptions(), "<1@example.org>")
    assert composed.layout.complete and composed.html_renders == 1
    assert renderer.render("html") and renderer.renders["html"] == 1  # made once, kept


def test_a_template_that_draws_papers_its_own_way_still_keeps_to_the_budget(
    tmp_path: Path, seeds: list[Path]
) -> None:
    """Sizes from fragments are a prediction: a user's page that does not use them is
    planned by rendering, and stays within the budget all the same."""
    builtin = Path(__file__).resolve().parent.parent.parent / "templates" / "digest.html.j2"
    own = builtin.read_text().replace("{{ paper_block(entry) }}", "{{ paper_block(entry) }}" * 2)
    (tmp_path / "digest.html.j2").write_text(own)
    digest = seeds_digest(seeds)
    renderer = Renderer(digest, templates=tmp_path)
    composed = mail.compose(renderer, mail.MailOptions(), "<1@example.org>")
    assert mail.encoded_size(composed.html) <= mail.HTML_BUDGET
    assert composed.layout == exact_layout(digest, templates=tmp_path)
