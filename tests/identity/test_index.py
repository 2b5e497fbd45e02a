"""The candidate index over a real store of each backend: candidates, decide, backlog ingest,
search and forget."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from digest import backlog, pipeline, state
from digest.errors import DigestError
from digest.identity.decide import identify
from digest.identity.index import (
    COMMON,
    candidates,
    forget,
    grams,
    named,
    paper_ids,
    search,
    title_grams,
)
from digest.identity.keys import keys
from digest.models import Paper
from digest.state.protocol import StateStore

TEXT = (
    "we study how noise behaves when networks grow very deep and find that a low overhead"
    " technique of adding it to the gradients makes training stable across many tasks and"
    " model sizes from convolutional to recurrent networks with no tuning at all"
)
WORDS = re.findall(r"\w+", TEXT)


def paper(n: int, title: str | None = None, abstract: str | None = None) -> Paper:
    """A distinct paper per number."""
    word = f"zorblax{n}"
    return Paper(
        title or f"Deep Networks with {word.capitalize()} Regularisation",
        " ".join(random.Random(n).sample(WORDS, len(WORDS))) if abstract is None else abstract,
        source="old.txt",
    )


@pytest.mark.slow
def test_candidates_find_a_retyped_paper_among_many(store: StateStore) -> None:
    papers = [paper(n) for n in range(300)]
    store.record([], [], [identify(p) for p in papers], seen=True)
    typo = Paper("Deep Netwroks with Zorblax17 Regularisation", "")
    revised = Paper("Something New", papers[42].abstract + " Code is out.")
    found = candidates(store, [grams(typo), grams(revised)])
    assert [c.title for c in found[0]][:1] == [papers[17].title]
    assert papers[42].title in [c.title for c in found[1]]
    # "deep networks" is in every title: too common to propose anything.
    assert len(papers) > COMMON
    assert candidates(store, [title_grams("deep networks")]) == [[]]
    assert len(candidates(store, [title_grams("zorblax17 regularisation")])[0]) == 1


def test_decide_against_the_store(store: StateStore) -> None:
    store.record([], [], [identify(p) for p in map(paper, range(50))], seen=True)
    listed = [
        Paper("deep networks with zorblax3 regularisation.", ""),  # re-typed, same title
        Paper("Deep Networks with Zorblax4 Regularizaton", ""),  # typo, no abstract
        Paper("Zorblax5 Makes Deep Nets Train", paper(5).abstract),  # re-titled
        Paper("Deep Networks with Zorblax6 Regularisation, Part II", ""),  # another paper
        paper(77),  # new
    ]
    decision = pipeline.decide(listed, store)
    assert [p.title for p in decision.new] == [listed[3].title, listed[4].title]
    assert [s.rule for s in decision.skipped] == [
        "same title",
        "similar title, no abstract to compare",
        "same abstract",
    ]
    assert [s.matched.id for s in decision.skipped if s.matched] == [4, 5, 6]
    assert all(s.matched and s.matched.first_dump == "old.txt" for s in decision.skipped)


def test_ingest_records_a_backlog_once(store: StateStore, seeds: list[Path]) -> None:
    calls: list[tuple[int, int]] = []
    first = backlog.ingest(seeds, store, progress=lambda f, p: calls.append((f, p)))
    again = backlog.ingest(seeds, store, batch=50)
    counts = store.counts()
    assert first.files == 5 and first.listed == 389 and not first.rejected
    assert first.recorded == 268 and first.known == 121  # repeats across the seed dumps
    assert again.recorded == 0 and again.known == 389
    assert calls[-1] == (5, 389)
    assert counts == {"papers_seen": 268, "papers_pending": 0, "dumps": 5}


def test_ingest_in_worker_processes_records_the_same(tmp_path: Path, seeds: list[Path]) -> None:
    with state.open(tmp_path / "one.db") as one, state.open(tmp_path / "two.db") as two:
        alone = backlog.ingest(seeds, one, workers=1)
        parallel = backlog.ingest([*seeds, tmp_path / "missing.txt"], two, workers=2)
        ids = range(1, 1000)
        rows = [(c.title, c.abstract, c.seen.first_dump) for c in one.stored(ids).values()]
        assert rows == [(c.title, c.abstract, c.seen.first_dump) for c in two.stored(ids).values()]
        stored = [*one.stored(ids).values(), *two.stored(ids).values()]
        filed = {g for c in stored for g in grams(Paper(c.title, c.abstract))}
        assert one.postings(filed, 1000) == two.postings(filed, 1000)
    assert (alone.recorded, alone.known) == (parallel.recorded, parallel.known) == (268, 121)
    assert [r.file for r in parallel.rejected] == ["missing.txt"]


def test_ingest_names_unreadable_files(tmp_path: Path, store: StateStore) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"")
    result = backlog.ingest([bad, tmp_path / "missing.txt"], store)
    assert [(r.file, r.reason) for r in result.rejected] == [
        ("bad.txt", "file is empty"),
        ("missing.txt", "cannot read: No such file or directory"),
    ]


def test_search_and_forget(store: StateStore) -> None:
    papers = [paper(n) for n in range(5)] + [Paper("Adding Gradient Noise", "")]
    store.record([], [], [identify(p) for p in papers], seen=True)
    hits = search(store, "gradient noise")
    assert hits[0][0].title == "Adding Gradient Noise" and hits[0][1] >= 90
    assert search(store, "gradiant nosie")[0][0].title == "Adding Gradient Noise"
    assert search(store, "   ") == []
    forgotten = forget(store, [hits[0][0].seen.id, 999])
    assert [c.title for c in forgotten] == ["Adding Gradient Noise"]
    assert search(store, "gradient noise") == []
    assert not store.lookup(keys(papers[-1]))
    every = {g for p in papers for g in grams(p)}
    left = sum(len(ids) for ids in store.postings(every, 1000).values())
    assert left == sum(len(grams(p)) for p in papers[:5])


def test_named_papers_are_ids_or_one_whole_title(store: StateStore) -> None:
    """`digest forget`: numbers are paper ids; words are a title matched whole, typos forgiven,
    so that a few words of it do not take every paper that shares them."""
    long = Paper("Adding Gradient Noise Improves Learning for Very Deep Networks", TEXT)
    short = Paper("Adding Gradient Noise", "Another abstract altogether, of another paper.")
    store.record([], [], [identify(p) for p in [*map(paper, range(20)), long, short]], seen=True)
    ids = {c.title: c.seen.id for c, _ in search(store, "adding gradient noise", 10)}
    assert named(store, ["12", "7"]) == [12, 7]  # as given: forget keeps those that are there
    typo = "adding gradient noise improves learning for very deep netwroks"
    assert named(store, typo.split()) == [ids[long.title]]
    assert named(store, ["adding", "gradient", "noise"]) == [ids[short.title]]
    assert named(store, ["Adding Gradient Noise Improves"]) == []  # neither, whole
    loose = named(store, ["Adding Gradient Noise Improves"], min_score=60)
    assert sorted(loose) == sorted([ids[short.title], ids[long.title]])


def test_paper_ids_are_stored_ids_or_arxiv_ids(store: StateStore) -> None:
    """`digest like`: a paper id of the catalogue, or an arXiv id in any spelling; the first that
    names no stored paper is named in the error."""
    arxiv = Paper("A Paper Listed With Its Id", TEXT, arxiv_id="2503.24322")
    store.record([], [], [identify(arxiv), identify(paper(1))], seen=True)
    first = store.lookup(keys(arxiv))
    (by_arxiv,) = {s.id for s in first.values()}
    (other,) = {s.id for s in store.lookup(keys(paper(1))).values()}
    given = [str(other), "arXiv:2503.24322v2", "https://arxiv.org/abs/2503.24322"]
    assert paper_ids(store, given) == [other, by_arxiv, by_arxiv]
    for wrong in ("999999", "2501.00001", "no such thing"):
        with pytest.raises(DigestError) as caught:
            paper_ids(store, [str(other), wrong])
        assert str(caught.value) == (
            f"no paper seen before has the id {wrong!r}; see `digest seen`"
        )


def test_identity_asks_the_stored_papers_of_a_protocol_of_its_own_not_of_the_state() -> None:
    """The identity package is core: it imports nothing of the state (even for its types),
    so that the state may use it without a cycle."""
    import ast

    folder = Path(__file__).resolve().parent.parent.parent / "digest" / "identity"
    imported = {
        f"{path.name}: {node.module}"
        for path in folder.glob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("digest.state")
    }
    assert imported == set()
