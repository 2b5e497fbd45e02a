"""Identity of papers: title normalisation and the new/seen decision."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from digest.identity.decide import decide
from digest.identity.keys import (
    Identity,
    abstract_key,
    arxiv_key,
    keys,
    normalise,
    normalise_all,
    title_key,
)
from digest.models import Paper, SeenPaper
from tests.realpapers import paper


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


# The exact forms a paper is recorded and looked up under. The store keeps them: a change
# here is a change of every stored key, and must be meant.
@pytest.mark.parametrize(
    ("title", "key"),
    [
        # Real titles, as the listings give them (TeX, hard wrapping, symbols).
        (
            r"AutoCoder: Enhancing Code Large Language Model with \textsc{AIEV-Instruct}",
            "autocoder enhancing code large language model with aiev instruct",
        ),
        (
            "AutoCoder: Enhancing Code Large Language Model with\n  AIEV-Instruct",
            "autocoder enhancing code large language model with aiev instruct",
        ),
        (
            'RWKV-7 "Goose" with Expressive Dynamic State Evolution',
            "rwkv 7 goose with expressive dynamic state evolution",
        ),
        ("Qwen2.5 Technical Report", "qwen2 5 technical report"),
        ("Qwen 2.5 Technical Report", "qwen 2 5 technical report"),
        ("GUI-G^2: Gaussian Reward Modeling", "gui g2 gaussian reward modeling"),
        ("GUI-G\u00b2: Gaussian Reward Modeling", "gui g2 gaussian reward modeling"),
        ("Fast & Slow Learning", "fast slow learning"),
        ("Fast &amp; Slow Learning", "fast slow learning"),
        ("Poincar\u00e9 ResNet", "poincare resnet"),
        (r"Poincar\'e ResNet", "poincare resnet"),
        (r"Poincar\'{e} ResNet", "poincare resnet"),
        # Greek letters spelt out, TeX or Unicode, small or capital.
        (r"$\alpha$-Net", "alpha net"),
        ("\u03b1-Net", "alpha net"),
        (r"$\Sigma$-Net", "sigma net"),
        ("\u03a3-Net", "sigma net"),
        ("\u03a9(n log n) Bounds", "omega n log n bounds"),
        # TeX markup goes, its words stay; sub- and superscripts read as Unicode's do.
        (r"\mathcal{O}(n) Attention", "o n attention"),
        (r"{\em Deep} Nets", "deep nets"),
        (r"$n^2$ Attention", "n2 attention"),
        ("n\u00b2 Attention", "n2 attention"),
        (r"CO$_2$ Capture", "co2 capture"),
        ("CO$_2$ Capture in Z\u00fcrich", "co2 capture in zurich"),
        ("CO\u2082 Capture", "co2 capture"),
        (r"$k$NN Search", "knn search"),
        ("kNN Search", "knn search"),
        (r"$\mu$P Transfer", "mu p transfer"),
        # Compatibility forms folded.
        ("Stra\u00dfe", "strasse"),
        ("\uff26\uff55\uff4c\uff4c Width", "full width"),
        ("E\ufb03cient \ufb01ne-tuning", "efficient fine tuning"),
        # A title of punctuation alone keeps it.
        ("...", "..."),
        ("\u2026", "..."),
        ("\u00bf?", "\u00bf?"),
    ],
)
def test_the_title_key(title: str, key: str) -> None:
    assert title_key(title) == key
    assert normalise_all([title]) == [key]


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("2412.13185", "2412.13185"),
        ("2412.13185v2", "2412.13185"),
        ("2412.13185v10", "2412.13185"),
        ("ARXIV:2412.13185V2", "2412.13185"),
        (" 2412.13185v3 \n", "2412.13185"),
        ("arxiv.org/abs/2412.13185v2", "2412.13185"),
        ("http://www.arxiv.org/abs/2412.13185", "2412.13185"),
        ("https://arxiv.org/pdf/2412.13185", "2412.13185"),
        ("https://www.arxiv.org/pdf/2412.13185v10.pdf", "2412.13185"),
        ("math.GT/0309136v2", "math.gt/0309136"),
        ("https://arxiv.org/abs/hep-th/9901001v2", "hep-th/9901001"),
        ("   ", None),
    ],
)
def test_the_arxiv_key(raw: str, key: str | None) -> None:
    assert arxiv_key(raw) == key


def test_the_keys_of_a_real_paper() -> None:
    """Strongest first: the id, the title, the abstract's fingerprint (a hash of its
    normalised text, the same in every process and release)."""
    real = paper("2412.13185")
    assert keys(real) == [
        "x:2412.13185",
        "t:move in 2d 2d conditioned human motion generation",
        "a:1602345a6a5db236aba47c9d",
    ]
    # Re-typed the ways listings re-type an abstract: the same fingerprint.
    retyped = real.abstract.upper().replace("MOVE-IN-2D,", r"\textit{Move-in-2D},")
    assert abstract_key(retyped.replace(". ", ".\n")) == "1602345a6a5db236aba47c9d"
    assert keys(Paper(real.title, "")) == ["t:move in 2d 2d conditioned human motion generation"]


def test_an_abstract_identifies_a_paper_from_100_characters() -> None:
    hundred = "We " + "x" * 94 + " it."  # 100 characters, as normalised: "we xxx...x it"
    assert len(normalise(hundred)) == 100
    assert abstract_key(hundred) is not None and Identity.of("T", hundred).abstract
    short = hundred.replace("x", "", 1)  # 99
    assert abstract_key(short) is None and Identity.of("T", short).abstract == ""
    # Punctuation and spacing do not count: it is the normalised text that must be long.
    padded = short.replace(" ", " -- ")
    assert len(padded) > 100 and abstract_key(padded) is None
    assert Identity.of("T", padded).abstract == ""
