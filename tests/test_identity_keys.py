"""Identity of papers: title normalisation and the new/seen decision."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from digest.identity.decide import decide
from digest.identity.keys import keys, title_key
from digest.models import Paper, SeenPaper


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Mix-LN: Pre-LN and Post-LN", "mix ln pre ln and post ln"),
        ("Mix–LN — “Quoted” ‘words’", "MIX-LN - \"Quoted\" 'words'"),
        ("Ｆｕｌｌｗｉｄｔｈ Title", "Fullwidth title"),
        ("Straße   der\tModelle", "STRASSE der modelle"),
        ("Trailing period.", "Trailing period"),
        ("ﬁne-tuning", "fine tuning"),
    ],
)
def test_same_identity(a: str, b: str) -> None:
    assert title_key(a) == title_key(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [("Part I", "Part II"), ("2D Shapes", "3D Shapes"), ("Speech Models", "Music Models")],
)
def test_different_identity(a: str, b: str) -> None:
    assert title_key(a) != title_key(b)


def test_punctuation_only_title_keeps_an_identity() -> None:
    assert title_key("?!") == "?!"


def _paper(title: str, source: str = "a.txt") -> Paper:
    return Paper(title, "abstract", source=source)


def test_decide_splits_new_seen_and_repeated() -> None:
    seen_before = SeenPaper(7, "Old Paper", datetime(2025, 3, 1, tzinfo=UTC), "old.txt")
    papers = [
        _paper("Old paper"),
        _paper("New Paper"),
        _paper("new  paper", source="b.txt"),
        _paper("Another"),
    ]
    decision = decide(papers, {keys(_paper("Old Paper"))[0]: seen_before})
    assert [p.title for p in decision.new] == ["New Paper", "Another"]
    assert [(s.paper.title, s.matched, s.rule) for s in decision.skipped] == [
        ("Old paper", seen_before, "same title"),
        ("new  paper", None, "repeated in this run"),
    ]


def test_normalising_a_whole_catalogue_at_once_reads_each_title_as_normalise_does() -> None:
    from digest.identity.keys import normalise, normalise_all

    titles = [
        "Mix-LN: Pre-LN and Post-LN",
        "$\\mu$P: scaling \\textit{width}",
        "Q&amp;A &lt;models&gt;",
        "Ｆｕｌｌｗｉｄｔｈ Title",
        "n^2 attention",
        "α-Net  for   β",
        "...",
        "   ",
    ]
    assert normalise_all(titles) == [normalise(t) for t in titles]
