"""Relevance by its values, not only its orders: stems and stop words, term statistics, the
likes' centroid and linear model, and the scores and reasons of small profiles worked out by
hand, then of real days with likes and dislikes."""

from __future__ import annotations

import math

import pytest

from digest.interests import Interests, select
from digest.models import Paper
from digest.relevance import LINEAR_MIN, Profile, Ranking, choose, rank
from digest.relevance.lexical import Idf, centroid, cosine, linear
from digest.relevance.words import STOPWORDS, paper_text, stem, terms, words
from tests.test_relevance import day, titled

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


LIKED = [{"robot": 0.8, "policy": 0.6}, {"robot": 0.6, "grasp": 0.8}]
OTHERS = [{"policy": 0.6, "language": 0.8}, {"language": 1.0}, {"grasp": 0.6, "web": 0.8}]


def test_one_step_of_the_linear_model_is_half_the_difference_of_the_class_means() -> None:
    """From zero weights, the first gradient step with classes weighted alike (each half) is
    (mean of the likes - mean of the others) / 2, over the likes' terms only."""
    got = linear(LIKED, OTHERS, steps=1)
    liked = {
        t: sum(v.get(t, 0.0) for v in LIKED) / len(LIKED) for t in ("robot", "policy", "grasp")
    }
    others = {t: sum(v.get(t, 0.0) for v in OTHERS) / len(OTHERS) for t in liked}
    assert got == pytest.approx({t: (liked[t] - others[t]) / 2 for t in liked})
    assert got == pytest.approx({"robot": 0.35, "policy": 0.05, "grasp": 0.1})


def test_the_linear_model_weighs_the_classes_alike_whatever_their_sizes() -> None:
    """Each class counts as one half: repeating every paper of one class changes nothing."""
    plain = linear(LIKED, OTHERS, strength=0.0)
    assert linear(LIKED, OTHERS * 4, strength=0.0) == pytest.approx(plain)
    assert linear(LIKED * 3, OTHERS, strength=0.0) == pytest.approx(plain)


def test_the_linear_model_s_fitted_weights() -> None:
    weights = linear(LIKED, OTHERS)
    assert weights == pytest.approx(
        {"robot": 0.748486, "grasp": 0.211580, "policy": 0.103357}, abs=1e-6
    )
    # Regularisation shrinks the weights; a term the others have more than the likes weighs
    # against (and is kept: only a weight of exactly 0 is left out).
    loose = linear(LIKED, OTHERS, strength=0.0)
    assert math.hypot(*loose.values()) > math.hypot(*weights.values())
    against = linear([{"robot": 0.6, "policy": 0.8}], [{"policy": 1.0}, {"policy": 1.0}])
    assert against["robot"] > 0 > against["policy"]


# -- scores worked out by hand -------------------------------------------------------------------

ROBOT = Paper("Robot", "")  # terms: robot twice, "robot robot" once
GRASP = Paper("Grasp", "")
BOTH = Paper("Robot grasp", "")


def test_an_interest_scores_the_cosine_of_the_paper_with_it() -> None:
    ranking = rank([ROBOT, GRASP], Profile("robot"), model="lexical")
    # "robot" and "robot robot" occur in one of two papers: the same weight each, so the
    # query ("robot") meets the paper's vector at LOG2 / sqrt(LOG2^2 + 1).
    assert ranking.scores == {ROBOT: round(LOG2 / math.hypot(LOG2, 1), 4), GRASP: 0.0}
    assert ranking.scores[ROBOT] == 0.861
    assert ranking.reasons == {ROBOT: "matches: robot", GRASP: "no match"}


def test_two_likes_score_by_their_centroid_of_unit_length() -> None:
    """A paper as one of two unrelated likes is at 45 degrees to their centroid: 1/sqrt(2),
    however many likes there are of each (the mean divided by its norm, not their count)."""
    likes = Profile(likes=((ROBOT, 1), (GRASP, 1)))
    ranking = rank([ROBOT, GRASP], likes, model="lexical")
    assert ranking.scores == {ROBOT: 0.7071, GRASP: 0.7071}
    assert ranking.reasons == {ROBOT: "like: Robot", GRASP: "like: Grasp"}
    one = rank([ROBOT, GRASP], Profile(likes=((ROBOT, 1),)), model="lexical")
    assert one.scores == {ROBOT: 1.0, GRASP: 0.0}
    assert one.reasons == {ROBOT: "like: Robot", GRASP: "no match"}


def _idf(df: int, n: int = 5) -> float:
    return math.log((1 + n) / (1 + df)) + 1


def test_a_paper_between_a_like_and_a_dislike_scores_half_its_closeness_to_the_like() -> None:
    """ROBOT liked, GRASP disliked, BOTH ranked with them: five documents. BOTH is as close to
    either (its terms: robot and grasp twice each, "robot grasp" twice, "grasp robot" once);
    the dislike takes half of that closeness off."""
    near = LOG2 * _idf(3)  # robot (or grasp) in BOTH, ROBOT and its like
    pair = _idf(1)  # "robot grasp", "grasp robot": in BOTH only
    both = math.sqrt(2 * near**2 + (LOG2 * pair) ** 2 + pair**2)
    liked = math.hypot(near, _idf(2))  # ROBOT: robot twice, "robot robot" once
    closeness = near * near / (both * liked)
    assert closeness == pytest.approx(0.36412, abs=1e-5)

    papers = [ROBOT, GRASP, BOTH]
    alone = rank(papers, Profile(likes=((ROBOT, 1),)), [paper_text(GRASP)], model="lexical")
    ranking = rank(papers, Profile(likes=((ROBOT, 1), (GRASP, -1))), model="lexical")
    assert alone.scores[BOTH] == round(closeness, 4)
    assert ranking.scores[BOTH] == round(closeness - 0.5 * closeness, 4) == 0.1821
    # As close to a dislike as to nothing liked: never below 0.
    assert ranking.scores[GRASP] == 0.0 and ranking.scores[ROBOT] == 1.0
    assert ranking.reasons == {ROBOT: "like: Robot", GRASP: "no match", BOTH: "like: Robot"}
    # Liked both: BOTH is at the same closeness to each, so sqrt(2) times it to their centroid.
    two = rank(papers, Profile(likes=((ROBOT, 1), (GRASP, 1))), model="lexical")
    assert two.scores[BOTH] == round(math.sqrt(2) * closeness, 4) == 0.5149


def test_dislikes_alone_lower_the_scores_of_the_interests() -> None:
    papers = [ROBOT, BOTH]
    corpus = [paper_text(GRASP)]
    before = rank(papers, Profile("robot"), corpus, model="lexical")
    after = rank(papers, Profile("robot", ((GRASP, -1),)), model="lexical")
    assert after.scores[ROBOT] == before.scores[ROBOT]  # nothing of GRASP in it
    assert 0 < after.scores[BOTH] < before.scores[BOTH]
    assert after.reasons[BOTH] == before.reasons[BOTH] == "matches: robot"


# -- scores as the documented sum of their parts ------------------------------------------------


def _expected(
    papers: list[Paper],
    interests: str,
    likes: list[Paper],
    dislikes: list[Paper],
    corpus: list[str],
    learned: bool,
) -> dict[Paper, float]:
    """What the module docstring says a score is, from the term statistics alone: the cosine
    with the interests, plus the cosine with the likes' direction (their centroid, or the
    linear model of likes against dislikes and the papers), less half the cosine with the
    nearest dislike; within 0 and 1, to four places."""
    docs = [terms(paper_text(p)) for p in papers]
    liked = [terms(paper_text(p)) for p in likes]
    disliked = [terms(paper_text(p)) for p in dislikes]
    idf = Idf.fit([*(terms(t) for t in corpus), *docs, *liked, *disliked])
    vectors = [idf.vector(d) for d in docs]
    pos = [idf.vector(d) for d in liked]
    neg = [idf.vector(d) for d in disliked]
    query = idf.vector(terms(interests))
    direction = centroid([linear(pos, [*neg, *vectors])] if learned else pos)
    scores = {}
    for paper, v in zip(papers, vectors, strict=True):
        away = max((cosine(v, n) for n in neg), default=0.0)
        like = cosine(v, direction) - 0.5 * away if pos or neg else 0.0
        scores[paper] = round(max(0.0, min(1.0, cosine(query, v) + like)), 4)
    return scores


@pytest.mark.parametrize("learned", [False, True], ids=["centroid", "linear"])
def test_a_score_is_interests_plus_likes_less_half_the_nearest_dislike(learned: bool) -> None:
    papers = day("2026-08-21.json")
    earlier = day("2025-07-22.json") + day("2026-04-29.json")
    likes = [p for p in earlier if "agent" in p.title.lower()][:LINEAR_MIN]
    dislikes = [titled(day("2025-12-10.json"), "DeepCode"), titled(earlier, "GR-3")]
    corpus = [paper_text(p) for p in day("2025-03-18.json")]
    interests = "memory of language models, agents"
    profile = Profile(interests, (*((p, 1) for p in likes), *((p, -1) for p in dislikes)))
    # Exactly LINEAR_MIN likes fit the linear model; one more needed, the centroid.
    minimum = LINEAR_MIN if learned else LINEAR_MIN + 1
    ranking = rank(papers, profile, corpus, model="lexical", linear_min=minimum)
    expected = _expected(papers, interests, likes, dislikes, corpus, learned)
    assert ranking.scores == pytest.approx(expected, abs=1e-9)
    assert len(set(expected.values())) > len(papers) // 2  # not all floored alike


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


def test_the_reason_names_a_like_only_when_it_scores_more_than_the_interests() -> None:
    liked = Paper("Robot grasping", "Arms that grasp objects.")
    papers = [Paper("Robot arms", "Grasping objects with arms."), Paper("Language", "Words.")]
    ahead = rank(papers, Profile("objects", ((liked, 1),)), model="lexical")
    assert ahead.reasons[papers[0]] == "like: Robot grasping"
    # Nothing in common with the like or the interests: 0 each, and no reason to give.
    assert ahead.scores[papers[1]] == 0.0
    assert ahead.reasons[papers[1]] == "no match"
    behind = rank(papers, Profile("robot arms, grasping objects", ((liked, 1),)), model="lexical")
    assert behind.reasons[papers[0]] == "matches: robot, arms, grasping"


def test_a_paper_close_in_meaning_but_sharing_no_word_is_close_to_your_interests() -> None:
    pytest.importorskip("wordllama")
    papers = [Paper("Cinema", "Films shown on a big screen."), Paper("Zebra", "Stripes.")]
    ranking = rank(papers, Profile("movies"), model="embedding")
    assert ranking.scores[papers[0]] > 0
    assert ranking.reasons[papers[0]] == "close to your interests"


# -- real days -----------------------------------------------------------------------------------


def test_a_real_day_with_interests_a_like_and_a_dislike() -> None:
    papers = day("2026-08-21.json")
    liked = titled(day("2025-07-22.json"), "GR-3")
    disliked = titled(day("2025-12-10.json"), "DeepCode")
    profile = Profile("memory of language models, agents", ((liked, 1), (disliked, -1)))
    ranking = rank(papers, profile, model="lexical")
    top = [(p.title[:12], ranking.scores[p], ranking.reasons[p]) for p in ranking.order(papers)]
    assert top[:6] == [
        ("EXIMO: VLM G", 0.1464, "like: GR-3 Technical Report"),
        ("MemTrapBench", 0.0794, "matches: memory, language, models"),
        ("Repo0: Desig", 0.0756, "matches: agents, language, models"),
        ("FACET: Prese", 0.0547, "like: GR-3 Technical Report"),
        ("Listening Fo", 0.0486, "like: GR-3 Technical Report"),
        ("NARU: A Benc", 0.0412, "matches: memory, models"),
    ]


def test_a_real_day_ranked_by_the_linear_model_of_five_likes() -> None:
    papers = day("2026-08-21.json")
    earlier = day("2025-07-22.json") + day("2026-04-29.json")
    likes = [p for p in earlier if "agent" in p.title.lower()][:LINEAR_MIN]
    disliked = titled(day("2025-12-10.json"), "DeepCode")
    profile = Profile("", (*((p, 1) for p in likes), (disliked, -1)))
    ranking = rank(papers, profile, model="lexical")
    top = [(p.title[:12], ranking.scores[p], ranking.reasons[p]) for p in ranking.order(papers)]
    mixing = "like: Data Mixing Agent: Learning to Re-weight Domains for Continual Pre-training"
    world = "like: DV-World: Benchmarking Data Visualization Agents in Real-World Scenarios"
    assert top[:6] == [
        ("Listening Fo", 0.0308, mixing),
        ("EnvHarness: ", 0.0271, mixing),
        ("Repo0: Desig", 0.022, world),
        ("FACET: Prese", 0.02, world),
        ("PolicyGuide:", 0.0138, world),
        ("SkillEvo: Se", 0.012, "like: Recursive Multi-Agent Systems"),
    ]


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
    assert chosen.scores[ROBOT] == score == 0.861
    assert (ROBOT in chosen.low) is low and (ROBOT in chosen.full) is not low
    assert chosen.low[-1:] == (GRASP,) and chosen.more[-1:] == (GRASP,)  # scored 0


def test_auto_is_what_a_reader_without_likes_gets_by_default() -> None:
    pytest.importorskip("wordllama")
    assert choose() == "hybrid"


def test_a_paper_without_a_score_is_ranked_as_scoring_nothing_ties_in_their_order() -> None:
    ranking = Ranking({ROBOT: 0.5, GRASP: 0.0})
    assert ranking.order([BOTH, GRASP, ROBOT]) == [ROBOT, BOTH, GRASP]
    assert ranking.order([GRASP, BOTH]) == [GRASP, BOTH]


def test_no_papers_are_ranked_by_the_model_asked_for() -> None:
    assert rank([], Profile("robot"), model="lexical") == Ranking(model="lexical")
    assert rank([], Profile("robot"), model="embedding") == Ranking(model="embedding")


def test_a_like_of_zero_is_neither_a_like_nor_a_dislike() -> None:
    """0 is how the state forgets a like: the paper counts for nothing, as if never rated."""
    papers = [ROBOT, BOTH]
    plain = rank(papers, Profile("robot"), model="lexical")
    assert plain.scores[BOTH] > 0
    forgotten = rank(papers, Profile("robot", ((GRASP, 0),)), model="lexical")
    assert (forgotten.scores, forgotten.reasons) == (plain.scores, plain.reasons)


def test_a_score_is_at_most_one_however_much_interests_and_likes_add_up() -> None:
    ranking = rank([ROBOT, GRASP], Profile("robot", ((ROBOT, 1),)), model="lexical")
    # 0.861 for the interest, 1 for the like: capped.
    assert ranking.scores == {ROBOT: 1.0, GRASP: 0.0}


def test_without_interests_the_embedding_model_scores_nothing() -> None:
    ranking = rank([ROBOT, GRASP], Profile(), model="embedding")
    assert ranking.scores == {ROBOT: 0.0, GRASP: 0.0}


def test_hybrid_is_the_mean_of_the_lexical_and_the_embedding_scores() -> None:
    pytest.importorskip("wordllama")
    papers = [ROBOT, GRASP, Paper("Robotic hands", "Machines that pick up objects.")]
    lexical = rank(papers, Profile("robot"), model="lexical").scores
    embedded = rank(papers, Profile("robot"), model="embedding").scores
    hybrid = rank(papers, Profile("robot"), model="hybrid").scores
    assert abs(lexical[ROBOT] - embedded[ROBOT]) > 0.01  # the two differ: the mean tells
    for paper in papers:
        mean = (lexical[paper] + embedded[paper]) / 2
        assert hybrid[paper] == pytest.approx(mean, abs=1e-4), paper.title
