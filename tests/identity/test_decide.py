"""Two different arXiv ids are two papers, whatever their titles and abstracts say.

Real listings give a paper and its sequel (WebSailor and WebSailor-V2) or two papers of one
group (OPV and its sibling) nearly the same abstract. When both sides carry an arXiv id, the
ids decide; likeness decides only when one side has none.
"""

from __future__ import annotations

import copy
import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.identity.decide import decide, enrich
from digest.identity.keys import keys
from digest.identity.rule import distinct_ids
from digest.models import Paper, SeenPaper, StoredPaper
from tests.processes import clean_env, digest_now

REAL = Path(__file__).parent.parent / "fixtures" / "real" / "2025-12-10.json"
WHEN = datetime(2026, 3, 1, tzinfo=UTC)


def _real_item() -> dict[str, object]:
    items = json.loads(REAL.read_text(encoding="utf-8"))
    item: dict[str, object] = items[0]
    return item


def _sequel(item: dict[str, object], arxiv_id: str) -> dict[str, object]:
    """The item re-listed as another paper: a new id, a new title, an abstract with a few
    words changed (as a sequel's is)."""
    sequel = copy.deepcopy(item)
    paper = sequel["paper"]
    assert isinstance(paper, dict)
    paper["id"] = arxiv_id
    paper["title"] = sequel["title"] = str(paper["title"]).replace("Wan-Move", "Wan-Move-V2")
    summary = str(paper["summary"]).replace("simple and scalable", "simple, scalable")
    paper["summary"] = sequel["summary"] = summary
    return sequel


def _paper(item: dict[str, object], source: str = "") -> Paper:
    paper = item["paper"]
    assert isinstance(paper, dict)
    return Paper(paper["title"], paper["summary"], source=source, arxiv_id=paper["id"])


def _judge(old: Paper, new: Paper) -> list[Paper]:
    """The papers of `new` found new against a store holding only `old`."""
    ids = tuple(k[2:] for k in keys(old) if k.startswith("x:"))
    stored = SeenPaper(1, old.title, WHEN, "old.json", ids)
    seen = {key: stored for key in keys(old)}
    return list(decide([new], seen, [[StoredPaper(stored, old.title, old.abstract)]]).new)


T = "Adding Gradient Noise Improves Learning for Very Deep Networks"
A = (
    "Deep feedforward and recurrent networks have achieved impressive results in many"
    " perception and language processing applications. In this paper, we discuss a"
    " low-overhead technique of adding gradient noise which we find to be surprisingly"
    " effective when training these very deep architectures."
)


@pytest.mark.parametrize(
    ("case", "old", "new", "is_new"),
    [
        (
            "same title and abstract, two ids",
            Paper(T, A, arxiv_id="2401.00001"),
            Paper(T, A, arxiv_id="2401.00002"),
            True,
        ),
        (
            "same title, no abstracts, two ids",
            Paper(T, "", arxiv_id="2401.00001"),
            Paper(T, "", arxiv_id="2401.00002"),
            True,
        ),
        (
            "same abstract, other title, two ids",
            Paper("Other", A, arxiv_id="2401.00001"),
            Paper(T, A, arxiv_id="2401.00002"),
            True,
        ),
        (
            "one id, two versions",
            Paper("Other", "", arxiv_id="2401.00001v1"),
            Paper(T, A, arxiv_id="arXiv:2401.00001v2"),
            False,
        ),
        (
            "stored without id: likeness decides",
            Paper(T, A),
            Paper(T, A, arxiv_id="2401.00002"),
            False,
        ),
        (
            "listed without id: likeness decides",
            Paper(T, A, arxiv_id="2401.00001"),
            Paper(T + ".", A),
            False,
        ),
    ],
)
def test_ids_decide_when_both_sides_have_one(
    case: str, old: Paper, new: Paper, is_new: bool
) -> None:
    assert bool(_judge(old, new)) is is_new, case


def test_distinct_ids_is_about_ids_only() -> None:
    assert distinct_ids(Paper("a", "", arxiv_id="2401.00001"), ["2401.00002"])
    assert not distinct_ids(Paper("a", "", arxiv_id="2401.00001v3"), ["2401.00001"])
    assert not distinct_ids(Paper("a", "", arxiv_id="2401.00001"), ["2401.00002", "2401.00001"])
    assert not distinct_ids(Paper("a", ""), ["2401.00002"])
    assert not distinct_ids(Paper("a", "", arxiv_id="2401.00001"), [None])


def test_a_sequel_with_nearly_the_same_abstract_is_its_own_paper() -> None:
    item = _real_item()
    first, sequel = _paper(item), _paper(_sequel(item, "2512.99991"))
    # The likeness rule alone would take one for the other under one title.
    assert not _judge(Paper(first.title, first.abstract), Paper(first.title, sequel.abstract))
    assert _judge(first, sequel) == [sequel]
    # Within one run too, in either order.
    assert decide([first, sequel], {}).new == (first, sequel)
    assert decide([sequel, first], {}).new == (sequel, first)


def _now(inbox: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        digest_now(
            inbox, tmp_path / "state.sqlite3", "--deliver", "stdout", "--format", "json", *args
        ),
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=60,
        check=False,
    )


@pytest.mark.slow
def test_sequels_are_delivered_across_days_and_within_a_day(inbox: Path, tmp_path: Path) -> None:
    items = json.loads(REAL.read_text(encoding="utf-8"))
    (inbox / "2025-12-10.json").write_text(json.dumps(items), encoding="utf-8")
    first = _now(inbox, tmp_path)
    assert first.returncode == 0, first.stderr
    assert len(json.loads(first.stdout)["papers"]) == len(items)

    # The next day lists a sequel of a paper shown yesterday, and two siblings of one group
    # (nearly the same abstract) side by side.
    day = [
        _sequel(items[0], "2512.99991"),
        _sequel(items[1], "2512.99993"),
        _sequel(items[1], "2512.99992"),
    ]
    (inbox / "2025-12-11.json").write_text(json.dumps(day), encoding="utf-8")
    second = _now(inbox, tmp_path, "--explain")
    assert second.returncode == 0, second.stderr
    shown = [p["arxiv_id"] for p in json.loads(second.stdout)["papers"]]
    assert shown == ["2512.99991", "2512.99993", "2512.99992"]

    # Merging still happens for the same id, and the explanation names both ids.
    again = copy.deepcopy(items[2])
    again["paper"]["id"] = again["paper"]["id"] + "v2"
    (inbox / "2025-12-12.json").write_text(json.dumps([again]), encoding="utf-8")
    third = _now(inbox, tmp_path, "--explain")
    assert third.returncode == 0, third.stderr
    arxiv_id = items[2]["paper"]["id"]
    assert third.stderr.count(f"[arXiv {arxiv_id}]") == 2  # the listed paper's and the stored
    assert "rule: same arXiv id" in third.stderr
    assert json.loads(third.stdout)["papers"] == []


def _stored(id_: int, title: str, abstract: str) -> StoredPaper:
    return StoredPaper(SeenPaper(id_, title, WHEN, "old.txt"), title, abstract)


# A real abstract, and two revisions of it a step apart.
REAL_ABSTRACT = " ".join(
    json.loads(REAL.read_text(encoding="utf-8"))[0]["paper"]["summary"].split()
)


def test_a_paper_like_two_stored_papers_is_the_one_it_is_most_like() -> None:
    step = REAL_ABSTRACT.replace("simple and scalable", "simple, scalable", 1)
    further = step.replace("Wan-Move", "WanMove")
    assert step != REAL_ABSTRACT and further != step
    listed = Paper("A Title Of Its Own", step)
    stored = [_stored(2, "Another Title", further), _stored(1, "Some Title", REAL_ABSTRACT)]
    for candidates in (stored, stored[::-1]):
        (skip,) = decide([listed], {}, [candidates]).skipped
        scores = {c.seen.id: compare_abstracts(step, c.abstract) for c in candidates}
        best = max(scores, key=lambda i: scores[i])
        assert skip.matched is not None and skip.matched.id == best
        assert skip.score == scores[best] and skip.rule == "similar abstract"


def compare_abstracts(a: str, b: str) -> float:
    from rapidfuzz import fuzz

    from digest.identity.keys import normalise

    return fuzz.ratio(normalise(a), normalise(b))


def test_whether_an_exact_match_was_revised_is_told_by_that_paper_alone() -> None:
    """The store proposes other candidates beside the paper an exact key found; only that
    paper's abstract says whether the listing revised it."""
    listed = Paper("Wan Move", REAL_ABSTRACT)
    matched = _stored(1, "Wan Move", REAL_ABSTRACT)
    other = _stored(2, "Something Else", REAL_ABSTRACT.replace("simple", "plain"))
    seen = {key: matched.seen for key in keys(listed)}
    for candidates in ([other, matched], [matched, other]):
        (skip,) = decide([listed], seen, [candidates]).skipped
        assert (skip.matched, skip.rule, skip.revised) == (matched.seen, "same title", False)
    revised = Paper("Wan Move", REAL_ABSTRACT.replace("simple", "plain"))
    (skip,) = decide([revised], seen, [[other, matched]]).skipped
    assert (skip.matched, skip.rule, skip.revised) == (matched.seen, "same title", True)


def test_a_repeat_within_a_run_says_whether_its_abstract_differs() -> None:
    first = Paper("Wan Move", REAL_ABSTRACT, source="a.txt")
    for again, rule in (
        (
            Paper("Wan Move", REAL_ABSTRACT.replace("simple", "plain"), source="b.txt"),
            "repeated in this run",
        ),
        (
            Paper("Wan Moves Motion", REAL_ABSTRACT.replace("simple", "plain"), source="b.txt"),
            "repeated in this run: similar abstract",
        ),
    ):
        decision = decide([first, again], {})
        (skip,) = decision.skipped
        assert (skip.rule, skip.revised, skip.repeats) == (rule, True, first)
        assert decision.updated == ()  # nothing stored was revised
    (skip,) = decide([first, Paper("Wan Move", REAL_ABSTRACT + " ")], {}).skipped
    assert skip.revised is False


def test_a_paper_shown_once_takes_what_its_repeats_know() -> None:
    text = Paper("Wan Move", REAL_ABSTRACT, source="day.txt")
    rich = Paper(
        "Wan-Move", "", source="day.json", arxiv_id="2512.08765", authors=("A. Author",), upvotes=3
    )
    other = Paper("Other", "", source="day.json", arxiv_id="2512.00001", upvotes=9)
    (shown,) = enrich([text], [rich, other])
    # Its own title, abstract and source kept; the id, authors and upvotes of its repeat.
    assert (shown.title, shown.abstract, shown.source) == ("Wan Move", REAL_ABSTRACT, "day.txt")
    assert (shown.arxiv_id, shown.authors, shown.upvotes) == ("2512.08765", ("A. Author",), 3)
