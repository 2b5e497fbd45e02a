"""The TL;DR of a paper, on real abstracts: the listing's AI summary when it has one, else the
sentence that states the contribution, never the opening background."""

from __future__ import annotations

import pytest

from digest.render.tldr import Tldr, _verbs, clip, contribution, sentences, tldr, within
from tests.realpapers import paper, real_papers


@pytest.mark.parametrize(
    ("arxiv_id", "starts"),
    [
        # The opening is background; the contribution comes later, after "To address ...",
        # which is left out.
        ("2604.25914", "We introduce DV-World, a benchmark of 260 tasks"),
        ("2507.15778", "We propose Archer, an entropy-aware RLVR approach"),
        ("2503.10546", "We introduce KUDA, an open-vocabulary manipulation system"),
        ("2412.14462", "We constructed the SAM-FB dataset"),
        ("2501.05122", "We present a comprehensive investigation"),
        ("2503.14504", "We aim to provide a comprehensive and systematic review"),
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
        line = tldr(p.abstract, None, p.title).text
        assert line and len(line) <= 320
        assert within(line, p.abstract)  # a sentence of it, as written but for a lead-in
        if len(found) > 1 and line.rstrip("…")[1:60] == found[0][1:60]:
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
    assert len(line) <= 320 and line.endswith("…") and not line.endswith(" …")


# A TL;DR is at most 320 characters, cut at a word, without a dangling comma.
FITS = "We propose " + "x" * 308 + "."  # 320 characters
WORDS = "We propose " + " ".join(["abcd"] * 100)
LISTED = "We propose " + ", ".join(["abcd"] * 100)


@pytest.mark.parametrize(
    ("abstract", "expected"),
    [
        (FITS, FITS),
        (FITS + "x", "We propose…"),  # 321: one word too long, cut before it
        (WORDS, "We propose " + " ".join(["abcd"] * 61) + "…"),
        (LISTED, "We propose " + ", ".join(["abcd"] * 51) + "…"),
        ("  We   propose\n X.  ", "We propose X."),
    ],
)
def test_the_tldr_is_clipped_at_320_characters(abstract: str, expected: str) -> None:
    line = tldr(abstract).text
    assert line == expected and len(line) <= 320


# The longest AI summary of the real listings, and the same with a sentence more.
SUMMARY = (
    "Current vision-language models used for evaluating image-to-text and text-to-image"
    " tasks show significant reliability issues in detecting various types of output errors,"
    " particularly fine-grained compositional and spatial errors, with pairwise comparison"
    " offering slightly better but still imperfect performance."
)


def test_an_ai_summary_is_clipped_like_a_sentence_of_the_abstract() -> None:
    assert len(SUMMARY) == 312 and paper("2604.21523").ai_summary == SUMMARY
    assert tldr("We propose X.", SUMMARY) == Tldr(SUMMARY, "ai")
    longer = SUMMARY + " The benchmark and the evaluators' scores are released."
    assert tldr("We propose X.", longer) == Tldr(SUMMARY + " The…", "ai")
    assert tldr("We propose X.", "  \n ") == Tldr("We propose X.", "abstract")
    assert tldr("We propose X.", "") == Tldr("We propose X.", "abstract")


@pytest.mark.parametrize(
    ("abstract", "chosen"),
    [
        # What others did, said with "has been" or "have been", is never the TL;DR.
        (
            "Models are large. Many pruning methods have been proposed. We show they fail.",
            "We show they fail.",
        ),
        (
            "Models are large. A compression scheme has been introduced by Smith."
            " Our results show a 2x speed-up.",
            "Our results show a 2x speed-up.",
        ),
        (
            "Models are large. Distillation has been developed for years. Labels help.",
            "Labels help.",
        ),
        ("Models are large. It has been shown that X. We show Y.", "We show Y."),
        # An opening of background words, whatever its verb.
        (
            "Data is scarce. However, a fix is proposed by others. We show it fails.",
            "We show it fails.",
        ),
        ("Data is scarce. Recently, X was introduced. We find it fails.", "We find it fails."),
        ("Data is scarce. Existing methods are designed for text. Labels help.", "Labels help."),
        # The contribution, in the forms authors write it.
        ("Data is scarce. This paper introduces X. We show Y.", "This paper introduces X."),
        ("Data is scarce. The work presents X. We show Y.", "The work presents X."),
        (
            "Data is scarce. Here we tackle it by introducing X. We show Y.",
            "Here we tackle it by introducing X.",
        ),
        (
            "Data is scarce. We study it. We, building on a large body of evidence, propose X.",
            "We, building on a large body of evidence, propose X.",
        ),
        (
            "Data is scarce. We posit that data should be large, diverse and balanced, and"
            " propose X. We show Y.",
            "We posit that data should be large, diverse and balanced, and propose X.",
        ),
        (
            "Data is scarce. A new scheme is thus proposed. We show Y.",
            "A new scheme is thus proposed.",
        ),
        (
            "Data is scarce. X establishes a bound. This paper establishes Y.",
            "This paper establishes Y.",
        ),
        # "to design", "introduced by": what others do, not a contribution.
        (
            "Data is scarce. Efforts to design tools are costly. Bias introduced by labels"
            " hurts. We study it. We, across many different settings, consistently show that"
            " labels help.",
            "We, across many different settings, consistently show that labels help.",
        ),
        # A finding, when nothing is proposed, over what the authors merely do.
        (
            "Data is scarce. We study labels. We demonstrate that labels help.",
            "We demonstrate that labels help.",
        ),
        (
            "Data is scarce. We study labels. We found that labels help.",
            "We found that labels help.",
        ),
        (
            "Data is scarce. We study labels. We reveal that labels help.",
            "We reveal that labels help.",
        ),
        # Said by the authors, a contribution opening with "However" is still theirs.
        ("Data is scarce. However, we propose X. We show Y.", "However, we propose X."),
        # The weakest cue does not pick the opening; nothing found: the first after it.
        ("We study data. Our results are mixed.", "Our results are mixed."),
        ("Data is scarce. It is costly. Labels help.", "It is costly."),
        ("Data is scarce. However, it is costly. Recently, labels were cheap.", "Data is scarce."),
    ],
)
def test_the_contribution_is_chosen_over_what_others_did(abstract: str, chosen: str) -> None:
    assert contribution(abstract) == chosen


@pytest.mark.parametrize(
    ("abstract", "chosen"),
    [
        # A lead-in clause is left out, the subject capitalised.
        ("Data is scarce. To bridge these gaps, we introduce X. We show Y.", "We introduce X."),
        ("Data is scarce. In this paper, we propose X, a fix.", "We propose X, a fix."),
        (
            "Data is scarce. Building on this insight, this work presents X.",
            "This work presents X.",
        ),
        # A clause that carries content stays.
        ("Data is scarce. By pruning, we propose X.", "By pruning, we propose X."),
        # An afterthought loses to the main contribution, wherever it is.
        (
            "Data is scarce. We show that X helps. Lastly, we introduce Y to improve it.",
            "We show that X helps.",
        ),
        ("We present X. Furthermore, we propose Y.", "We present X."),
        # Never future work, limitations or hopes, whatever their cue.
        (
            "Data is scarce. Labels help. Future work will address the ethical implications.",
            "Labels help.",
        ),
        ("Data is scarce. We hope we propose a way forward. Labels help.", "Labels help."),
        (
            "Data is scarce. X works. Limitations of this study include its size.",
            "X works.",
        ),
        # A sentence leaning on the one before loses to one that stands alone.
        (
            "Agents must follow policy. X compiles each policy into a graph."
            " Complementary evaluations find the lowest attack rate.",
            "X compiles each policy into a graph.",
        ),
        # A contribution naming nothing loses to one that names it.
        (
            "Data is scarce. We compare the existing systems and present our new model."
            " We introduce the joint training of X.",
            "We introduce the joint training of X.",
        ),
        # A list is never cut inside: the sentence stops before it.
        (
            "Data is scarce. We build a visual memory that has the following key capabilities:"
            " (1.) The ability to add data; (2.) The ability to remove it.",
            "We build a visual memory that has the following key capabilities.",
        ),
    ],
)
def test_a_tldr_states_the_contribution_whole(abstract: str, chosen: str) -> None:
    assert contribution(abstract) == chosen


def test_the_works_own_name_as_subject_says_what_it_does() -> None:
    abstract = (
        "Agents must follow policy. Failures arise from forbidden actions."
        " PolicyGuide instead compiles each policy into a graph. It transfers to other agents."
    )
    title = "PolicyGuide: From Guarding One Action to Guiding the Whole Workflow"
    assert (
        tldr(abstract, None, title).text == "PolicyGuide instead compiles each policy into a graph."
    )
    assert tldr(abstract).text == "Failures arise from forbidden actions."  # without it


@pytest.mark.parametrize(
    ("text", "split"),
    [
        # A lone capital after a lower-case word is a symbol ending the sentence.
        (
            "Schedules that depend on T. We propose one that does not.",
            ["Schedules that depend on T.", "We propose one that does not."],
        ),
        ("A matrix W. Based on it, we go.", ["A matrix W.", "Based on it, we go."]),
        # Within a name, or a dotted abbreviation, it is not.
        ("As John F. Kennedy said. We go.", ["As John F. Kennedy said.", "We go."]),
        ("Data from U.S. Census records. We go.", ["Data from U.S. Census records.", "We go."]),
        ("J. Smith showed it. We go.", ["J. Smith showed it.", "We go."]),
        # A space lost between two sentences.
        (
            "We introduce X, a Paradigm.This paradigm helps.",
            ["We introduce X, a Paradigm.", "This paradigm helps."],
        ),
        (
            "Code is at github.com/Org/Repo. We go.",
            ["Code is at github.com/Org/Repo.", "We go."],
        ),
        # The quote or bracket closing a sentence stays with it; a list's items do not end one.
        ('It is the "trap." While so.', ['It is the "trap."', "While so."]),
        ("It is fast (see below.) Then it stops.", ["It is fast (see below.)", "Then it stops."]),
        ("It has: (1.) The speed; (2.) The size.", ["It has: (1.) The speed; (2.) The size."]),
        # A list ending "etc." ends the sentence.
        (
            "Tasks such as detection, etc. These work.",
            ["Tasks such as detection, etc.", "These work."],
        ),
        ("Models vs. Humans. We go.", ["Models vs. Humans.", "We go."]),
        ("As in Eq. 3 and Sec. 4. We go.", ["As in Eq. 3 and Sec. 4.", "We go."]),
    ],
)
def test_where_a_sentence_ends(text: str, split: list[str]) -> None:
    assert sentences(text) == split


# The verb forms a cue accepts, as written out for the chooser's patterns: the base, the
# third person (-es after a hissing sound), the past (given after slashes when irregular),
# and "by ...ing"; or, for the passive, the past forms alone.
VERBS = [
    ("propose", "active", "propose|proposes|proposed|by proposing"),
    ("design", "active", "design|designs|designed|by designing"),
    ("establish", "active", "establish|establishes|established|by establishing"),
    ("reach", "active", "reach|reaches|reached|by reaching"),
    ("fix", "active", "fix|fixes|fixed|by fixing"),
    ("focus", "active", "focus|focuses|focused|by focusing"),
    ("build/built", "active", "build|builds|built|by building"),
    ("show/showed/shown", "active", "show|shows|showed|shown|by showing"),
    (
        "propose build/built",
        "active",
        "propose|proposes|proposed|by proposing|build|builds|built|by building",
    ),
    ("propose", "past", "proposed"),
    ("show/showed/shown", "past", "showed|shown"),
    ("propose build/built", "past", "proposed|built"),
]


@pytest.mark.parametrize(("words", "forms", "expected"), VERBS)
def test_the_verb_forms_a_cue_accepts(words: str, forms: str, expected: str) -> None:
    assert _verbs(words, forms) == expected
    if forms == "active":
        assert _verbs(words) == expected


# Cut at the last whole word before the limit, a comma, semicolon or colon left there
# dropped; a word that itself ends in a capital X keeps it.
CLIPS = [
    ("aaa bbb ccc", 11, "aaa bbb ccc"),
    ("aaa bbb ccc", 10, "aaa bbb…"),
    ("aaa bbb ccc", 9, "aaa bbb…"),  # the cut falls just after "bbb "
    ("aaa bbb ccc", 8, "aaa…"),
    ("Use ONNX, then more words", 12, "Use ONNX…"),
    ("Use ONNX; then more words", 12, "Use ONNX…"),
    ("Use ONNX: then more words", 12, "Use ONNX…"),
    ("Use BOX then more words", 10, "Use BOX…"),
]


@pytest.mark.parametrize(("text", "limit", "expected"), CLIPS)
def test_a_line_is_cut_at_its_last_whole_word(text: str, limit: int, expected: str) -> None:
    assert clip(text, limit) == expected
    assert len(expected) <= limit
