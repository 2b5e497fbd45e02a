"""The identity rule: normalisation, exact keys, the fuzzy rule, and the decision."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from rapidfuzz import fuzz

from digest.identity.decide import decide
from digest.identity.index import abstract_grams, grams, title_grams, word_hashes
from digest.identity.keys import Identity, arxiv_key, keys, normalise
from digest.identity.rule import Verdict, compare, meaningful_difference, numbered_difference
from digest.models import Paper, SeenPaper, StoredPaper, Thresholds

A = (
    "Deep feedforward and recurrent networks have achieved impressive results in many"
    " perception and language processing applications. This success is partially attributed to"
    " architectural innovations such as convolutional and long short-term memory networks. In"
    " this paper, we discuss a low-overhead and easy-to-implement technique of adding gradient"
    " noise which we find to be surprisingly effective when training these very deep"
    " architectures."
)
# Lightly revised: a word changed, a sentence added.
A_REVISED = A.replace("surprisingly effective", "remarkably effective") + (
    " We also report results on a new benchmark."
)
# Re-typed: the same words, one of them misspelt.
A_RETYPED = A.replace("impressive", "impresive")
B = (
    "The canonical deep learning approach for learning requires computing a gradient term at"
    " each layer by back-propagating the error signal from the output towards each learnable"
    " parameter. Given the stacked structure of neural networks, where each layer builds on the"
    " representation of the layer below, this approach leads to hierarchical representations."
)
C = (
    "This paper presents a speech intelligibility model based on automatic speech recognition,"
    " combining phoneme probabilities from deep neural networks and a performance measure that"
    " estimates the word error rate from these probabilities, without a clean reference."
)
T = "Adding Gradient Noise Improves Learning for Very Deep Networks"

SAME = [
    # (case, stored title, stored abstract, listed title, listed abstract, rule)
    (
        "case and spacing",
        T,
        A,
        "adding  gradient NOISE improves learning for very deep networks",
        A,
        "same title",
    ),
    ("trailing period", T, A, T + ".", A, "same title"),
    (
        "colon turned into a dash",
        "NoProp: Training Neural Networks",
        B,
        "NoProp \u2014 Training Neural Networks",
        B,
        "same title",
    ),
    (
        "unicode dashes and quotes",
        'Pre-LN Transformers: "Stable" Training',
        B,
        "Pre\u2013LN Transformers: \u201cStable\u201d Training",
        B,
        "same title",
    ),
    (
        "TeX math present and stripped",
        r"$\mu$P: Zero-Shot Hyperparameter Transfer",
        "",
        "\u03bcP: Zero-Shot Hyperparameter Transfer",
        "",
        "same title",
    ),
    (
        "TeX text markup present and stripped",
        r"\textit{NoProp}: Training Without Back-propagation",
        B,
        "NoProp: Training Without Back-propagation",
        B,
        "same title",
    ),
    (
        "accents",
        "Schr\u00f6dinger Bridges for Generative Modelling",
        B,
        "Schrodinger Bridges for Generative Modelling",
        "",
        "same title",
    ),
    ("one-letter typo, same abstract", T, A, T.replace("Gradient", "Gradinet"), A, "same abstract"),
    (
        "one-letter typo, abstract re-typed",
        T,
        A,
        T.replace("Noise", "Noisy"),
        A_RETYPED,
        "similar abstract",
    ),
    (
        "one-letter typo, abstract revised",
        T,
        A,
        T.replace("Improves", "Improvs"),
        A_REVISED,
        "similar title, revised abstract",
    ),
    (
        "one-letter typo, no abstract listed",
        T,
        A,
        T.replace("Learning", "Lerning"),
        "",
        "similar title, no abstract to compare",
    ),
    (
        "one-letter typo, none stored",
        T,
        "",
        T.replace("Networks", "Netwroks"),
        A,
        "similar title, no abstract to compare",
    ),
    (
        "typo in a short title",
        "Poincar\u00e9 ResNet",
        "",
        "Poincar\u00e9 ReseNt",
        "",
        "similar title, no abstract to compare",
    ),
    (
        "words joined",
        "Pre-LN Transformers Train Stably",
        "",
        "PreLN Transformers Train Stably",
        "",
        "similar title, no abstract to compare",
    ),
    (
        "re-titled, same abstract",
        T,
        A,
        "Gradient Noise Helps Very Deep Networks Learn",
        A,
        "same abstract",
    ),
    (
        "re-titled, abstract re-typed",
        T,
        A,
        "Noisy Gradients for Deep Nets",
        A_RETYPED,
        "similar abstract",
    ),
    ("revised abstract, same title", T, A, T, A_REVISED, "same title"),
    ("same arXiv id, new title and abstract", T, A, "Something Else Entirely", C, "same arXiv id"),
]

DISTINCT = [
    # (case, stored title, stored abstract, listed title, listed abstract)
    (
        "Part I / Part II",
        "Scaling Laws for Sparse Models, Part I",
        A,
        "Scaling Laws for Sparse Models, Part II",
        B,
    ),
    (
        "Part I / Part II, no abstract",
        "Scaling Laws for Sparse Models, Part I",
        A,
        "Scaling Laws for Sparse Models, Part II",
        "",
    ),
    (
        "2D / 3D",
        "Diffusion Models for 2D Pose Estimation",
        A,
        "Diffusion Models for 3D Pose Estimation",
        B,
    ),
    (
        "2D / 3D, no abstract",
        "Diffusion Models for 2D Pose Estimation",
        "",
        "Diffusion Models for 3D Pose Estimation",
        "",
    ),
    (
        "Speech / Music",
        "Self-Supervised Representations for Speech Generation",
        A,
        "Self-Supervised Representations for Music Generation",
        C,
    ),
    (
        "Speech / Music, no abstract",
        "Self-Supervised Representations for Speech Generation",
        A,
        "Self-Supervised Representations for Music Generation",
        "",
    ),
    (
        "title plus a subtitle",
        "Gradient Noise",
        A,
        "Gradient Noise: Training Very Deep Networks",
        B,
    ),
    (
        "title plus a subtitle, no abstract",
        "Attention Sinks in Language Models",
        "",
        "Attention Sinks in Language Models: Why and How",
        "",
    ),
    ("numbers", "Llama 2 Technical Report", "", "Llama 3 Technical Report", ""),
    (
        "with / without",
        "Training with Back-propagation",
        "",
        "Training without Back-propagation",
        "",
    ),
    (
        "title only is stricter: two slips",
        "Sparse Mixtures Routing",
        "",
        "Sparse Mixturez Routinq",
        "",
    ),
    ("similar title, different abstract", T, A, T.replace("Very", "Very, Very"), B),
]

WHEN = datetime(2026, 3, 1, tzinfo=UTC)


def _judge(old: Paper, new: Paper) -> tuple[bool, str]:
    """Decide `new` against a store holding only `old`: is it seen, by which rule."""
    stored = SeenPaper(1, old.title, WHEN, "old.txt")
    seen = {key: stored for key in keys(old)}
    candidate = StoredPaper(stored, old.title, old.abstract)
    decision = decide([new], seen, [[candidate]])
    if decision.new:
        return False, ""
    (skip,) = decision.skipped
    assert skip.matched == stored
    return True, skip.rule


@pytest.mark.parametrize(("case", "old_title", "old_abstract", "title", "abstract", "rule"), SAME)
def test_the_same_paper_is_recognised(
    case: str, old_title: str, old_abstract: str, title: str, abstract: str, rule: str
) -> None:
    arxiv = ("2401.00001v1", "arXiv:2401.00001v3") if "arXiv" in case else (None, None)
    old = Paper(old_title, old_abstract, arxiv_id=arxiv[0])
    new = Paper(title, abstract, arxiv_id=arxiv[1])
    assert _judge(old, new) == (True, rule), case


@pytest.mark.parametrize(("case", "old_title", "old_abstract", "title", "abstract"), DISTINCT)
def test_different_papers_stay_apart(
    case: str, old_title: str, old_abstract: str, title: str, abstract: str
) -> None:
    assert _judge(Paper(old_title, old_abstract), Paper(title, abstract)) == (False, ""), case
    # Either way round.
    assert _judge(Paper(title, abstract), Paper(old_title, old_abstract)) == (False, ""), case


def test_every_case_is_also_decided_within_one_run() -> None:
    for case, old_title, old_abstract, title, abstract, _ in SAME:
        if "arXiv" in case:
            continue
        first, again = Paper(old_title, old_abstract, "a.txt"), Paper(title, abstract, "b.txt")
        decision = decide([first, again], {})
        assert decision.new == (first,), case
        (skip,) = decision.skipped
        assert skip.matched is None and skip.repeats == first, case
        assert skip.rule.startswith("repeated in this run"), case
    for case, old_title, old_abstract, title, abstract in DISTINCT:
        pair = [Paper(old_title, old_abstract), Paper(title, abstract)]
        assert decide(pair, {}).new == tuple(pair), case


def test_a_changed_abstract_marks_the_paper_updated() -> None:
    assert decide([Paper(T, A_REVISED)], *_store(Paper(T, A))).updated[0].revised
    assert not decide([Paper(T + ".", A)], *_store(Paper(T, A))).updated
    retitled = decide([Paper("New Title Here", A)], *_store(Paper(T, A)))
    assert retitled.skipped and not retitled.updated


def _store(old: Paper) -> tuple[dict[str, SeenPaper], list[list[StoredPaper]]]:
    stored = SeenPaper(1, old.title, WHEN, "old.txt")
    return {k: stored for k in keys(old)}, [[StoredPaper(stored, old.title, old.abstract)]]


def test_thresholds_are_settings() -> None:
    old = Identity.of(T, A)
    revised = Identity.of(T.replace("Improves", "Improvs"), A_REVISED)
    assert compare(revised, old, Thresholds()).same
    assert not compare(revised, old, Thresholds(revised=99, abstract=99)).same
    slips = Identity.of("Sparse Mixturez Routinq", A_REVISED)
    assert compare(slips, Identity.of("Sparse Mixtures Routing", A), Thresholds()).same
    typo = Identity.of(T.replace("Learning", "Lerning"), "")
    assert compare(typo, old, Thresholds()).same
    assert not compare(typo, old, Thresholds(title_only=100)).same


@pytest.mark.parametrize(
    ("a", "b", "meaningful"),
    [
        ("deep networks", "deep netwroks", False),
        ("forward learning", "froward learning", False),  # two letters swapped: one slip
        ("towards scalable memory", "towrads scalable memory", False),  # a small word's slip
        ("training with backprop", "training without backprop", True),
        ("deep networks", "the deep networks", False),
        ("pre ln transformers", "preln transformers", False),
        ("models part i", "models part ii", True),
        ("2d pose", "3d pose", True),
        ("speech generation", "music generation", True),
        ("attention sinks", "attention sinks why and how", True),
        ("gpt 4 report", "gpt 5 report", True),
        ("use of gans", "use of gaps", True),  # a one-letter change in a short word
        ("towards scalable memory", "scalable memory", False),
        ("sparse routing", "sparse ruotign", True),  # two slips in a word of seven letters
        ("sparse mixtures routing", "sparse mixtrues ruoting", False),  # one in each word
        ("sparse representations", "sparse represnetatoins", False),  # two in one of eight+
        ("lectures part xviii", "lectures part xxiii", True),  # numerals are never slips
        ("llama2 technical report", "llama3 technical report", True),  # nor are digits
        ("gpt 4 report", "gpt4 report", False),  # a number written another way
    ],
)
def test_meaningful_difference(a: str, b: str, meaningful: bool) -> None:
    assert meaningful_difference(a, b) is meaningful


@pytest.mark.parametrize(
    ("a", "b", "numbered"),
    [
        ("models part i", "models part ii", True),
        ("2d pose estimation", "3d pose estimation", True),
        ("qwen2 5 technical report", "qwen3 technical report", True),
        ("longbench", "longbench v2", True),
        ("scaling to 16 billion parameters", "scaling to 64 billion parameters", True),
        ("speech generation", "music generation", False),
        ("llama 2 report", "llama 2 chat report", False),
        ("gpt 4 report", "gpt4 report", False),  # the same number, written another way
        ("deep networks", "deep netwroks", False),
    ],
)
def test_numbered_difference(a: str, b: str, numbered: bool) -> None:
    assert numbered_difference(a, b) is numbered


@pytest.mark.parametrize(
    ("text", "normalised"),
    [
        ("Pre-LN  Transformers.", "pre ln transformers"),
        ("Pre\u2013LN \u201cTransformers\u201d", "pre ln transformers"),
        (r"$\mu$P and \textit{Hyper} $\mathcal{O}(n)$", "mu p and hyper o n"),
        ("\u03bcP", "mu p"),
        ("\u00b5P", "mu p"),  # the micro sign
        (r"{\em Deep} and {\sc Wide} $O(n^2)$", "deep and wide o n2"),
        ("O(n\u00b2) Q&amp;A", "o n2 q a"),
        (r"Schr\"odinger", "schrodinger"),
        ("Schr\u00f6dinger", "schrodinger"),
        ("?!", "?!"),
    ],
)
def test_normalise(text: str, normalised: str) -> None:
    assert normalise(text) == normalised


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("2401.01234", "2401.01234"),
        ("2401.01234v2", "2401.01234"),
        ("arXiv:2401.01234v12", "2401.01234"),
        ("https://arxiv.org/abs/2401.01234v3", "2401.01234"),
        ("https://arxiv.org/pdf/2401.01234v1.pdf", "2401.01234"),
        ("hep-th/9901001v1", "hep-th/9901001"),
        ("", None),
        (None, None),
    ],
)
def test_arxiv_key_drops_the_version(raw: str | None, key: str | None) -> None:
    assert arxiv_key(raw) == key


def test_keys() -> None:
    paper = Paper("Deep Nets", A, arxiv_id="2401.00001v2")
    found = keys(paper)
    assert found[:2] == ["x:2401.00001", "t:deep nets"]
    assert found[2].startswith("a:")
    assert keys(Paper("Deep Nets", "too short")) == ["t:deep nets"]


def test_grams_are_stable_and_survive_light_revision() -> None:
    # The index is persistent: the same text must give the same entries in every process.
    assert word_hashes("ab cd ab").tolist() == [
        2685621748794055219,
        4639060265814449344,
        2685621748794055219,
    ]
    assert title_grams("deep nets")[0] == title_grams("deep nets")[0]
    old = set(abstract_grams(normalise(A)))
    assert len(old) == 6
    assert old & set(abstract_grams(normalise(A_REVISED)))
    assert not old & set(abstract_grams(normalise(B)))
    assert set(grams(Paper(T, A))) >= set(title_grams(normalise(T)))
    assert abstract_grams("short") == []


# Titles and abstracts whose scores are whole numbers, to find where each threshold falls.
TITLE = "sparse mixtures of expert"  # 25 characters: one slip scores 96
SLIPPED = "sparse mixturez of expert"
ABSTRACT = "We " + "x" * 94 + " it."  # 100 characters once normalised
REVISED = ABSTRACT.replace("x" * 10, "y" * 10, 1)  # scores 90


def test_each_threshold_is_reached_at_its_score() -> None:
    assert fuzz.ratio(TITLE, SLIPPED) == 96
    assert fuzz.ratio(normalise(ABSTRACT), normalise(REVISED)) == 90
    bare, slipped = Identity.of(TITLE, ""), Identity.of(SLIPPED, "")
    assert compare(slipped, bare, Thresholds(title_only=96)) == Verdict(
        True, "similar title, no abstract to compare", 96
    )
    assert not compare(slipped, bare, Thresholds(title_only=97)).same
    old, new = Identity.of(TITLE, ABSTRACT), Identity.of(SLIPPED, REVISED)
    at = Thresholds(title=96, revised=90, abstract=95)
    assert compare(new, old, at) == Verdict(True, "similar title, revised abstract", 90, True)
    assert not compare(new, old, Thresholds(title=97, revised=90, abstract=95)).same
    assert not compare(new, old, Thresholds(title=96, revised=91, abstract=95)).same
    retitled = Identity.of("dense experts", REVISED)
    assert compare(retitled, old, Thresholds(abstract=90)) == Verdict(
        True, "similar abstract", 90, True
    )
    assert not compare(retitled, old, Thresholds(abstract=91)).same
