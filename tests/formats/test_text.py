"""The parser: seeds, header variants, encodings and line-ending variants, bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.errors import ParseError
from digest.formats import parse
from digest.formats.common import BINARY, EMPTY, clean, decode
from digest.formats.text import NO_PAPERS

HEADER = "new\n\nGet trending papers in your email inbox!\n\nSubscribe\n\n"
BODY = (
    "Café: Résumé Learning for Naïve Agents\n\n"
    + "We study naïve agents that learn from a résumé. " * 6
    + "\n\nA Second Paper on Déjà Vu\n\n"
    + "An abstract about déjà vu in neural networks, long enough to be an abstract. " * 4
    + "\n"
)


@pytest.mark.parametrize(
    ("name", "count", "date", "first"),
    [
        ("000_47ca144c9a573f93.txt", 63, "Jul 29", "Prediction of speech intelligibility"),
        ("001_a508b4c33d36f06c.txt", 74, "Mar 12", "T-Miner: A Generative Approach"),
        ("002_ad28794d56ee46c0.txt", 102, "Mar 14", "Harmonizing the object recognition"),
        ("003_87303613f7aac0f5.txt", 56, "Mar 11", "Learning Delays in Spiking Neural"),
        ("004_6d08c3e38cdaa7e2.txt", 94, None, "Mix-LN: Unleashing the Power"),
    ],
)
def test_seeds(seeds: list[Path], name: str, count: int, date: str | None, first: str) -> None:
    path = next(p for p in seeds if p.name == name)
    dump = parse(path.read_bytes(), name)
    assert len(dump.papers) == count
    assert dump.listing_date == date
    assert dump.papers[0].title.startswith(first)
    assert all(len(p.abstract) > 500 for p in dump.papers)
    assert all(p.source == name and p.listing_date == date for p in dump.papers)


def _variants() -> dict[str, bytes]:
    text = HEADER + "Daily Papers\n\nbyAK and the research community\n\nMar 12\n\n" + BODY
    crlf = text.replace("\n", "\r\n")
    return {
        "utf-8": text.encode(),
        "crlf": crlf.encode(),
        "bom": b"\xef\xbb\xbf" + text.encode(),
        "bom+crlf": b"\xef\xbb\xbf" + crlf.encode(),
        "trailing spaces": "\n".join(line + "  \t" for line in text.split("\n")).encode(),
        "many blank lines": text.replace("\n\n", "\n\n\n\n \n").encode(),
        "cp1252": text.encode("cp1252"),
        "latin-1": text.encode("latin-1"),
        "utf-16": text.encode("utf-16"),
        "cr only": text.replace("\n", "\r").encode(),
    }


@pytest.mark.parametrize("variant", list(_variants()))
def test_variants_yield_the_same_papers(variant: str) -> None:
    expected = parse(_variants()["utf-8"], "day.txt")
    dump = parse(_variants()[variant], "day.txt")
    assert [(p.title, p.abstract) for p in dump.papers] == [
        (p.title, p.abstract) for p in expected.papers
    ]
    assert dump.papers[0].title == "Café: Résumé Learning for Naïve Agents"
    assert dump.listing_date == "Mar 12"


@pytest.mark.parametrize(
    "header",
    [
        "",
        "Daily Papers\n\n",
        "new\n\nSubscribe\n\nby AK and the research community\n\n",
        "byAK\n\nMar 12\n\n",
        "Daily Papers\n\nby AK\n\nMarch 12, 2025\n\n",
        HEADER + "Daily Papers\n\nbyAK and the research community\n\n",
    ],
)
def test_header_variants(header: str) -> None:
    dump = parse((header + BODY).encode(), "x.txt")
    assert [p.title for p in dump.papers] == [
        "Café: Résumé Learning for Naïve Agents",
        "A Second Paper on Déjà Vu",
    ]


@pytest.mark.parametrize(
    ("line", "date"),
    [("Mar 12", "Mar 12"), ("March 12, 2025", "March 12, 2025"), ("2025-03-12", "2025-03-12")],
)
def test_listing_date_kept(line: str, date: str) -> None:
    assert parse(f"Daily Papers\n\n{line}\n\n{BODY}".encode(), "x.txt").listing_date == date


def test_title_without_abstract_keeps_the_rhythm() -> None:
    long = "This abstract is long enough to be recognised as one. " * 5
    text = f"Daily Papers\n\nFirst Title\n\n{long}\n\nOrphan Title\n\nThird Title\n\n{long}\n"
    papers = parse(text.encode(), "x.txt").papers
    assert [(p.title, bool(p.abstract)) for p in papers] == [
        ("First Title", True),
        ("Orphan Title", False),
        ("Third Title", True),
    ]


def test_hard_wrapped_paragraphs_join() -> None:
    text = "A Title Split\nover Two Lines\n\n" + ("word " * 30 + "\n") * 3
    paper = parse(text.encode(), "x.txt").papers[0]
    assert paper.title == "A Title Split over Two Lines"
    assert "\n" not in paper.abstract


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"", EMPTY),
        (b" \n\r\n\t", EMPTY),
        (bytes(range(256)) * 20, BINARY),
        (b"\x89PNG\r\n\x1a\n" + bytes(200), BINARY),
        (b"new\n\nSubscribe\n\nDaily Papers\n\nbyAK\n\nMar 12\n", NO_PAPERS),
    ],
)
def test_unreadable(data: bytes, why: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse(data, "bad.txt")
    assert caught.value.why == why
    assert str(caught.value).startswith("bad.txt")
    assert "\n" not in str(caught.value)


def test_clean_strips_controls_and_bidi_overrides() -> None:
    assert clean("A\x00B\x1b[31m\u202eC\u2066D  \t E") == "AB[31mCD E"


def test_decode_reports_encoding() -> None:
    assert decode("é".encode(), "x")[1] == "utf-8"
    assert decode("é".encode("cp1252"), "x")[1] == "cp1252"
    assert decode(b"\x81\xe9", "x") == ("\x81é", "latin-1")


def test_title_glued_to_its_abstract() -> None:
    abstract = "A long abstract that runs on for quite a while to make the point. " * 5
    text = f"Daily Papers\n\nFirst Title\n{abstract}\n\nSecond Title\n{abstract}\n"
    papers = parse(text.encode(), "x.txt").papers
    assert [(p.title, p.abstract) for p in papers] == [
        ("First Title", abstract.strip()),
        ("Second Title", abstract.strip()),
    ]


def test_hard_wrapped_abstract_is_not_split() -> None:
    wrapped = "\n".join(["word " * 14] * 6)
    text = f"A Title\n\n{wrapped}\n\nAnother Title\n\n{wrapped}\n"
    papers = parse(text.encode(), "x.txt").papers
    assert [p.title for p in papers] == ["A Title", "Another Title"]
    assert all(p.abstract.startswith("word word") for p in papers)


def test_abstract_without_title_is_skipped_with_a_warning() -> None:
    long = "This abstract is long enough to be recognised as one. " * 8
    text = f"Daily Papers\n\n{long}\n\nA Title\n\n{long}\n"
    dump = parse(text.encode(), "x.txt")
    assert [p.title for p in dump.papers] == ["A Title"]
    assert dump.warnings == ("line 3: a paragraph with no title before it; skipped",)


def test_overlong_title_keeps_its_abstract_and_the_rhythm() -> None:
    long_title = "Attention " * 400
    abstract = "An abstract long enough to be an abstract, and then some more words. " * 4
    text = f"{long_title}\n\n{abstract}\n\n{BODY}"
    papers = parse(text.encode(), "x.txt").papers
    assert len(papers[0].title) == len(long_title.strip())
    assert papers[0].abstract == abstract.strip()
    assert papers[1].title == "Café: Résumé Learning for Naïve Agents"


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom(encoding: str) -> None:
    dump = parse(BODY.encode(encoding), "x.txt")
    assert dump.papers[0].title == "Café: Résumé Learning for Naïve Agents"
    assert dump.encoding == encoding
