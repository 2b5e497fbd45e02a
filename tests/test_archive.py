"""The archive: a static site of the digests delivered, built as real runs deliver them and
from the outbox whole, and its Atom feed read back by feedparser and checked against the
RELAX NG schema of RFC 4287."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import feedparser
import pytest
from bs4 import BeautifulSoup
from lxml import etree

from digest import archive, channels, config, pipeline
from digest.models import Outgoing
from tests.conftest import ROOT
from tests.processes import clean_env, digest_now

REAL = ROOT / "tests" / "fixtures" / "real"
SCHEMA = etree.RelaxNG(file=str(ROOT / "tests" / "fixtures" / "atom" / "atom.rng"))
ATOM = "{http://www.w3.org/2005/Atom}"


def deliver(inbox: Path, state: Path, site: Path, *days: str, **settings: str) -> None:
    """Drop these real days into the inbox and run `digest now` with the archive set."""
    for day in days:
        shutil.copy(REAL / f"{day}.json", inbox)
    env = clean_env(DIGEST_ARCHIVE=str(site), DIGEST_OUT=str(state.parent / "out"), **settings)
    done = subprocess.run(
        digest_now(inbox, state), env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr


def archive_cmd(state: Path, site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "digest",
            "archive",
            "--state",
            str(state),
            "--archive",
            str(site),
            *args,
        ],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def valid_atom(data: bytes) -> etree._Element:
    """The feed's root, once the RFC 4287 schema accepts it (and its one rule we check by
    hand: a feed without an author needs one on every entry)."""
    root = etree.fromstring(data)
    assert SCHEMA.validate(root), SCHEMA.error_log
    if root.find(f"{ATOM}author") is None:
        assert all(e.find(f"{ATOM}author") is not None for e in root.iter(f"{ATOM}entry"))
    return root


def words(text: str) -> str:
    """The text's words, one space apart, none before a comma or a stop (an emphasised word
    is a tag of its own in the page's text)."""
    return re.sub(r" ([,.;:])", r"\1", " ".join(text.split()))


def abstracts(*days: str) -> list[str]:
    """Every abstract of these real days, as the digest shows them (TeX as Unicode)."""
    from digest.formats import parse
    from digest.render.tex import unicode

    return [
        words(unicode(p.abstract))
        for day in days
        for p in parse((REAL / f"{day}.json").read_bytes(), f"{day}.json").papers
        if p.abstract
    ]


@pytest.fixture
def site(tmp_path: Path) -> Path:
    return tmp_path / "site"


@pytest.fixture
def built(inbox: Path, tmp_path: Path, site: Path) -> Path:
    """Two real deliveries with the archive set: two days at once, then a third."""
    state = tmp_path / "state.sqlite3"
    deliver(inbox, state, site, "2025-03-18", "2025-03-19")
    deliver(inbox, state, site, "2025-07-22")
    return state


@pytest.mark.slow
def test_each_delivered_digest_is_a_page_named_by_listing_day_and_number(
    built: Path, site: Path
) -> None:
    assert sorted(p.name for p in site.iterdir()) == [
        "2025-03-19-0001.html",  # the newest listing day of the two it covers
        "2025-07-22-0002.html",
        "digests.json",
        "feed.xml",
        "index.html",
    ]
    for path in site.iterdir():  # a site any web server may read, written whole
        assert path.stat().st_mode & 0o777 == 0o644


@pytest.mark.slow
def test_a_page_is_the_whole_digest_every_abstract_included(built: Path, site: Path) -> None:
    page = BeautifulSoup((site / "2025-03-19-0001.html").read_text(), "html.parser")
    text = words(page.get_text(" "))
    expected = abstracts("2025-03-18", "2025-03-19")
    assert len(expected) == 35
    assert [a for a in expected if a not in text] == []
    # Previous and next in the index's order: the first page has no previous.
    nav = [a["href"] for a in page.find("nav").find_all("a")]
    assert nav == ["index.html", "feed.xml", "2025-07-22-0002.html"]
    last = BeautifulSoup((site / "2025-07-22-0002.html").read_text(), "html.parser")
    nav = [a["href"] for a in last.find("nav").find_all("a")]
    assert nav == ["2025-03-19-0001.html", "index.html", "feed.xml"]


@pytest.mark.slow
def test_the_page_holds_every_abstract_the_mail_had_no_room_for(
    inbox: Path, tmp_path: Path, seeds: list[Path], site: Path
) -> None:
    from email import message_from_bytes, policy

    for path in seeds:
        shutil.copy(path, inbox)
    state = tmp_path / "state.sqlite3"
    env = clean_env(DIGEST_ARCHIVE=str(site), DIGEST_OUT=str(tmp_path / "out"))
    subprocess.run(digest_now(inbox, state), env=env, check=True, capture_output=True, timeout=120)
    [page] = site.glob("*-0001.html")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d-0001\.html", page.name)  # text dumps: the day made
    [eml] = (tmp_path / "out").glob("*.eml")
    mail = message_from_bytes(eml.read_bytes(), policy=policy.default)
    mailed = words(BeautifulSoup(mail.get_body(("html",)).get_content(), "html.parser").text)
    shown = words(BeautifulSoup(page.read_text(), "html.parser").text)
    from digest.formats import parse
    from digest.render.tex import unicode

    every = [
        words(unicode(p.abstract)) for s in seeds for p in parse(s.read_bytes(), s.name).papers
    ]
    every = [a for a in every if a]
    assert sum(a in mailed for a in every) < len(every) / 10  # the mail keeps to its budget
    assert [a for a in every if a not in shown] == []


@pytest.mark.slow
def test_the_index_links_every_page_relatively_newest_listing_day_first(
    built: Path, site: Path
) -> None:
    index = BeautifulSoup((site / "index.html").read_text(), "html.parser")
    links = [a["href"] for a in index.find_all("a")]
    assert links == ["feed.xml", "2025-07-22-0002.html", "2025-03-19-0001.html"]
    assert all(not urlsplit(href).scheme and (site / href).is_file() for href in links)
    assert [h.text for h in index.find_all("h2")] == ["Tue 22 Jul 2025", "Wed 19 Mar 2025"]
    feed_link = index.find("link", rel="alternate")
    assert (feed_link["type"], feed_link["href"]) == ("application/atom+xml", "feed.xml")
    listed = json.loads((site / "digests.json").read_text())["digests"]
    assert [d["page"] for d in listed] == links[1:]


@pytest.mark.slow
def test_the_feed_is_valid_atom_with_one_entry_a_digest(built: Path, site: Path) -> None:
    data = (site / "feed.xml").read_bytes()
    valid_atom(data)
    parsed = feedparser.parse(
        data,
        response_headers={
            "content-location": site.as_uri() + "/",
            "content-type": "application/atom+xml",
        },
    )
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    assert [e.title for e in parsed.entries] == [
        "Daily papers: 16 new (Tue 22 Jul 2025)",
        "Daily papers: 35 new (Tue 18 \N{EN DASH} Wed 19 Mar 2025)",
    ]
    assert [urlsplit(e.link).path.rsplit("/", 1)[-1] for e in parsed.entries] == [
        "2025-07-22-0002.html",
        "2025-03-19-0001.html",
    ]
    assert len({e.id for e in parsed.entries}) == 2
    assert all(e.id.startswith("mid:") for e in parsed.entries)
    content = parsed.entries[0].content[0].value
    assert "MiroMind-M1" in content and "16 new papers" in content


@pytest.mark.slow
def test_the_feed_can_have_one_entry_a_paper_linking_its_page(built: Path, site: Path) -> None:
    other = site.parent / "papers-site"
    done = archive_cmd(
        built, other, "--feed-entries", "paper", "--archive-url", "https://example.org/papers"
    )
    assert done.returncode == 0, done.stderr
    assert "2 digests in" in done.stdout
    data = (other / "feed.xml").read_bytes()
    root = valid_atom(data)
    parsed = feedparser.parse(data)
    assert not parsed.bozo
    assert len(parsed.entries) == 51 == len({e.id for e in parsed.entries})
    assert root.find(f"{ATOM}id").text == "https://example.org/papers/feed.xml"
    first = parsed.entries[0]
    assert first.link == "https://huggingface.co/papers/2507.14683"
    assert first.id == "https://arxiv.org/abs/2507.14683"
    # One author element for the list: a feed reader would show the last of several alone.
    assert len(first.authors) == 1 and first.authors[0].name.startswith("Xingxuan Li, Yao Xiao")
    assert "https://example.org/papers/2025-07-22-0002.html" in first.content[0].value


@pytest.mark.slow
def test_built_from_the_outbox_the_archive_is_the_one_deliveries_made(
    built: Path, site: Path
) -> None:
    again = site.parent / "again"
    done = archive_cmd(built, again)
    assert done.returncode == 0, done.stderr
    names = sorted(p.name for p in site.iterdir())
    assert sorted(p.name for p in again.iterdir()) == names
    for name in names:
        if name != "feed.xml":  # the feed's id names its folder
            assert (again / name).read_bytes() == (site / name).read_bytes(), name


@pytest.mark.slow
def test_a_lost_index_is_built_again_from_the_state(built: Path, inbox: Path, site: Path) -> None:
    (site / "digests.json").write_text("{ not json")
    (site / "2025-03-19-0001.html").unlink()
    deliver(inbox, built, site, "2025-12-10")
    listed = json.loads((site / "digests.json").read_text())["digests"]
    assert [d["id"] for d in listed] == [3, 2, 1]
    assert (site / "2025-03-19-0001.html").is_file()
    assert not [p for p in site.iterdir() if p.name.startswith(".")]  # no temporary left


@pytest.mark.parametrize(
    ("setting", "value", "says"),
    [
        ("DIGEST_FEED_ENTRIES", "papers", "DIGEST_FEED_ENTRIES='papers' is not one of"),
        ("DIGEST_ARCHIVE_URL", "example.org/papers", "DIGEST_ARCHIVE_URL='example.org/papers'"),
    ],
)
def test_a_bad_setting_is_one_line_naming_it(
    tmp_path: Path, setting: str, value: str, says: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "digest", "archive", "--archive", str(tmp_path / "s")],
        env=clean_env(**{setting: value}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert says in done.stderr and len(done.stderr.splitlines()) == 1


def test_archive_without_a_folder_says_which_setting(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "digest", "archive"],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert (
        done.stderr == "digest: no archive folder given; set DIGEST_ARCHIVE or pass --archive DIR\n"
    )


@pytest.mark.parametrize(
    ("command", "inside"),
    [("archive", "DIGEST_STATE"), ("now", "DIGEST_STATE"), ("now", "DIGEST_OUT")],
)
def test_an_archive_folder_holding_what_is_private_is_refused_before_anything_is_written(
    tmp_path: Path, inbox: Path, command: str, inside: str
) -> None:
    """Every file of the archive folder may be published: the state there (its secret makes
    every reader's token) or the digests written for readers is one line, and nothing is
    delivered, stored or built."""
    site = tmp_path / "site"
    shutil.copy(REAL / "2025-03-19.json", inbox)
    settings = {
        "DIGEST_INBOX": str(inbox),
        "DIGEST_ARCHIVE": str(site),
        "DIGEST_STATE": str(tmp_path / "state.sqlite3"),
        "DIGEST_OUT": str(tmp_path / "out"),
        inside: str(site / ("state.sqlite3" if inside == "DIGEST_STATE" else "")),
    }
    done = subprocess.run(
        [sys.executable, "-m", "digest", command],
        env=clean_env(**settings),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"digest: {inside}={settings[inside]} lies in the archive folder DIGEST_ARCHIVE={site},"
        " whose files are published; give the archive a folder of its own, or move"
        f" {inside} out of it"
    ]
    assert not site.exists() and not (tmp_path / "out").exists()
    assert not (tmp_path / "state.sqlite3").exists()


def test_an_archive_inside_the_digests_folder_beside_the_state_is_built(
    tmp_path: Path, inbox: Path
) -> None:
    """Only what lies in the archive folder counts: a folder around it is no harm."""
    site = tmp_path / "out" / "site"
    deliver(inbox, tmp_path / "state.sqlite3", site, "2025-03-19")
    assert archive.published("2025-03-19-0001.html")
    assert sorted(p.name for p in site.iterdir()) == [
        "2025-03-19-0001.html",
        "digests.json",
        "feed.xml",
        "index.html",
    ]
    assert all(archive.published(p.name) for p in site.iterdir())  # all it writes, it serves


def outgoing(
    json_part: str, html: str = "<html><body class='x'><p>hi</p></body></html>"
) -> Outgoing:
    return Outgoing(
        id=7,
        created=datetime(2026, 1, 2, 3, 4, tzinfo=UTC),
        status="sent",
        message_id="<a.b@example.org>",
        subject="Daily papers",
        paper_count=1,
        parts={"html": html, "json": json_part},
    )


@pytest.mark.parametrize(
    ("json_part", "name"),
    [
        ('{"papers": [{"listed": "2025-03-18"}, {"listed": "2025-03-19"}]}', "2025-03-19-0007"),
        ('{"papers": [], "more": [{"listed": "2025-04-01"}]}', "2025-04-01-0007"),
        ('{"papers": [{"listed": null}], "dumps": [{"listed": null}]}', "2026-01-02-0007"),
        ("not json", "2026-01-02-0007"),
        ('{"papers": [{"listed": "../../etc"}]}', "2026-01-02-0007"),
    ],
)
def test_a_page_is_named_by_its_newest_listing_day(json_part: str, name: str) -> None:
    assert archive.page_name(outgoing(json_part)) == name + ".html"


def test_the_links_go_right_after_the_body_tag_or_first() -> None:
    page = archive.page(outgoing("{}"))
    assert page.startswith("<html><body class='x'><nav")
    assert page.endswith("</nav><p>hi</p></body></html>")
    assert archive.page(outgoing("{}", html="<p>bare</p>")).endswith("</nav><p>bare</p>")


@pytest.mark.slow
def test_the_archive_is_the_same_on_every_state_backend(
    store: object, inbox: Path, tmp_path: Path
) -> None:
    for day in ("2025-03-18", "2025-03-19"):
        shutil.copy(REAL / f"{day}.json", inbox)
    site = tmp_path / "site"
    settings = config.load(
        {"inbox": inbox, "archive": site, "out": tmp_path / "out"}, {}, delivering=True
    )
    deliverer = channels.deliverer(settings, dry_run=False)
    report = pipeline.run_once(settings, store, deliverer, datetime.now(UTC))  # type: ignore[arg-type]
    assert report.ok and "archived as" in report.delivered[0]
    assert sorted(p.name for p in site.glob("*.html")) == ["2025-03-19-0001.html", "index.html"]
    again = archive.Archive(tmp_path / "again")
    assert again.build(store) == 1  # type: ignore[arg-type]
    page = "2025-03-19-0001.html"
    assert (again.folder / page).read_bytes() == (site / page).read_bytes()
    assert (again.folder / "index.html").read_bytes() == (site / "index.html").read_bytes()


def test_a_page_never_carries_a_readers_unsubscribe_token(
    inbox: Path, tmp_path: Path, site: Path
) -> None:
    unsubscribe = "https://example.org/u/{token}?list=papers&amp=1"
    deliver(inbox, tmp_path / "state.sqlite3", site, "2025-03-18", DIGEST_UNSUBSCRIBE=unsubscribe)
    from email import message_from_bytes, policy

    [eml] = (tmp_path / "out").glob("*.eml")
    mail = message_from_bytes(eml.read_bytes(), policy=policy.default)
    mailed = mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert re.search(r"https://example\.org/u/[0-9a-f]{32}\?list=papers", mailed)
    page = (site / "2025-03-18-0001.html").read_text()
    assert "example.org/u/" not in page
    assert 'href="index.html"' in page and 'href="feed.xml"' in page  # its own nav links


def test_a_feed_entrys_title_reads_its_tex_as_unicode(inbox: Path, tmp_path: Path) -> None:
    (inbox / "day.txt").write_text(
        "Daily Papers\n\nThe $\\mu$-law of Poincar\\'e {\\em Disks}\n\nWe propose a disk.\n"
    )
    state, site = tmp_path / "state.sqlite3", tmp_path / "site"
    env = clean_env(DIGEST_ARCHIVE=str(site), DIGEST_OUT=str(tmp_path / "out"))
    done = subprocess.run(digest_now(inbox, state), env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    done = archive_cmd(state, tmp_path / "papers", "--feed-entries", "paper")
    assert done.returncode == 0, done.stderr
    parsed = feedparser.parse((tmp_path / "papers" / "feed.xml").read_bytes())
    assert [e.title for e in parsed.entries] == ["The μ-law of Poincaré Disks"]


@pytest.mark.slow
def test_the_index_names_each_days_top_papers_and_says_its_day_once(
    built: Path, site: Path
) -> None:
    index = BeautifulSoup((site / "index.html").read_text(), "html.parser")
    text = words(index.get_text(" "))
    assert text.count("22 Jul 2025") == 1 and text.count("19 Mar 2025") == 1
    # The most upvoted of 2025-07-22, named.
    assert "Top: MiroMind-M1: An Open-Source Advancement in Mathematical Reasoning" in text
    assert [a.text for a in index.find_all("a")][1:] == ["16 new papers", "35 new papers"]


@pytest.mark.slow
def test_no_reader_ever_reads_the_word_dump(built: Path, site: Path) -> None:
    parsed = feedparser.parse((site / "feed.xml").read_bytes())
    shown = {
        f"feed entry {n}": " ".join([e.title, e.get("summary", "")] + [c.value for c in e.content])
        for n, e in enumerate(parsed.entries)
    }
    shown.update({p.name: p.read_text() for p in site.glob("*.html")})
    for name, markup in shown.items():
        text = BeautifulSoup(markup, "html.parser").get_text(" ")
        assert not re.search(r"(?i)\bdumps?\b", text), name


def test_a_page_never_carries_a_readers_preferences_link(
    inbox: Path, tmp_path: Path, site: Path
) -> None:
    # With the abstracts asked for, the day fits the mail whole: the page is the mail's HTML,
    # whose footer links to the reader's preferences and unsubscribe pages by their token.
    unsubscribe = "https://papers.example.org/unsubscribe/{token}"
    deliver(
        inbox,
        tmp_path / "state.sqlite3",
        site,
        "2025-03-18",
        DIGEST_UNSUBSCRIBE=unsubscribe,
        DIGEST_DETAIL="full",
    )
    [mailed] = (tmp_path / "out").glob("*.html")
    assert re.search(r"https://papers\.example\.org/preferences/[0-9a-f]{32}", mailed.read_text())
    # And each top paper's "more like this" and "less like this", by their token too.
    like = r"https://papers\.example\.org/like/[0-9a-f]{32}\?paper=\d{4}\.\d{4,5}&amp;value="
    assert re.search(like + "1", mailed.read_text()) and re.search(like + "-1", mailed.read_text())
    page = (site / "2025-03-18-0001.html").read_text()
    assert "papers.example.org" not in page and "Made by digest on" in page
    assert "like this" not in page
