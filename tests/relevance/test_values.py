"""Relevance by its values, not only its orders: stems and stop words, term statistics, the
rows of the catalogue's term space, and the scores and reasons of small profiles worked out by
hand, then of real days with likes and dislikes."""

from __future__ import annotations

import math

import pytest

from digest.interests import Interests, select
from digest.models import Paper
from digest.relevance import Catalogue, Profile, choose, rank
from digest.relevance.lexical import Idf, Space, centroid, cosine
from digest.relevance.words import STOPWORDS, paper_text, stem, terms, words
from tests.relevance.test_relevance import day, titled

LOG2 = 1.0 + math.log(2)  # the damped weight of a term met twice


# -- words ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "stemmed"),
    [
        # -ize words, British or American, end in "iz" whatever follows.
        ("quantisation", "quantiz"),
        ("quantization", "quantiz"),
        ("quantizations", "quantiz"),
        ("quantised", "quantiz"),
        ("quantized", "quantiz"),
        ("quantising", "quantiz"),
        ("quantize", "quantiz"),
        ("quantizes", "quantiz"),
        ("hypothesised", "hypothesiz"),
        ("tokenizers", "tokeniz"),  # -ers first: no -ize suffix is left at the end
        # ... only while three letters remain before it.
        ("ionize", "ioniz"),
        ("ionizing", "ioniz"),
        ("size", "size"),
        ("sizes", "size"),
        ("prize", "prize"),
        # One common suffix, the longest listed first, while four letters remain.
        ("representations", "represent"),
        ("representation", "represent"),
        ("relations", "relation"),  # "rel" would be too short: only the -s goes
        ("alignments", "align"),
        ("alignment", "align"),
        ("activities", "activ"),
        ("happiness", "happi"),
        ("learners", "learn"),
        ("learning", "learn"),
        ("learned", "learn"),
        ("learner", "learn"),
        ("memories", "memor"),
        ("studied", "stud"),
        ("generative", "generat"),
        ("graphical", "graphic"),
        ("quickly", "quick"),
        ("models", "model"),
        ("classes", "class"),
        ("agents", "agent"),
        # Words that end like a suffix but are too short to lose it.
        ("goes", "goes"),
        ("bed", "bed"),
        ("ring", "ring"),
        ("attention", "attention"),
        ("is", "is"),
    ],
)
def test_each_word_has_one_stem(word: str, stemmed: str) -> None:
    assert stem(word) == stemmed


@pytest.mark.parametrize(
    ("text", "found"),
    [
        # Lower case; stop words, numbers and single letters left out; digits inside a word
        # kept; a hyphen splits.
        (
            "We propose GPT4 and 3 new LLMs, a 2x speed-up in Quantised RL",
            [
                ("gpt4", "gpt4"),
                ("llms", "llms"),
                ("2x", "2x"),
                ("speed", "speed"),
                ("quantiz", "quantised"),
                ("rl", "rl"),
            ],
        ),
        # The words every abstract uses say nothing of its topic.
        ("This paper presents novel results; experiments show significant performance", []),
        ("interested in things, especially anything including ways", []),
        # A possessive or a contraction meets the word itself; a name keeps its apostrophe.
        ("the model's memory", [("model", "model's"), ("memory", "memory")]),
        ("the models' memory", [("model", "models"), ("memory", "memory")]),
        ("we're sure it's O'Brien's", [("sure", "sure"), ("o'brien", "o'brien")]),
        ("", []),
    ],
)
def test_words_are_the_stems_that_carry_meaning(text: str, found: list[tuple[str, str]]) -> None:
    assert list(words(text)) == found


def test_a_word_written_with_a_curly_or_straight_apostrophe_is_one_term() -> None:
    assert terms("the model\u2019s memory") == terms("the model's memory") == terms("model memory")


def test_the_stop_words_include_the_words_of_every_abstract() -> None:
    for word in ("the", "we", "paper", "propose", "novel", "results", "significant", "github"):
        assert word in STOPWORDS
    for word in ("model", "language", "robot", "memory", "agent"):
        assert word not in STOPWORDS


def test_terms_are_the_stems_then_each_pair_of_neighbours() -> None:
    assert terms("Robot grasping with language models") == (
        "robot",
        "grasp",
        "language",
        "model",
        "robot grasp",
        "grasp language",  # "with" is a stop word: its neighbours meet
        "language model",
    )
    assert terms("Robot") == ("robot",)
    assert terms("") == ()


def test_a_paper_is_compared_by_its_title_twice_abstract_keywords_and_authors() -> None:
    paper = Paper(
        "Robot Arms",
        "We grasp.",
        authors=("Ann Lee", "Bo Li"),
        ai_keywords=("grasping", "manipulation"),
    )
    assert paper_text(paper) == (
        "Robot Arms\nRobot Arms\nWe grasp.\ngrasping\nmanipulation\nAnn Lee\nBo Li"
    )


# -- term statistics ---------------------------------------------------------------------------


def test_idf_counts_each_term_once_a_document() -> None:
    idf = Idf.fit([("a", "b", "a"), ("b",), ()])
    assert (dict(idf.df), idf.n) == ({"a": 1, "b": 2}, 3)
    # Smoothed: log((1 + n) / (1 + df)) + 1, an unseen term weighing most.
    assert idf.weight("a") == pytest.approx(math.log(4 / 2) + 1)
    assert idf.weight("b") == pytest.approx(math.log(4 / 3) + 1)
    assert idf.weight("unseen") == pytest.approx(math.log(4 / 1) + 1)
    assert Idf.fit([]).weight("x") == pytest.approx(1.0)


def test_a_vector_damps_frequencies_by_a_log_and_has_unit_length() -> None:
    idf = Idf.fit([("a", "b", "a"), ("b",), ()])
    a = LOG2 * (math.log(2) + 1)  # "a" met twice
    b = 1.0 * (math.log(4 / 3) + 1)
    c = 1.0 * (math.log(4) + 1)
    norm = math.sqrt(a * a + b * b + c * c)
    vector = idf.vector(("a", "b", "a", "c"))
    assert vector == pytest.approx({"a": a / norm, "b": b / norm, "c": c / norm})
    assert math.fsum(w * w for w in vector.values()) == pytest.approx(1.0)
    assert idf.vector(()) == {}


def test_the_cosine_of_unit_vectors_is_their_dot_product() -> None:
    a = {"x": 0.6, "y": 0.8}
    b = {"x": 0.8, "z": 0.6}
    assert cosine(a, b) == pytest.approx(0.48)
    assert cosine(b, a) == pytest.approx(0.48)
    assert cosine(a, a) == pytest.approx(1.0)
    assert cosine(a, {}) == 0.0


def test_the_centroid_is_the_mean_divided_by_its_norm_not_by_the_count() -> None:
    got = centroid([{"a": 1.0}, {"a": 0.6, "b": 0.8}])
    norm = math.sqrt(1.6**2 + 0.8**2)
    assert got == pytest.approx({"a": 1.6 / norm, "b": 0.8 / norm})
    # Two orthogonal unit vectors: their centroid is at 45 degrees, of unit length.
    both = centroid([{"a": 1.0}, {"b": 1.0}])
    assert both == pytest.approx({"a": 1 / math.sqrt(2), "b": 1 / math.sqrt(2)})
    assert centroid([{"a": 0.6, "b": 0.8}]) == pytest.approx({"a": 0.6, "b": 0.8})
    assert centroid([]) == {}


def test_a_space_s_rows_are_the_unit_vectors_and_its_unseen_terms_come_after() -> None:
    idf = Idf.fit([("a", "b"), ("b",)])
    space = Space.of(idf)
    extra: dict[str, int] = {}
    space.columns([("a", "c", "c")], extra)
    assert sorted(space.index.values()) == [0, 1] and extra == {"c": 2}
    got = space.matrix([("a", "c", "c"), ("b",)], extra).toarray()
    a, c = idf.weight("a"), LOG2 * idf.weight("c")
    assert got[0, space.index["a"]] == pytest.approx(a / math.hypot(a, c))
    assert got[0, 2] == pytest.approx(c / math.hypot(a, c))
    assert got[1, space.index["b"]] == pytest.approx(1.0)
    # Without the extra columns, an unseen term is left out, the others' weights unchanged.
    alone = space.matrix([("a", "c", "c")], {}).toarray()
    assert alone.shape == (1, 2) and alone[0, space.index["a"]] == pytest.approx(
        got[0, 0 + space.index["a"]]
    )


# -- scores worked out by hand -------------------------------------------------------------------

ROBOT = Paper("Robot", "")  # terms: robot twice, "robot robot" once
GRASP = Paper("Grasp", "")
BOTH = Paper("Robot grasp", "")


def test_an_interest_scores_the_cosine_of_the_paper_with_the_widened_interest() -> None:
    """ "robot" and "robot robot" occur in one of two papers: the same weight each, so ROBOT is
    (LOG2, 1) / |(LOG2, 1)|. The interest ("robot") is widened by the paper that fits it best,
    ROBOT itself: (1, 0) + ROBOT, of unit length; a paper's score is its cosine with that."""
    ranking = rank([ROBOT, GRASP], Profile("robot"), model="lexical")
    a, b = LOG2 / math.hypot(LOG2, 1), 1 / math.hypot(LOG2, 1)
    expected = ((1 + a) * a + b * b) / math.hypot(1 + a, b)
    assert ranking.scores == {ROBOT: round(expected, 4), GRASP: 0.0}
    assert ranking.scores[ROBOT] == 0.9646
    assert ranking.reasons == {ROBOT: "matches: robot"}


def test_signals_are_put_on_one_scale_before_they_are_added() -> None:
    """Interests and likes, each divided by its spread over the papers: a like that pulls
    one paper up by far counts as much as the interests, whatever their raw sizes."""
    papers = [Paper(f"Paper {w}", f"{w} things") for w in ("robot", "grasp", "cloth", "web")]
    liked = Paper("Web pages", "web things, web pages")
    profile = Profile("robot", ((liked, 1),))
    ranking = rank(papers, profile, Catalogue.of([*papers, liked]), model="lexical")
    # The interests alone put "robot" first; the like, three times their weight, "web".
    assert ranking.order(papers)[0] == papers[3]
    assert rank(papers, Profile("robot"), model="lexical").order(papers)[0] == papers[0]
    scores = [ranking.scores[p] for p in ranking.order(papers)]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)


def test_dislikes_alone_lower_the_papers_close_to_them() -> None:
    papers = [ROBOT, BOTH]
    catalogue = Catalogue.of([ROBOT, GRASP, BOTH])
    before = rank(papers, Profile("robot"), catalogue, model="lexical")
    after = rank(papers, Profile("robot", ((GRASP, -1),)), catalogue, model="lexical")
    assert after.scores[BOTH] < before.scores[BOTH]
    assert after.order(papers) == before.order(papers) == [ROBOT, BOTH]
    assert after.reasons[BOTH] == before.reasons[BOTH] == "matches: robot"


def test_term_statistics_come_from_the_catalogue_not_the_papers_alone() -> None:
    """Two papers, both about diffusion: alone they make "diffusion" common; in a catalogue
    of papers about other things it is rare, and the reason the reader gave."""
    papers = [Paper("Diffusion for video", "diffusion"), Paper("Diffusion for audio", "diffusion")]
    others = [Paper(f"Agents {i}", "agents browse") for i in range(40)]
    profile = Profile("video diffusion")
    alone = rank(papers, profile)
    seen = rank(papers, profile, Catalogue.of([*others, *papers]))
    assert alone.reasons[papers[0]] == "matches: video, diffusion"  # two papers: all rare
    assert seen.reasons[papers[1]] == "matches: diffusion"
    crowded = Catalogue.of([*(Paper(f"Diffusion {i}", "diffusion") for i in range(40)), *papers])
    assert rank(papers, profile, crowded).reasons == {papers[0]: "matches: video"}


# -- reasons -------------------------------------------------------------------------------------


def test_the_reason_shows_the_three_rarest_words_matched_as_written() -> None:
    paper = Paper(
        "Speech models for robots",
        "Robots hear speech; models of speech for robot arms and robot grasping.",
    )
    other = Paper("Speech and vision", "Speech models.")
    interests = "Robotics; grasping, speech, MODELS, arms"
    ranking = rank([paper, other], Profile(interests), model="lexical")
    # robot, grasp and arm occur in one paper, speech and model in both: the rarer first,
    # in the order the interests give them; at most three.
    assert ranking.reasons[paper] == "matches: grasping, arms, speech"
    assert ranking.reasons[other] == "matches: speech, models"
    again = rank([paper, other], Profile("grasp, grasping, robots, robot"), model="lexical")
    assert again.reasons[paper] == "matches: grasp, robots"


def test_the_reason_names_a_like_only_when_it_stands_out_and_beats_the_interests() -> None:
    liked = Paper("Robot grasping", "Arms that grasp objects.")
    papers = [Paper("Robot arms", "Grasping objects with arms."), Paper("Language", "Words.")]
    ahead = rank(papers, Profile("objects", ((liked, 1),)), model="lexical")
    assert ahead.reasons == {papers[0]: "like: Robot grasping"}
    assert ahead.scores[papers[1]] == 0.0
    behind = rank(papers, Profile("robot arms, grasping objects", ((liked, 1),)), model="lexical")
    assert behind.reasons[papers[0]] == "matches: robot, arms, grasping"


# -- real days -----------------------------------------------------------------------------------


def _seen() -> tuple[list[Paper], list[Paper], Catalogue]:
    papers = day("2026-08-21.json")
    earlier = day("2025-07-22.json") + day("2026-04-29.json")
    return papers, earlier, Catalogue.of([*day("2025-03-18.json"), *earlier, *papers])


def test_a_real_day_with_interests_a_like_and_a_dislike() -> None:
    papers, _, catalogue = _seen()
    liked = titled(day("2025-07-22.json"), "GR-3")
    disliked = titled(day("2025-12-10.json"), "DeepCode")
    profile = Profile("memory of language models, agents", ((liked, 1), (disliked, -1)))
    ranking = rank(papers, profile, catalogue, model="lexical")
    top = [(p.title[:12], ranking.scores[p]) for p in ranking.order(papers)]
    assert top[:4] == [
        ("EXIMO: VLM G", 0.141),
        ("Listening Fo", 0.0953),
        ("EnvHarness: ", 0.0929),
        ("PolicyGuide:", 0.0883),
    ]
    # In 69 papers, "memory", "models" and "agents" are each in more than a tenth: no reason.
    assert ranking.reasons == {titled(papers, "EXIMO"): "like: GR-3 Technical Report"}


def test_a_real_day_ranked_by_five_likes_against_the_catalogue() -> None:
    papers, earlier, catalogue = _seen()
    likes = [p for p in earlier if "agent" in p.title.lower()][:5]
    disliked = titled(day("2025-12-10.json"), "DeepCode")
    profile = Profile("", (*((p, 1) for p in likes), (disliked, -1)))
    ranking = rank(papers, profile, catalogue, model="lexical")
    top = [(p.title[:12], ranking.scores[p]) for p in ranking.order(papers)]
    assert top[:3] == [("EnvHarness: ", 0.1038), ("Listening Fo", 0.097), ("PolicyGuide:", 0.0935)]
    mixing = "like: Data Mixing Agent: Learning to Re-weight Domains for Continual Pre-training"
    assert ranking.reasons[titled(papers, "EnvHarness")] == mixing


# -- the model chosen, and the minimum score ---------------------------------------------------


def test_auto_is_hybrid_for_interests_alone_and_lexical_with_likes() -> None:
    pytest.importorskip("wordllama")
    assert choose("auto", likes=False) == "hybrid"
    assert choose("auto", likes=True) == "lexical"
    assert choose("embedding", likes=True) == "embedding"
    assert rank([ROBOT], Profile("robot", ((GRASP, 1),))).model == "lexical"


@pytest.mark.parametrize(
    ("step", "low"),
    [(-0.0001, False), (0.0, False), (0.0001, True)],
    ids=["under", "at", "over"],
)
def test_a_paper_scored_at_the_minimum_is_shown_in_full(step: float, low: bool) -> None:
    papers = (ROBOT, GRASP)
    score = rank(list(papers), Profile("robot"), model="lexical").scores[ROBOT]
    wants = Interests(interests="robot", min_score=round(score + step, 4), model="lexical")
    chosen = select(papers, wants)
    assert chosen.scores[ROBOT] == score == 0.9646
    assert (ROBOT in chosen.low) is low and (ROBOT in chosen.full) is not low
    assert chosen.low[-1:] == (GRASP,) and chosen.more[-1:] == (GRASP,)  # scored 0
    # A match is a paper with a reason at the minimum or above: none under it.
    assert (ROBOT in chosen.reasons) is not low
