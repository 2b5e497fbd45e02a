"""The public digest of a readers file: real runs of three readers on each state backend put
one digest a run into the archive (every new paper, in the listing's order, or the digest of
the reader DIGEST_ARCHIVE_READER names), never a reader's own, address or token; the real
`digest archive` builds the same site again from the state."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path

import feedparser
import pytest
from bs4 import BeautifulSoup

from digest import channels, config, pipeline
from digest import state as states
from digest.errors import ConfigError
from digest.formats import parse
from digest.identity.decide import identify
from digest.models import Paper
from digest.render.tex import unicode
from tests.processes import clean_env
from tests.test_archive import REAL, abstracts, valid_atom, words

READERS = """
[[reader]]
email = "ann@example.org"
highlight = ["video"]
max_papers = 2
detail = "full"

[[reader]]
email = "bob@example.org"
exclude = ["diffusion"]

[[reader]]
email = "cy@example.org"
"""
EMAILS = ("ann@example.org", "bob@example.org", "cy@example.org")
UNSUBSCRIBE = "https://papers.example.org/unsubscribe/{token}"


def run(
    location: object, root: Path, *days: str, ok: bool = True, **extra: object
) -> pipeline.Report:
    """Drop these real days into the inbox and run the readers file, the archive set."""
    inbox = root / "inbox"
    inbox.mkdir(exist_ok=True)
    (root / "readers.toml").write_text(READERS)
    for day in days:
        shutil.copy(REAL / f"{day}.json", inbox)
    flags = {
        "inbox": inbox,
        "out": root / "out",
        "archive": root / "site",
        "readers": root / "readers.toml",
        "unsubscribe": UNSUBSCRIBE,
        **extra,
    }
    settings = config.load(flags, {}, delivering=True)
    with states.open(location) as store:  # type: ignore[call-overload]
        deliverer = channels.deliverer(settings, dry_run=False)
        report = pipeline.run_once(settings, store, deliverer, datetime.now(UTC))
    assert report.ok == ok, report.failed
    return report


def site_text(site: Path) -> str:
    """Every file of the site, as one text."""
    return "\n".join(p.read_text() for p in sorted(site.iterdir()))


def private(location: object) -> list[str]:
    """What is each reader's own: their address and their token."""
    with states.open(location) as store:  # type: ignore[call-overload]
        known = store.all_readers()
    return [*EMAILS, *(r.token for r in known if r.token)]


def pages(site: Path) -> list[str]:
    return sorted(p.name for p in site.glob("2*.html"))


def titles(day: str) -> list[str]:
    """The day's titles as a page shows them, in the listing's order."""
    papers = parse((REAL / f"{day}.json").read_bytes(), f"{day}.json").papers
    return [words(unicode(p.title)) for p in papers]


def page_text(path: Path) -> str:
    return words(BeautifulSoup(path.read_text(), "html.parser").get_text(" "))


def rebuilt(location: object, root: Path) -> Path:
    """The site the real `digest archive` builds from the state."""
    again = root / "again"
    done = subprocess.run(
        [sys.executable, "-m", "digest", "archive", "--state", str(location), "--archive", again],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return again


@pytest.mark.slow
def test_each_run_archives_one_public_digest_of_every_new_paper_and_no_readers_own(
    location: object, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    first = run(location, tmp_path, "2025-03-18")
    assert len(first.made) == 3  # each reader got their own
    assert pages(site) == ["2025-03-18-0004.html"]
    run(location, tmp_path, "2025-07-22")
    assert pages(site) == ["2025-03-18-0004.html", "2025-07-22-0008.html"]
    for day, page in zip(("2025-03-18", "2025-07-22"), pages(site), strict=True):
        text = page_text(site / page)
        # Every new paper, whole, in the listing's order: no reader's highlight first, no cap.
        found = [text.find(t) for t in titles(day)]
        assert -1 not in found and found == sorted(found)
        assert [a for a in abstracts(day) if a not in text] == []
        shown = BeautifulSoup((site / page).read_text(), "html.parser")
        headings = [h.get_text(" ") for h in shown.find_all("h2")]
        assert headings[0] == "Top papers" and len(headings) == 1 + len(titles(day))
        assert "video" not in shown.title.text and "Your matches" not in text
    everything = site_text(site)
    for own in private(location):
        assert own not in everything
    assert "papers.example.org" not in everything  # no reader's unsubscribe or preferences
    parsed = feedparser.parse((site / "feed.xml").read_bytes())
    valid_atom((site / "feed.xml").read_bytes())
    newest, oldest = parsed.entries
    assert newest.title.startswith("Daily papers: 16 new")
    assert oldest.title.startswith("Daily papers: 17 new")

    # A run with nothing new adds nothing.
    before = {p.name: p.read_bytes() for p in site.iterdir()}
    assert run(location, tmp_path).made == []
    assert {p.name: p.read_bytes() for p in site.iterdir()} == before

    # The real `digest archive` finds the public digests again, and only them.
    again = rebuilt(location, tmp_path)
    assert pages(again) == pages(site)
    for name in [*pages(site), "index.html"]:
        assert (again / name).read_bytes() == (site / name).read_bytes()


@pytest.mark.slow
def test_the_first_public_digest_of_a_state_is_its_runs_papers_not_all_the_state_had(
    location: object, tmp_path: Path
) -> None:
    """A state whose readers file ran before there was a public digest: its papers were
    offered to the readers, and the archive starts with the run it is first set for."""
    with states.open(location) as store:  # type: ignore[call-overload]
        earlier = [Paper(f"Earlier paper {n}", f"About {n}.") for n in range(3)]
        store.record([], [], [identify(p) for p in earlier])
        assert store.join({"": None})[""].upto == 0
    run(location, tmp_path, "2025-03-18")
    [page] = pages(tmp_path / "site")
    text = page_text(tmp_path / "site" / page)
    assert "Earlier paper" not in text
    assert len(BeautifulSoup((tmp_path / "site" / page).read_text(), "html.parser")("h2")) == 18


def delivered_html(out: Path, email: str) -> str:
    """The HTML of the digest the files channel wrote for this reader."""
    for eml in sorted(out.glob("*.eml")):
        mail = message_from_bytes(eml.read_bytes(), policy=policy.default)
        if mail["To"] == email:
            return eml.with_suffix(".html").read_text()
    raise AssertionError(f"no digest for {email}")


@pytest.mark.slow
def test_the_reader_named_public_is_the_digest_archived_without_their_links(
    location: object, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    run(location, tmp_path, "2025-03-18", archive_reader="Ann <ANN@example.org>")
    hers = delivered_html(tmp_path / "out", "ann@example.org")
    [page] = pages(site)
    shown = BeautifulSoup((site / page).read_text(), "html.parser")
    theirs = BeautifulSoup(hers, "html.parser")
    assert shown.title.text == theirs.title.text and "match video" in shown.title.text
    # Her two papers in full, the rest by title, as she received them (the abstracts asked
    # for, her mail is the page, with her links: her preferences, more or less like this).
    assert [h.get_text(" ") for h in shown.find_all("h2")] == [
        h.get_text(" ") for h in theirs.find_all("h2")
    ]
    assert "papers.example.org/preferences/" in hers and "like this" in hers
    everything = site_text(site)
    for own in private(location):
        assert own not in everything
    assert "papers.example.org" not in everything and "like this" not in everything
    again = rebuilt(location, tmp_path)
    assert (again / page).read_bytes() == (site / page).read_bytes()


def test_a_public_reader_not_in_the_readers_file_is_said_and_nothing_is_archived(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state.sqlite3"
    report = run(state, tmp_path, "2025-03-18", ok=False, archive_reader="dan@example.org")
    assert len(report.made) == 3  # the readers' digests went all the same
    [said] = report.failed
    assert said.startswith(
        "the public digest was not archived: DIGEST_ARCHIVE_READER=dan@example.org is no"
        " reader of the readers file"
    )
    assert said.endswith("; it waits for the next run")
    assert pages(tmp_path / "site") == []
    with pytest.raises(ConfigError, match="DIGEST_ARCHIVE_READER names a reader of the readers"):
        config.load({"archive_reader": "ann@example.org"}, {}, delivering=True)


def test_no_readers_digest_goes_to_the_archive_beside_their_channel(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "readers.toml").write_text(READERS)
    flags = {
        "readers": tmp_path / "readers.toml",
        "archive": tmp_path / "site",
        "out": tmp_path / "out",
        "notify": "json://localhost/hook",
    }
    settings = config.load(flags, {}, delivering=True)
    deliverer = channels.deliverer(settings, dry_run=False)
    assert not hasattr(deliverer, "others")  # the readers' own channel alone
    said = channels.describe(settings)
    assert said.endswith(f"and the public digest to the archive in {tmp_path / 'site'}")
    assert "DIGEST_NOTIFY: only without DIGEST_READERS" in caplog.text
    assert "DIGEST_ARCHIVE" not in caplog.text
