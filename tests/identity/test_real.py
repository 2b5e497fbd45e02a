"""Real papers against their look-alikes and their revisions.

A look-alike is another paper: a sequel (V1.5 / V2), the 3D version of a 2D paper, the same
study at another size, a paper sharing a placeholder abstract. Each must be shown, however
alike the titles and abstracts. A revision is the same paper listed again: it is left out,
flagged as revised when its abstract changed (so that the new abstract is recorded and the
"Updated" section shows it), and explained by the rule that decided.

The papers are real (tests/fixtures/real, seeds); a look-alike or a revision is the real
listing with the edits a sequel or a revision makes, without arXiv ids (a text dump has none)
so that titles and abstracts decide.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rapidfuzz import fuzz

from digest.config import Settings
from digest.identity.decide import Decision, decide
from digest.identity.keys import Identity, keys, normalise
from digest.identity.rule import Verdict, compare
from digest.models import Paper, SeenPaper, StoredPaper, Thresholds
from digest.pipeline import run_once
from digest.render import explain
from digest.state import open as open_state
from tests.realpapers import paper
from tests.test_pipeline import Recorder

WHEN = datetime(2026, 3, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Edit:
    """A real paper listed again with its title replaced and words of its abstract changed."""

    key: str  # the real paper: arXiv id, or title where its dump has none
    title: str
    changes: tuple[tuple[str, str], ...]

    def original(self) -> Paper:
        found = paper(self.key)
        return Paper(found.title, found.abstract, source="first.txt")

    def listed(self) -> Paper:
        abstract = self.original().abstract
        for old, new in sorted(self.changes, key=lambda change: -len(change[0])):
            assert old in abstract, old
            abstract = abstract.replace(old, new)
        return Paper(self.title or self.original().title, abstract, source="second.txt")

    def scores(self) -> tuple[float, float]:
        """How alike the titles and the abstracts are, normalised (0-100)."""
        a = Identity.of(self.original().title, self.original().abstract)
        b = Identity.of(self.listed().title, self.listed().abstract)
        return fuzz.ratio(a.title, b.title), fuzz.ratio(a.abstract, b.abstract)


def _against(stored: Paper, listed: Paper) -> Decision:
    """`listed` decided against a store holding only `stored`."""
    seen = SeenPaper(1, stored.title, WHEN, stored.source)
    index = {key: seen for key in keys(stored)}
    return decide([listed], index, [[StoredPaper(seen, stored.title, stored.abstract)]])


# --- Look-alikes: other papers, each to be shown ------------------------------------------

MOVE_3D = (
    ("Move-in-2D", "Move-in-3D"),
    ("scene image", "scene point cloud"),
    ("video dataset", "motion capture dataset"),
    (
        "Generating realistic human videos remains a challenging task",
        "Generating realistic human motion in 3D scenes remains a challenging task",
    ),
)
DIT_64B = (
    ("16.5B", "64B"),
    ("1.80", "1.62"),
    ("512times512", "1024times1024"),
    (
        "shared expert routing and expert-level balance loss",
        "fine-grained expert routing and a global balance loss",
    ),
)
PROVER_V2 = (
    ("DeepSeek-Prover-V1.5", "DeepSeek-Prover-V2"),
    ("DeepSeek-Prover-V1", "DeepSeek-Prover-V1.5"),
    ("63.5%", "88.9%"),
    ("25.3%", "37.1%"),
)
QWEN_3 = (
    ("Qwen2.5", "Qwen3"),
    ("Qwen 2.5", "Qwen3"),
    ("18 trillion", "36 trillion"),
    ("7 trillion", "18 trillion"),
    ("Llama-3-405B-Instruct", "DeepSeek-V3"),
)
# A sequel rewrites more of its original's abstract: a sentence or two of its own.
MORE = {
    "2412.13185": (
        (
            "Experiments demonstrate that our method effectively predicts human motion that"
            " aligns with the scene image after projection.",
            "Experiments demonstrate that our method predicts human motion that respects the"
            " geometry of the scene.",
        ),
    ),
    "Scaling Diffusion Transformers to 16 Billion Parameters": (
        (
            "We attribute it to the diffusion process that first models the low-frequency"
            " spatial information and then high-frequency complex information.",
            "We trace it to the order in which diffusion denoises coarse structure before fine"
            " detail.",
        ),
        (
            "a deep analysis of experts specialization gains some interesting observations",
            "we analyse how experts specialise",
        ),
    ),
    "2408.08152": (
        (
            "Further refinement is achieved through reinforcement learning from proof"
            " assistant feedback (RLPAF).",
            "Subgoals proposed by a larger model are proved recursively and the proofs"
            " distilled into the prover.",
        ),
        (
            "Pre-trained on DeepSeekMath-Base with specialization in formal mathematical languages",
            "Initialised from DeepSeek-V3",
        ),
    ),
    "2412.15115": (
        (
            "This provides a strong foundation for common sense, expert knowledge, and"
            " reasoning capabilities.",
            "Thinking and non-thinking modes are unified in one model, with a budget for thinking.",
        ),
        (
            "In terms of post-training, we implement intricate supervised finetuning with over 1"
            " million samples, as well as multistage reinforcement learning.",
            "Post-training distils the flagship models into smaller ones.",
        ),
    ),
}
SEQUELS = {
    "2D / 3D": Edit("2412.13185", "Move-in-3D: 3D-Conditioned Human Motion Generation", MOVE_3D),
    "16 / 64 billion": Edit(
        "Scaling Diffusion Transformers to 16 Billion Parameters",
        "Scaling Diffusion Transformers to 64 Billion Parameters",
        DIT_64B,
    ),
    "V1.5 / V2": Edit(
        "2408.08152",
        "DeepSeek-Prover-V2: Harnessing Proof Assistant Feedback for Reinforcement Learning and"
        " Monte-Carlo Tree Search",
        PROVER_V2,
    ),
    "Qwen2.5 / Qwen3": Edit("2412.15115", "Qwen3 Technical Report", QWEN_3),
}
# Revised-level: the abstracts as alike as a revision's (80-95), the titles alike (85 or more).
REWRITTEN = {
    case: Edit(edit.key, edit.title, edit.changes + MORE[edit.key])
    for case, edit in SEQUELS.items()
}


@pytest.mark.parametrize("case", REWRITTEN)
def test_a_sequel_with_an_abstract_as_alike_as_a_revision_is_another_paper(case: str) -> None:
    edit = REWRITTEN[case]
    title, abstract = edit.scores()
    assert title >= 85 and 80 <= abstract < 95, (title, abstract)  # a revision's likeness
    first, sequel = edit.original(), edit.listed()
    assert _against(first, sequel).new == (sequel,)
    assert _against(sequel, first).new == (first,)
    assert decide([first, sequel], {}).new == (first, sequel)
    verdict = compare(
        Identity.of(sequel.title, sequel.abstract), Identity.of(first.title, ""), Thresholds()
    )
    assert not verdict.same and verdict.rule == "different title"


@pytest.mark.parametrize("case", SEQUELS)
def test_a_sequel_with_nearly_its_originals_abstract_is_another_paper(case: str) -> None:
    """Its title differs from its original's in a number, a version or a dimension: another
    paper, however little of the abstract it rewrote."""
    edit = SEQUELS[case]
    title, abstract = edit.scores()
    assert title >= 85 and abstract >= 95, (title, abstract)
    first, sequel = edit.original(), edit.listed()
    assert _against(first, sequel).new == (sequel,)
    assert _against(sequel, first).new == (first,)
    assert decide([first, sequel], {}).new == (first, sequel)


def test_the_same_paper_relisted_with_a_number_retyped_is_still_recognised() -> None:
    """A number written another way ("Qwen 2.5" for "Qwen2.5") is not another number."""
    first = Paper(paper("2412.15115").title, paper("2412.15115").abstract)
    again = Paper(
        "Qwen 2.5 Technical Report", first.abstract.replace("diverse needs", "varied needs")
    )
    (skip,) = _against(first, again).skipped
    assert (skip.rule, skip.revised) == ("similar abstract", True)


# Real pairs of different papers that look alike.
REAL_PAIRS = [
    # One group's two papers on one architecture: their abstracts 61% alike.
    (
        "UniFormer: Unifying Convolution and Self-attention for Visual Recognition",
        "UniFormer: Unified Transformer for Efficient Spatiotemporal Representation Learning",
    ),
    # Two technical reports: titles 80% alike.
    ("2412.15115", "2507.15493"),
]


@pytest.mark.parametrize(("a", "b"), REAL_PAIRS)
def test_real_papers_that_look_alike_stay_apart(a: str, b: str) -> None:
    one, other = (Paper(paper(k).title, paper(k).abstract) for k in (a, b))
    assert _against(one, other).new == (other,)
    assert decide([one, other], {}).new == (one, other)
    # Even with neither abstract to tell them apart.
    bare = Paper(one.title, ""), Paper(other.title, "")
    assert decide(bare, {}).new == bare


# A listing without the abstract says so in a few words; the same few words are no likeness.
PLACEHOLDERS = [
    "Abstract not available.",
    "No abstract.",
    "N/A",
    "Comments: 12 pages, 5 figures. Accepted at ICML 2025.",
    # 99 characters once normalised: one short of identifying a paper.
    "The abstract of this paper is not available in these listings; see the paper's page for"
    " the abstract.",
]


@pytest.mark.parametrize("placeholder", PLACEHOLDERS)
def test_papers_sharing_a_placeholder_abstract_are_different_papers(placeholder: str) -> None:
    one = Paper(paper("2412.13185").title, placeholder, source="a.txt")
    other = Paper(paper("2408.08072").title, placeholder, source="b.txt")
    assert len(normalise(placeholder)) < 100 and Identity.of(one.title, placeholder).abstract == ""
    assert decide([one, other], {}).new == (one, other)
    assert _against(one, other).new == (other,)
    # And a paper listed once with its abstract, once with the placeholder, is one paper.
    full = Paper(one.title, paper("2412.13185").abstract)
    (skip,) = _against(full, one).skipped
    assert (skip.rule, skip.revised) == ("same title", False)


# --- Revisions: the same paper, left out, flagged and explained ----------------------------

LIGHT = (("large-scale video dataset", "large video dataset"),)
HEAVIER = (
    ("large-scale video dataset", "large video dataset"),
    (
        "Existing approaches often use existing motion extracted from other videos, which"
        " restricts applications to specific motion types and global scene matching.",
        "Prior work reuses motion taken from other videos.",
    ),
    (
        "Furthermore, we show that the generated motion sequence improves human motion quality"
        " in video synthesis tasks.",
        "The motion also improves human videos made from it.",
    ),
)
MOVE = "Move-in-2D: 2D-Conditioned Human Motion Generation"
# Two light revisions, one after the other: each like the one before, the second not like
# the first abstract any more.
STEP_ONE = (
    (
        "which restricts applications to specific motion types and global scene matching",
        "which limits them to given motion types",
    ),
)
STEP_TWO = (
    (
        "Experiments demonstrate that our method effectively predicts human motion that aligns"
        " with the scene image after projection",
        "In experiments the predicted motion fits the scene image once projected",
    ),
)
# (case, edit, rule, score, revised)
REVISIONS = [
    (
        "re-titled, abstract as listed",
        Edit("2412.13185", "Generating Motion From a Scene", ()),
        "same abstract",
        100,
        False,
    ),
    (
        "re-titled, abstract re-typed",
        Edit(
            "2412.13185",
            "Generating Motion From a Scene",
            (("Move-in-2D,", "\\textit{Move-in-2D},"),),
        ),
        "same abstract",
        100,
        False,
    ),
    (
        "re-titled, abstract lightly revised",
        Edit("2412.13185", "Generating Motion From a Scene", LIGHT),
        "similar abstract",
        99.7,
        True,
    ),
    (
        "title slip, abstract lightly revised",
        Edit("2412.13185", MOVE.replace("Motion", "Moiton"), LIGHT),
        "similar abstract",
        99.7,
        True,
    ),
    (
        "title slip, abstract revised",
        Edit("2412.13185", MOVE.replace("Generation", "Genaration"), HEAVIER),
        "similar title, revised abstract",
        88.8,
        True,
    ),
    (
        "title as listed, abstract revised",
        Edit("2412.13185", MOVE, HEAVIER),
        "same title",
        100,
        True,
    ),
    (
        "title as listed, abstract re-wrapped",
        Edit("2412.13185", MOVE, ((". ", ".\n  "),)),
        "same title",
        100,
        False,
    ),
]


@pytest.mark.parametrize(("case", "edit", "rule", "score", "revised"), REVISIONS)
def test_a_revision_is_left_out_flagged_and_explained(
    case: str, edit: Edit, rule: str, score: float, revised: bool
) -> None:
    first, again = edit.original(), edit.listed()
    decision = _against(first, again)
    assert decision.new == ()
    (skip,) = decision.skipped
    assert (skip.rule, round(skip.score, 1), skip.revised) == (rule, score, revised), case
    # A revised abstract is what the store keeps from now on, and what "Updated" shows.
    assert decision.updated == ((skip,) if revised else ())
    changed = "; abstract changed" if revised else ""
    assert explain([skip])[-1] == f"  rule: {rule}, score {score:.0f}{changed}"
    # Listed twice in one run: shown once, the second a repeat; nothing stored is updated.
    within = decide([first, again], {})
    assert within.new == (first,) and within.updated == ()
    (repeat,) = within.skipped
    said = "" if rule == "same title" else f": {rule}"
    assert (repeat.rule, repeat.repeats) == (f"repeated in this run{said}", first)


def test_a_new_version_of_an_arxiv_id_with_a_new_title_and_abstract_is_a_revision() -> None:
    real = paper("2412.13185")
    first = Paper(real.title, real.abstract, arxiv_id="2412.13185v1")
    again = Paper(
        "Generating Motion From a Scene",
        Edit("2412.13185", "", HEAVIER).listed().abstract,
        arxiv_id="2412.13185v2",
    )
    stored = SeenPaper(1, first.title, WHEN, "first.json", ("2412.13185",))
    decision = decide(
        [again],
        {k: stored for k in keys(first)},
        [[StoredPaper(stored, first.title, first.abstract)]],
    )
    (skip,) = decision.skipped
    assert (skip.rule, skip.score, skip.revised, skip.matched) == (
        "same arXiv id",
        100,
        True,
        stored,
    )
    assert decision.updated == (skip,)
    # The same version listed again, its abstract re-wrapped: nothing to update.
    same = Paper(first.title, first.abstract.replace(". ", ".\n"), arxiv_id="arXiv:2412.13185v1")
    assert _against_ids(first, same).updated == ()


def _against_ids(stored: Paper, listed: Paper) -> Decision:
    ids = tuple(k[2:] for k in keys(stored) if k.startswith("x:"))
    seen = SeenPaper(1, stored.title, WHEN, "first.json", ids)
    return decide(
        [listed],
        {k: seen for k in keys(stored)},
        [[StoredPaper(seen, stored.title, stored.abstract)]],
    )


# --- The fuzzy rule itself, pinned on real text -------------------------------------------


def _identity(p: Paper) -> Identity:
    return Identity.of(p.title, p.abstract)


@pytest.mark.parametrize(
    ("case", "edit", "expected"),
    [
        ("similar abstract", REVISIONS[2][1], Verdict(True, "similar abstract", 99.7, True)),
        ("same abstract", REVISIONS[0][1], Verdict(True, "same abstract", 100, False)),
        ("revised", REVISIONS[4][1], Verdict(True, "similar title, revised abstract", 88.8, True)),
        ("a sequel", REWRITTEN["V1.5 / V2"], Verdict(False, "different abstract", 88.1)),
        ("a sequel, near copy", SEQUELS["V1.5 / V2"], Verdict(False, "different abstract", 98.5)),
    ],
)
def test_the_verdict_of_the_fuzzy_rule(case: str, edit: Edit, expected: Verdict) -> None:
    found = compare(_identity(edit.listed()), _identity(edit.original()), Thresholds())
    assert (found.same, found.rule, round(found.score, 1), found.revised) == (
        expected.same,
        expected.rule,
        expected.score,
        expected.revised,
    ), case


def test_a_revision_is_recorded_and_later_listings_are_compared_with_it(
    location: object, inbox: Path
) -> None:
    """Listed re-titled with its abstract lightly revised, the paper is shown as updated and
    its new abstract kept: a later listing revised a little further is still the same paper,
    though it is no longer like the first abstract."""
    real = paper("2412.13185")
    revisions = [
        (real.title, real.abstract),
        ("Generating Motion From a Scene", Edit("2412.13185", "", STEP_ONE).listed().abstract),
        (
            "Scene-Aware Motion From One Image",
            Edit("2412.13185", "", STEP_ONE + STEP_TWO).listed().abstract,
        ),
    ]
    first, one, two = (Identity.of(t, a).abstract for t, a in revisions)
    assert fuzz.ratio(one, first) >= 95 and fuzz.ratio(two, one) >= 95 > fuzz.ratio(two, first)
    settings = Settings(inbox=inbox, state=location, show_updated=True)  # type: ignore[arg-type]
    shown = []
    with open_state(location) as store:  # type: ignore[arg-type]
        for day, (title, abstract) in enumerate(revisions, 1):
            (inbox / f"day{day}.txt").write_text(f"{title}\n\n{abstract}\n", encoding="utf-8")
            out = Recorder()
            run_once(settings, store, out, WHEN + timedelta(days=day))
            (letter,) = out.delivered or [None]
            shown.append(json.loads(letter.part("json")) if letter else None)
    assert [p["title"] for p in shown[0]["papers"]] == [real.title]
    assert shown[1]["papers"] == [] and [u["rule"] for u in shown[1]["updated"]] == [
        "similar abstract"
    ]
    assert shown[1]["updated"][0]["revised"] is True
    assert shown[2] is None or shown[2]["papers"] == []


def test_the_fuzzy_rule_agrees_with_the_abstract_key() -> None:
    """The same abstract is the same paper whatever the titles say, as its exact key says:
    only a changed abstract can be a sequel's."""
    real = paper("2412.15115")
    one = Identity.of(real.title, real.abstract)
    other = Identity.of("Qwen3 Technical Report", real.abstract)
    assert compare(other, one, Thresholds()) == Verdict(True, "same abstract", 100)
    assert keys(Paper(other.title, real.abstract))[-1] == keys(real)[-1]
