"""Identity by its values: the fuzzy rule's verdicts at its edges (a slip or another word, a
sequel at the title threshold, the score reported below the cut-off), the decision's choice
among several alike papers, and the candidate index's entries, which a state file keeps and
so must never change from one release to the next."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from digest.identity.decide import Decision, decide, enrich, identify
from digest.identity.index import (
    COMMON,
    _powers,
    _rank,
    abstract_grams,
    best_shared,
    candidates,
    grams,
    title_grams,
    word_hashes,
)
from digest.identity.keys import Identity, _greek, keys, normalise, normalise_all
from digest.identity.rule import Verdict, compare, meaningful_difference
from digest.models import Paper, SeenPaper, Skip, StoredPaper, Thresholds
from digest.state.protocol import StateStore
from tests.identity.test_decide import A, T

WHEN = datetime(2026, 3, 1, tzinfo=UTC)

# -- the fuzzy rule -------------------------------------------------------------------------

# Two titles that differ in one word: a slip of the same word, or another word. One slip is
# forgiven in a word of five letters or more, two in one of eight or more when one at most
# replaces a letter by another (the other swaps, drops or doubles letters): two letters
# replaced make another word as often as not ("Tracking" / "Training").
WORDS = [
    ("robust grasp planning", "robust grsap planning", False),  # five letters, swapped
    ("robust grasp planning", "robust grap planning", True),  # four left: too short
    ("large language models", "large lnaugage models", False),  # eight, swapped twice
    ("large language models", "large lanuage modls", False),  # one dropped in each word
    ("sparse representations", "sparse reprsentatins", False),  # two dropped
    ("robust visual tracking", "robust visual training", True),  # two replaced
    ("image segmentation", "image augmentation", True),
    ("anomaly detection in logs", "anomaly deduction in logs", True),
    ("sparse regularisation", "sparse regularizaton", False),  # one replaced, one dropped
    ("scaling llama3", "scaling llamas", True),  # a token with a digit is never a slip
    ("chapter xviii", "chapter xviiy", True),  # nor is a roman numeral
    # The word a typo stands for is its nearest, not the first of the others in order.
    ("robust segmentation of scenes", "a robust segmentaton of scenes", False),
]


@pytest.mark.parametrize(("a", "b", "meaningful"), WORDS)
def test_a_slip_is_forgiven_another_word_is_not(a: str, b: str, meaningful: bool) -> None:
    assert meaningful_difference(a, b) is meaningful
    assert meaningful_difference(b, a) is meaningful


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Robust Visual Tracking with Transformers", "Robust Visual Training with Transformers"),
        ("Data Segmentation for Diffusion Models", "Data Augmentation for Diffusion Models"),
        ("Anomaly Detection in System Logs", "Anomaly Deduction in System Logs"),
    ],
)
def test_two_papers_whose_titles_differ_in_two_letters_of_a_word_stay_two(a: str, b: str) -> None:
    """Listed without abstracts, only the titles can tell: both papers are shown."""
    found = decide([Paper(a, ""), Paper(b, "")], {})
    assert [p.title for p in found.new] == [a, b]


TITLE = "sparse mixture of expert2"  # 25 characters: "expert3" scores 96
SEQUEL = "sparse mixture of expert3"
ABSTRACT = "We " + "x" * 94 + " it."  # 100 characters once normalised
RELISTED = ABSTRACT.replace("x", "y", 1)  # scores 99
REVISED = ABSTRACT.replace("x" * 10, "y" * 10, 1)  # scores 90


def test_a_sequel_at_exactly_the_title_threshold_is_another_paper() -> None:
    old, new = Identity.of(TITLE, ABSTRACT), Identity.of(SEQUEL, RELISTED)
    assert compare(new, old, Thresholds(title=96)) == Verdict(False, "different abstract", 99)
    assert compare(new, old, Thresholds(title=97)) == Verdict(True, "similar abstract", 99, True)


def test_a_different_abstract_scores_nothing_below_its_cut_off() -> None:
    """The abstracts score 90: under 95 (a re-titled paper) they are cut off at once."""
    old, new = Identity.of(TITLE, ABSTRACT), Identity.of("dense routers", REVISED)
    assert compare(new, old, Thresholds()) == Verdict(False, "different abstract", 0)
    assert compare(new, old, Thresholds(abstract=90)) == Verdict(True, "similar abstract", 90, True)


def test_a_different_title_with_no_abstract_says_how_alike_the_titles_are() -> None:
    verdict = compare(Identity.of("dense routers", ""), Identity.of(TITLE, ""), Thresholds())
    assert verdict == Verdict(False, "different title", verdict.score)
    assert verdict.same is False and 0 < verdict.score < 92


# -- the decision ---------------------------------------------------------------------------


def stored(n: int, paper: Paper) -> StoredPaper:
    ids = tuple(k[2:] for k in keys(paper) if k.startswith("x:"))
    return StoredPaper(
        SeenPaper(n, paper.title, WHEN, f"{n}.txt", ids), paper.title, paper.abstract
    )


def test_a_candidate_with_another_arxiv_id_does_not_hide_the_one_that_matches() -> None:
    listed = Paper(T + ".", A.replace("many", "several"), arxiv_id="2401.00003")
    other = stored(1, Paper(T, A, arxiv_id="2401.00002"))  # another paper: its id says so
    same = stored(2, Paper(T, A))  # the one listed, recorded from a text dump without an id
    found = decide([listed], {}, [[other, same]])
    assert found.new == ()
    [skip] = found.skipped
    assert (skip.matched, skip.rule, skip.revised) == (same.seen, "similar abstract", True)


def test_of_equally_alike_candidates_the_first_proposed_is_the_one_matched() -> None:
    listed = Paper(T + ".", A)
    first, second = stored(1, Paper(T, A)), stored(2, Paper(T + "!", A))
    [skip] = decide([listed], {}, [[first, second]]).skipped
    assert skip.matched == first.seen
    [skip] = decide([listed], {}, [[second, first]]).skipped
    assert skip.matched == second.seen


def test_a_repeat_in_a_run_is_matched_with_the_first_of_equally_alike_papers() -> None:
    """Three listings of one paper in one run, the third as alike to either earlier one:
    the first is shown, the others repeat it, each exactly explained."""
    one = Paper(T, A, source="a.txt")
    two = Paper(T + " (extended)", A.replace("many", "several"), source="b.txt")
    three = Paper(T + " (revised)", A.replace("many", "some"), source="c.txt")
    found = decide([one, two, three], {})
    assert found.new == (one,)
    score = compare(identify(two).identity, identify(one).identity, Thresholds()).score
    rule = "repeated in this run: similar abstract"
    assert found.skipped[0] == Skip(two, None, rule, score, revised=True, repeats=one)
    assert found.skipped[1].repeats == one


def test_a_repeat_in_a_run_as_alike_to_two_papers_repeats_the_first_listed() -> None:
    """Two papers of one title and abstract, told apart by their arXiv ids, then a listing
    of it without an id, a little changed: it repeats the first."""
    one = Paper(T, A, source="a.json", arxiv_id="2401.00001")
    two = Paper(T, A, source="a.json", arxiv_id="2401.00002")
    again = Paper(T.replace("Networks", "Nets"), A.replace("many", "several"), source="b.txt")
    found = decide([one, two, again], {})
    assert found.new == (one, two)
    [skip] = found.skipped
    assert (skip.repeats, skip.rule) == (one, "repeated in this run: similar abstract")


def test_a_repeat_in_a_run_with_another_arxiv_id_does_not_hide_the_one_it_repeats() -> None:
    """Listed third, a paper has as candidates in its run another paper of its title (another
    arXiv id: another paper) and, after it, the paper it repeats (no id, its abstract)."""
    other = Paper(T, "", source="a.json", arxiv_id="2401.00009")
    first = Paper("Gradient noise for training", A, source="b.txt")
    listed = Paper(T, A.replace("many", "several"), source="c.json", arxiv_id="2401.00008")
    found = decide([other, first, listed], {})
    assert found.new == (other, first)
    [skip] = found.skipped
    assert (skip.repeats, skip.rule) == (first, "repeated in this run: similar abstract")


def test_each_paper_is_identified_once_and_carried() -> None:
    papers = [Paper(T, A), Paper("Another paper", "")]
    given = [identify(p) for p in papers]
    found = decide(given, {}, [[]])  # fewer candidate lists than papers: none for the rest
    assert [p.title for p in found.new] == [T, "Another paper"]
    for item in given:
        assert found.of(item.paper) is item
        assert found.identified[item.paper] is item
    unknown = Paper("A paper of no run", "")
    assert Decision((), ()).of(unknown) == identify(unknown)


def test_a_paper_takes_what_a_later_repeat_knows_past_repeats_of_nothing() -> None:
    shown = Paper(T, A, source="a.txt")
    unrelated = Paper("Something else entirely", "", page_url="https://example.org/1")
    repeat = Paper(T, A, "b.json", page_url="https://example.org/2", authors=("A. Author",))
    [made] = enrich([shown], [unrelated, repeat])
    assert (made.page_url, made.authors, made.source) == (
        "https://example.org/2",
        ("A. Author",),
        "a.txt",
    )


# -- the candidate index: its entries never change --------------------------------------------


DEEP_NETWORKS = [17945143626488084072, 17018201322957685101]  # the words' hashes


def test_a_paper_s_entries_are_those_its_state_file_holds() -> None:
    """Stable hashes (title word pairs and words, an abstract's sketch), pinned: a release
    that filed a paper elsewhere would no longer find the papers its state file holds."""
    assert grams(Paper(T, A)) == (
        # The title's pairs of words.
        -7756961501787998792,
        -3156541704280064173,
        3011889933324875117,
        1985275196722746706,
        1516010233821879606,
        -7538945448191034124,
        3344326722294415539,
        # The abstract's six smallest shingles.
        38755485084865100,
        123780709706171576,
        575639777419359423,
        1248966574160803463,
        2164591716934765632,
        2320851731808058354,
    )
    assert title_grams("deep networks") == [
        -3156541704280064173,
        982777035732771810,
        -1244518969557926364,
    ]
    # An abstract of 100 characters has its sketch (of one shingle, here); one of 99 none.
    assert len(normalise(ABSTRACT)) == 100
    assert abstract_grams(normalise(ABSTRACT)) == [3397594358620411546]
    assert abstract_grams(normalise(ABSTRACT)[:-1]) == []


FEW = list(range(100, 110))  # ten papers under one entry: rare, each counts two
MANY = list(range(200, 211))  # eleven: common, each counts one


@pytest.mark.parametrize(
    ("postings", "chosen"),
    [
        ([[1]], [1]),  # one rare entry is enough
        ([FEW], FEW),
        ([MANY], []),  # one common entry is not
        ([MANY, [*MANY[:2], *range(7, 16)]], MANY[:2]),
        # Ties keep the order met; a rare entry counts two, no more.
        ([[5, *MANY[1:]], [5, *MANY[1:]], [6]], [5, *MANY[1:], 6]),
        # At most twenty candidates, the most shared first.
        ([[n] for n in range(25)], list(range(20))),
    ],
)
def test_the_candidates_are_those_sharing_the_most_evidence(
    postings: list[list[int]], chosen: list[int]
) -> None:
    assert best_shared(postings) == chosen


def test_greek_letters_are_spelt_by_their_names() -> None:
    table = _greek()
    assert [table[ord(c)] for c in "αΑμΣσςωϙΪ"] == [
        " alpha ",
        " alpha ",
        " mu ",
        " sigma ",
        " sigma ",
        " sigma ",  # the final form of sigma is sigma all the same
        " omega ",
        " koppa ",  # archaic koppa
        " iota ",  # iota with dialytika
    ]
    assert len(table) == 70 and all(v.strip().isalpha() for v in table.values())
    assert normalise("ς-VAE") == normalise("σ-VAE") == "sigma vae"


def test_text_of_punctuation_alone_keeps_its_characters_and_spaces() -> None:
    assert normalise("?? !!") == "?? !!"
    assert normalise_all(["?? !!", "Deep   networks"]) == ["?? !!", "deep networks"]
    assert normalise("¿? ¡!") == "¿? ¡!"


def test_a_short_title_is_filed_under_its_words_too_a_longer_one_only_its_pairs() -> None:
    two = title_grams("deep networks")  # one pair: the words too
    assert len(two) == 3
    four = title_grams("adding gradient noise improves")  # three pairs: enough
    assert len(four) == 3
    three = title_grams("adding gradient noise")  # two pairs: the words too
    assert len(three) == 5
    assert title_grams("the deep networks") == two  # small words left out


@pytest.mark.parametrize(("filed", "proposed"), [(100, 20), (101, 0)])
def test_an_entry_more_than_a_hundred_papers_share_proposes_none(
    store: StateStore, filed: int, proposed: int
) -> None:
    """Every paper is filed under "alpha beta" and "beta gamma": common entries, one point
    each, two together enough; shared by more than COMMON papers, they say nothing."""
    assert COMMON == 100
    listed = [identify(Paper(f"Alpha beta gamma {n}", "", "d.txt")) for n in range(filed)]
    store.record([], [], listed, seen=True)
    asked = title_grams("alpha beta gamma")
    [found] = candidates(store, [asked])
    assert len(found) == proposed


def test_the_papers_found_by_exact_keys_are_candidates_whatever_they_share(
    store: StateStore,
) -> None:
    store.record([], [], [identify(Paper(T, A, "d.txt"))], seen=True)
    [paper_id] = {seen.id for seen in store.lookup(keys(Paper(T, A))).values()}
    unrelated = title_grams("nothing in common")
    assert candidates(store, [unrelated]) == [[]]
    [found] = candidates(store, [unrelated], [[paper_id]])
    assert [c.title for c in found] == [T]


def test_word_hashes_read_powers_grown_on_demand_and_the_same_ever() -> None:
    """The powers a word's hash is read with are grown when a longer text needs more: to at
    least its length, and always the same values (the hashes a state file holds)."""
    have = len(_powers(1)[0])
    text = " ".join(["deep networks"] * (have // 6 + 1))  # more than twice as long as `have`
    hashes = word_hashes(text).tolist()
    assert len(hashes) == len(text.split()) and len(set(hashes)) == 2
    assert hashes[:2] == word_hashes("deep networks").tolist() == DEEP_NETWORKS
    power, inverse = _powers(1)
    assert len(power) >= len(text) + 1 and len(inverse) == len(power)
    mod = 1 << 64
    for i in (0, 1, 2, 1000, len(text)):
        assert int(power[i]) == pow(0x100000001B3, i, mod), i
        assert int(power[i]) * int(inverse[i]) % mod == 1, i


def test_a_search_of_many_titles_finds_mistyped_ones_as_among_few_best_first() -> None:
    many = {n: f"Paper number {n} about learning things" for n in range(2001)}
    many[5000] = "Fentrixigran Networks for Vision"
    many[5001] = "Fentrixigran Models"
    few = {n: many[n] for n in (0, 1, 5000, 5001)}
    for titles in (many, few):
        hits = [
            (key, round(score, 2)) for _, score, key in _rank("fentrixgran networks", titles, 3)
        ]
        assert hits == [(5000, 97.83), (5001, 62.83)]
        # The longest word of the query, not the last in order, makes the first cut.
        hits = [(k, round(score, 2)) for _, score, k in _rank("zebra fentrixgran", titles, 3)]
        assert hits == [(5000, 65.47), (5001, 65.47)]
