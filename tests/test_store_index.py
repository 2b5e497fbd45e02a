"""The store's identity index: candidates, backlog ingest, search, forget, and the migration."""

from __future__ import annotations

import random
import re
import sqlite3
from pathlib import Path

from digest import match, pipeline
from digest.models import Paper
from digest.store import COMMON, Store, _m001_initial

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


def test_candidates_find_a_retyped_paper_among_many(tmp_path: Path) -> None:
    papers = [paper(n) for n in range(300)]
    with Store.open(tmp_path / "s.db") as store:
        store.record_seen([], [(p, match.keys(p), match.grams(p)) for p in papers])
        typo = Paper("Deep Netwroks with Zorblax17 Regularisation", "")
        revised = Paper("Something New", papers[42].abstract + " Code is out.")
        found = store.candidates([match.grams(typo), match.grams(revised)])
        assert [c.title for c in found[0]][:1] == [papers[17].title]
        assert papers[42].title in [c.title for c in found[1]]
        # "deep networks" is in every title: too common to propose anything.
        assert len(papers) > COMMON
        assert store.candidates([match.title_grams("deep networks")]) == [[]]
        assert len(store.candidates([match.title_grams("zorblax17 regularisation")])[0]) == 1


def test_decide_against_the_store(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as store:
        store.record_seen([], [(p, match.keys(p), match.grams(p)) for p in map(paper, range(50))])
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


def test_ingest_records_a_backlog_once(tmp_path: Path, seeds: list[Path]) -> None:
    calls: list[tuple[int, int]] = []
    with Store.open(tmp_path / "s.db") as store:
        first = pipeline.ingest(seeds, store, progress=lambda f, p: calls.append((f, p)))
        again = pipeline.ingest(seeds, store, batch=50)
        counts = store.counts()
    assert first.files == 5 and first.listed == 389 and not first.rejected
    assert first.recorded == 268 and first.known == 121  # repeats across the seed dumps
    assert again.recorded == 0 and again.known == 389
    assert calls[-1] == (5, 389)
    assert counts == {"papers_seen": 268, "papers_pending": 0, "dumps": 5}


def test_ingest_in_worker_processes_records_the_same(tmp_path: Path, seeds: list[Path]) -> None:
    with Store.open(tmp_path / "one.db") as one, Store.open(tmp_path / "two.db") as two:
        alone = pipeline.ingest(seeds, one, workers=1)
        parallel = pipeline.ingest([*seeds, tmp_path / "missing.txt"], two, workers=2)
        rows = "SELECT title, abstract, first_dump FROM papers ORDER BY id"
        assert one.db.execute(rows).fetchall() == two.db.execute(rows).fetchall()
        grams = "SELECT * FROM paper_grams ORDER BY 1, 2"
        assert one.db.execute(grams).fetchall() == two.db.execute(grams).fetchall()
    assert (alone.recorded, alone.known) == (parallel.recorded, parallel.known) == (268, 121)
    assert [r.file for r in parallel.rejected] == ["missing.txt"]


def test_ingest_names_unreadable_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"")
    with Store.open(tmp_path / "s.db") as store:
        result = pipeline.ingest([bad, tmp_path / "missing.txt"], store)
    assert [(r.file, r.reason) for r in result.rejected] == [
        ("bad.txt", "file is empty"),
        ("missing.txt", "cannot read: No such file or directory"),
    ]


def test_search_and_forget(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as store:
        papers = [paper(n) for n in range(5)] + [Paper("Adding Gradient Noise", "")]
        store.record_seen([], [(p, match.keys(p), match.grams(p)) for p in papers])
        hits = store.search("gradient noise")
        assert hits[0][0].title == "Adding Gradient Noise" and hits[0][1] >= 90
        assert store.search("gradiant nosie")[0][0].title == "Adding Gradient Noise"
        assert store.search("   ") == []
        forgotten = store.forget([hits[0][0].seen.id, 999])
        assert [c.title for c in forgotten] == ["Adding Gradient Noise"]
        assert store.search("gradient noise") == []
        assert not store.lookup(match.keys(papers[-1]))
        left = store.db.execute("SELECT count(*) FROM paper_grams").fetchone()[0]
        assert left == sum(len(match.grams(p)) for p in papers[:5])


def test_a_store_from_before_the_index_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
    _m001_initial(db)
    db.execute("INSERT INTO migrations VALUES ('_m001_initial', '2026-01-01')")
    old = paper(1)
    db.execute(
        "INSERT INTO papers (id, title, abstract, first_dump, first_seen, seen)"
        " VALUES (1, ?, ?, 'old.txt', '2026-01-01T00:00:00+00:00', 1)",
        (old.title, old.abstract),
    )
    db.execute("INSERT INTO paper_keys VALUES (?, 1)", ("t:" + old.title.lower(),))
    db.close()
    with Store.open(path) as store:
        assert set(store.lookup(match.keys(old))) == set(match.keys(old))
        retitled = Paper("A New Title", old.abstract)
        assert pipeline.decide([retitled], store).skipped[0].rule == "same abstract"
