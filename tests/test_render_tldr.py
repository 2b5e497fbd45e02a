"""The TL;DR of a paper, on real abstracts: the listing's AI summary when it has one, else the
sentence that states the contribution, never the opening background."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest import formats
from digest.models import Paper
from digest.render.tldr import LIMIT, clip, contribution, sentences, tldr

FIXTURES = Path(__file__).resolve().parent / "fixtures"
ROOT = Path(__file__).resolve().parent.parent
REAL = sorted((FIXTURES / "real").glob("*.json")) + sorted((ROOT / "seeds").glob("*.txt"))


def real_papers() -> list[Paper]:
    """Every paper of the ten real Daily Papers days and the five seeds."""
    return [p for path in REAL for p in formats.parse(path.read_bytes(), path.name).papers]


def paper(arxiv_id: str) -> Paper:
    (found,) = {p for p in real_papers() if p.arxiv_id == arxiv_id}
    return found


@pytest.mark.parametrize(
    ("arxiv_id", "starts"),
    [
        # The opening is background; the contribution comes later, after "To address ...".
        ("2604.25914", "To bridge these gaps, we introduce DV-World, a benchmark of 260 tasks"),
        ("2507.15778", "In this work, we propose Archer, an entropy-aware RLVR approach"),
        ("2503.10546", "In this work, we introduce KUDA, an open-vocabulary manipulation system"),
        (
            "2412.14462",
            "To address the limited data issue and incorporate this task, we constructed",
        ),
        ("2501.05122", "In this work, we present a comprehensive investigation"),
        ("2503.14504", "In this paper, we aim to provide a comprehensive and systematic review"),
    ],
)
def test_the_contribution_sentence_of_a_real_abstract(arxiv_id: str, starts: str) -> None:
    found = paper(arxiv_id)
    assert found.ai_summary is None  # these days' listings have no AI summary
    line = tldr(found.abstract, found.ai_summary)
    assert line.source == "abstract" and line.text.startswith(starts)
    assert not line.text.startswith(sentences(found.abstract)[0][:40])


def test_the_ai_summary_comes_first_when_the_listing_has_one() -> None:
    with_summary = [p for p in real_papers() if p.ai_summary]
    assert len(with_summary) >= 40  # the later days' listings carry one
    for p in with_summary:
        line = tldr(p.abstract, p.ai_summary)
        assert line.source == "ai" and line.text == clip(p.ai_summary or "")


def test_across_every_real_abstract_the_opening_background_is_never_the_tldr() -> None:
    """Of the real abstracts without an AI summary, none is summed up by its opening sentence
    unless that sentence itself says what the paper contributes, or is all there is."""
    opening = []
    checked = 0
    for p in real_papers():
        if p.ai_summary or not p.abstract.strip():
            continue
        checked += 1
        found = sentences(p.abstract)
        line = tldr(p.abstract).text
        assert line and len(line) <= LIMIT
        assert line.rstrip("…") in " ".join(p.abstract.split())  # a sentence of it, as written
        if len(found) > 1 and line.rstrip("…")[:60] == found[0][:60]:
            opening.append(found[0])
    assert checked > 400
    cues = ("we ", "this paper", "this work", "propose", "introduce", "present", "develop")
    assert all(any(c in s.lower() for c in cues) for s in opening), opening


@pytest.mark.parametrize(
    ("abstract", "chosen"),
    [
        ("", ""),
        ("One sentence only.", "One sentence only."),
        (
            "LLMs are popular. However, they hallucinate. We propose X, a fix. We show it works.",
            "We propose X, a fix.",
        ),
        (
            "Deep nets are big. A new pruning method is proposed here. Results show 2x speed.",
            "A new pruning method is proposed here.",
        ),
        (
            "Models are large (e.g. GPT-4). This paper introduces Yolo. Experiments confirm it.",
            "This paper introduces Yolo.",
        ),
        ("Data is scarce. Prior work fails. Our results show gains.", "Our results show gains."),
        ("Data is scarce. However, it is costly. Labels help.", "Labels help."),
    ],
)
def test_contribution(abstract: str, chosen: str) -> None:
    assert contribution(abstract) == chosen


@pytest.mark.parametrize(
    ("text", "split"),
    [
        ("A b. C d.", ["A b.", "C d."]),
        (
            "As in Smith et al. The rest. Then e.g. This stays.",
            ["As in Smith et al. The rest.", "Then e.g. This stays."],
        ),
        (
            "It improves by 3.4% on ImageNet. Fig. 2 shows it.",
            ["It improves by 3.4% on ImageNet.", "Fig. 2 shows it."],
        ),
        ("Done! Really? Yes.", ["Done!", "Really?", "Yes."]),
    ],
)
def test_sentences(text: str, split: list[str]) -> None:
    assert sentences(text) == split


def test_a_long_sentence_is_clipped_at_a_word() -> None:
    long = "We propose " + "a very long method name " * 30 + "."
    line = tldr(long).text
    assert len(line) <= LIMIT and line.endswith("…") and not line.endswith(" …")
