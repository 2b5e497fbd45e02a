"""The reader's interests: terms, exclusion, highlights, order, and the cap."""

from __future__ import annotations

import pytest

from digest.errors import ConfigError
from digest.interests import Interests, select
from digest.models import Paper
from digest.patterns import terms


def paper(title: str, abstract: str = "", upvotes: int | None = None, **more: object) -> Paper:
    return Paper(title, abstract, source="d.json", upvotes=upvotes, **more)  # type: ignore[arg-type]


LISTING = (
    paper("Graph Transformers at Scale", upvotes=3),
    paper("Speech Models", "We study diffusion for audio.", upvotes=40),
    paper("A Survey of Everything", upvotes=None),
    paper("Fluid Dynamics with Neural Operators", upvotes=12),
    paper("Diffusion Policies", "Robots.", upvotes=7),
)


def titles(papers: tuple[Paper, ...]) -> list[str]:
    return [p.title.split()[0] for p in papers]


@pytest.mark.parametrize(
    ("highlight", "exclude", "order", "cap", "full", "more", "excluded"),
    [
        # No interests: the listing as it is.
        ("", "", "highlights", 0, ["Graph", "Speech", "A", "Fluid", "Diffusion"], [], []),
        # Highlights first, each group in listing order.
        ("diffusion", "", "highlights", 0, ["Speech", "Diffusion", "Graph", "A", "Fluid"], [], []),
        # Listing order keeps highlights where they are.
        ("diffusion", "", "listing", 0, ["Graph", "Speech", "A", "Fluid", "Diffusion"], [], []),
        # Upvotes: most first, unknown last.
        ("", "", "upvotes", 0, ["Speech", "Fluid", "Diffusion", "Graph", "A"], [], []),
        # Exclusions leave papers out whatever else matches.
        (
            "fluid",
            "fluid, survey",
            "highlights",
            0,
            ["Graph", "Speech", "Diffusion"],
            [],
            ["A", "Fluid"],
        ),
        # The cap: the rest is listed compactly, in the same order.
        ("graph", "", "highlights", 2, ["Graph", "Speech"], ["A", "Fluid", "Diffusion"], []),
        ("", "", "upvotes", 1, ["Speech"], ["Fluid", "Diffusion", "Graph", "A"], []),
        # A cap above the count changes nothing.
        ("", "", "listing", 99, ["Graph", "Speech", "A", "Fluid", "Diffusion"], [], []),
    ],
)
def test_select(
    highlight: str,
    exclude: str,
    order: str,
    cap: int,
    full: list[str],
    more: list[str],
    excluded: list[str],
) -> None:
    wants = Interests(terms(highlight, "H"), terms(exclude, "E"), order, cap)
    chosen = select(LISTING, wants)
    assert (titles(chosen.full), titles(chosen.more), titles(chosen.excluded)) == (
        full,
        more,
        excluded,
    )


@pytest.mark.parametrize(
    ("raw", "text", "matches"),
    [
        ("RL", "Offline RL for robots", True),
        ("RL", "A world model", False),  # whole words: not inside "world"
        ("rl", "Offline RL", True),  # case ignored
        ("large language model", "Large  language\nmodel", True),  # any white space
        ("diffusion", "diffusion-based", True),
        ("diffusion", "diffusions", False),
        (r"diffusion\w*", "diffusions", True),  # a regular expression, as written
        (r"^Speech", "Speech Models", True),
        ("GPT-4o", "GPT-4o mini", True),
        (r"LLMs?\b", "Small LLMs", True),
    ],
)
def test_terms(raw: str, text: str, matches: bool) -> None:
    (term,) = terms(raw, "DIGEST_HIGHLIGHT")
    assert term.text == raw
    assert term.found(text) is matches


def test_terms_are_comma_separated_and_blank_ones_ignored() -> None:
    assert [t.text for t in terms(" graph , ,diffusion\\w*,", "H")] == ["graph", "diffusion\\w*"]
    assert terms("", "H") == ()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("graph, (unclosed", "DIGEST_HIGHLIGHT: '(unclosed' is not a valid regular expression"),
        # RE2 matches in linear time: it has no lookaround and no backreferences.
        (r"(?<!x)ray", "DIGEST_HIGHLIGHT: '(?<!x)ray' is not a valid regular expression"),
        (r"(a)\1", "DIGEST_HIGHLIGHT: '(a)\\\\1' is not a valid regular expression"),
        ("a{1000}{1000}", "DIGEST_HIGHLIGHT: 'a{1000}{1000}' is not a valid regular expression"),
        ("x" * 301, "DIGEST_HIGHLIGHT: a term of at most 300 characters, not 301"),
        ("x*", "DIGEST_HIGHLIGHT: 'x*' matches empty text"),
    ],
)
def test_bad_terms_are_config_errors(raw: str, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        terms(raw, "DIGEST_HIGHLIGHT")
    assert str(e.value).startswith(message)


def test_highlights_list_the_terms_matched_in_title_abstract_authors_keywords() -> None:
    papers = (
        paper("Graph Nets", "with diffusion"),
        paper("Other", authors=("Yee Whye Teh",)),
        paper("Keyworded", ai_keywords=("flow matching",)),
    )
    wants = Interests(terms("graph, diffusion, teh, flow matching, absent", "H"))
    chosen = select(papers, wants)
    assert [chosen.highlights.get(p) for p in papers] == [
        ("graph", "diffusion"),
        ("teh",),
        ("flow matching",),
    ]


# Relevance: the interests in words, likes and min_score (the scorer itself: test_relevance).
RANKED = (
    paper("Graph Transformers at Scale", "Attention over nodes and edges of large graphs."),
    paper("Speech Models", "We study diffusion for audio and speech recognition."),
    paper("A Survey of Everything", "Everything, surveyed."),
    paper("Speech Recognition in Noise", "Robust speech recognition for noisy audio."),
    paper("Diffusion Policies", "Robots learn policies with diffusion."),
)


def test_interests_order_the_papers_most_relevant_first_with_a_score_and_reason() -> None:
    chosen = select(RANKED, Interests(interests="speech recognition, audio", model="lexical"))
    # "Speech Models" fits and says "diffusion": the interests are widened by it.
    assert titles(chosen.full) == ["Speech", "Speech", "Diffusion", "Graph", "A"]
    assert chosen.full[0].title == "Speech Recognition in Noise"
    assert chosen.reasons[chosen.full[0]] == "matches: speech, recognition, audio"
    assert set(chosen.reasons) == set(chosen.full[:2])  # no word of the interests, no reason
    assert set(chosen.scores) == set(RANKED)
    assert chosen.scores[chosen.full[0]] > chosen.scores[chosen.full[1]] > 0


def test_an_explicit_order_keeps_its_order_and_still_scores() -> None:
    wants = Interests(order="listing", interests="speech recognition", model="lexical")
    chosen = select(RANKED, wants)
    assert chosen.full == RANKED
    assert chosen.scores[RANKED[3]] > 0 == chosen.scores[RANKED[0]]


def test_likes_alone_order_the_papers() -> None:
    liked = paper("Audio Diffusion", "Diffusion models generate audio and speech.")
    chosen = select(RANKED, Interests(likes=((liked, 1),)))
    assert chosen.full[0].title == "Speech Models"
    assert chosen.reasons[chosen.full[0]] == "like: Audio Diffusion"


def test_papers_under_min_score_are_listed_compactly_after_the_rest_and_counted() -> None:
    wants = Interests(interests="speech recognition", min_score=0.01, max_papers=1, model="lexical")
    chosen = select(RANKED, wants)
    assert titles(chosen.full) == ["Speech"]
    assert chosen.full[0].title == "Speech Recognition in Noise"
    assert chosen.more[0].title == "Speech Models"  # past the cap, above the minimum
    assert titles(chosen.low) == ["Graph", "A"]  # under it: last, in order
    assert chosen.more[2:] == chosen.low
    assert len(chosen.full) + len(chosen.more) == len(RANKED)  # never dropped


def test_the_default_model_puts_the_papers_that_fit_first() -> None:
    chosen = select(RANKED, Interests(interests="speech recognition"))
    assert [p.title for p in chosen.full[:2]] == ["Speech Recognition in Noise", "Speech Models"]
    assert chosen.reasons[chosen.full[0]] == "matches: speech, recognition"


def test_without_interests_or_likes_nothing_is_scored() -> None:
    chosen = select(RANKED, Interests(min_score=0.5))
    assert (chosen.scores, chosen.reasons, chosen.low) == ({}, {}, ())
    assert chosen.full == RANKED
