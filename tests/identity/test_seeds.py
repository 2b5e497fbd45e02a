"""Every real paper of the seeds, re-posted in every way the identity rule knows, against a real
store: every re-post recognised, every look-alike shown."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from digest import backlog, pipeline
from digest.formats import parse
from digest.models import Paper
from digest.state import open as open_state


def _typo(title: str, rng: random.Random) -> str:
    words = title.split()
    long = [i for i, w in enumerate(words) if re.fullmatch(r"[A-Za-z]{6,}", w)]
    if not long:
        return title
    i = rng.choice(long)
    j = rng.randrange(1, len(words[i]) - 1)
    words[i] = words[i][:j] + words[i][j + 1] + words[i][j] + words[i][j + 2 :]  # swap two
    if words[i] == title.split()[i]:
        words[i] = words[i][:j] + "q" + words[i][j + 1 :]
    return " ".join(words)


def _tex(title: str, rng: random.Random) -> str:
    words = title.split()
    i = rng.randrange(len(words))
    words[i] = r"\textit{" + words[i] + "}"
    return " ".join(words)


def _revise(abstract: str, rng: random.Random) -> str:
    sentences = abstract.split(". ")
    i = rng.randrange(len(sentences))
    sentences[i] = sentences[i].replace(" the ", " this ", 1).replace(" a ", " one ", 1)
    return ". ".join(sentences) + " Code and models are released."


REPOSTS: dict[str, Callable[[Paper, random.Random], Paper]] = {
    "upper case, trailing period": lambda p, r: Paper(p.title.upper() + ".", p.abstract),
    "colon to dash, curly quotes": lambda p, r: Paper(
        p.title.replace(": ", " \u2013 ").replace("'", "\u2019"), p.abstract
    ),
    "TeX markup": lambda p, r: Paper(_tex(p.title, r), p.abstract),
    "typo": lambda p, r: Paper(_typo(p.title, r), p.abstract),
    "typo, no abstract": lambda p, r: Paper(_typo(p.title, r), ""),
    "typo, revised abstract": lambda p, r: Paper(_typo(p.title, r), _revise(p.abstract, r)),
    "re-titled": lambda p, r: Paper("A Completely Different Title", p.abstract),
    "revised abstract": lambda p, r: Paper(p.title, _revise(p.abstract, r)),
}

LOOKALIKES: dict[str, Callable[[Paper], str]] = {
    "Part II": lambda p: p.title + ", Part II",
    "3D": lambda p: p.title + " in 3D",
    "subtitle": lambda p: p.title + ": Lessons from Practice",
    "another word": lambda p: re.sub(r"\b[A-Za-z]{6,}\b", "Music", p.title, count=1),
}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Paper]]:
    """A store holding every seed paper, and those papers (one per title)."""
    root = Path(__file__).resolve().parent.parent.parent / "seeds"
    papers: dict[str, Paper] = {}
    for path in sorted(root.glob("*.txt")):
        for p in parse(path.read_bytes(), path.name).papers:
            papers.setdefault(p.title, p)
    state = tmp_path_factory.mktemp("seeded") / "s.db"
    with open_state(state) as store:
        backlog.ingest(sorted(root.glob("*.txt")), store)
    return state, [p for p in papers.values() if len(p.abstract) > 200]


@pytest.mark.parametrize("how", REPOSTS)
def test_every_seed_paper_reposted_is_recognised(
    seeded: tuple[Path, list[Paper]], how: str
) -> None:
    state, papers = seeded
    rng = random.Random(how)
    listed = [REPOSTS[how](p, rng) for p in papers]
    if how == "re-titled":  # each its own title, or they would be one paper among themselves
        listed = [Paper(f"{p.title} {i}", p.abstract) for i, p in enumerate(listed)]
    with open_state(state) as store:
        decision = pipeline.decide(listed, store)
    assert [p.title for p in decision.new] == []
    assert all(s.matched is not None for s in decision.skipped)
    wrong = [
        (s.paper.title, s.matched.title)
        for s, original in zip(decision.skipped, papers, strict=True)
        if s.matched is not None and s.matched.title != original.title
    ]
    assert wrong == []


@pytest.mark.parametrize("how", LOOKALIKES)
def test_every_lookalike_of_a_seed_paper_is_new(seeded: tuple[Path, list[Paper]], how: str) -> None:
    state, papers = seeded
    # Each look-alike has an abstract of its own: another paper's words, shuffled.
    abstracts = []
    for i, p in enumerate(papers[1:] + papers[:1]):
        words = p.abstract.split()
        random.Random(i).shuffle(words)
        abstracts.append(" ".join(words))
    listed = [
        Paper(LOOKALIKES[how](p), abstract) for p, abstract in zip(papers, abstracts, strict=True)
    ]
    listed = [p for p, original in zip(listed, papers, strict=True) if p.title != original.title]
    bare = [Paper(p.title, "") for p in listed]
    with open_state(state) as store:
        assert [s.paper.title for s in pipeline.decide(listed, store).skipped] == []
        assert [s.paper.title for s in pipeline.decide(bare, store).skipped] == []
